"""Exercises of 05_cats_vs_dogs.ipynb: the notebook's own solutions pass their checks (run
through the notebook's own check cells), each typical wrong answer gets its specific message,
and an untouched task is "not attempted"."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics

from cnnlib import exercises
from cnnlib.exercises import nb05
from tests.exercise_harness import exercise_cells as harness_exercise_cells, notebook_cells, outcome, source, wrong

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "05_cats_vs_dogs.ipynb"
IDS = ["05.1", "05.2", "05.3", "05.4", "05.5"]


def cells():
    return notebook_cells(NOTEBOOK)


def exercise_cells(id):
    """The prompt, task, solution and check cells of exercise ``id``, in notebook order (05.3's
    prompt is followed by one lesson cell that loads the softmax head's weights)."""
    cells = harness_exercise_cells(NOTEBOOK, id, between=1 if id == "05.3" else 0)
    if id == "05.3":
        setup = notebook_cells(NOTEBOOK)[notebook_cells(NOTEBOOK).index(cells[0]) + 1]
        assert "head_kernel, head_bias = " in source(setup)
    return cells


def _with_setup(cs, start):
    # 05.3's prompt is followed by one lesson cell that loads the softmax head's weights
    prompt, setup, task, sol, chk = cs[start:start + 5]
    assert "head_kernel, head_bias = " in source(setup)
    return prompt, task, sol, chk


RNG = np.random.default_rng(0)
Y_VA = RNG.integers(0, 2, 400)
P_VA = 1 / (1 + np.exp(-(2.0 * (Y_VA - 0.5) + RNG.normal(0, 1, 400))))     # informative, not perfect
HEAD_KERNEL = RNG.normal(0, 0.1, (128, 2)).astype("float32")
HEAD_BIAS = np.array([0.05, -0.02], "float32")


def context_namespace() -> dict:
    """What the notebook's exercise cells read, with synthetic data of the right shapes."""
    return {"np": np, "metrics": metrics, "exercises": exercises, "CLASS_NAMES": ("cat", "dog"),
            "head_kernel": HEAD_KERNEL, "head_bias": HEAD_BIAS, "y_va": Y_VA, "p_net_va": P_VA,
            "TARGET_PRECISION": 0.9}


# --------------------------------------------------------------------------- the notebook's own cells (structure: tests/test_exercises.py)
@pytest.mark.parametrize("id", IDS)
def test_notebook_solution_passes_the_notebook_check_cell(id):
    ns = context_namespace()
    _, _, sol, chk = exercise_cells(id)
    exec(source(sol), ns)
    exec(source(chk), ns)
    out = exercises.results[id]
    assert out.status == "correct", out.message
    assert "correct." in out.message and len(out.message) > 60


@pytest.mark.parametrize("id", IDS)
def test_untouched_task_is_not_attempted(id):
    ns = context_namespace()
    _, task, _, chk = exercise_cells(id)
    exec(source(task), ns)
    exec(source(chk), ns)
    out = exercises.results[id]
    assert out.status == "not attempted" and "not attempted yet" in out.message


def test_strict_mode_raises_on_a_wrong_answer(monkeypatch):
    monkeypatch.setenv(exercises.STRICT_ENV, "1")
    with pytest.raises(AssertionError, match="05.1"):
        exercises.check("05.1", (1,))


# --------------------------------------------------------------------------- 05.1
def test_05_1_the_true_shape_follows_the_layers():
    assert nb05.no_flatten_shape((32, 32, 3)) == (15, 15, 1)
    assert nb05.no_flatten_shape((128, 128, 3)) == (63, 63, 1)     # the notebook's no_flatten model
    assert outcome("05.1", [15, 15, 1]).status == "correct"


@pytest.mark.parametrize("answer, text", [
    ((1,), "that is the shape *with* a Flatten"),
    (1, "that is the shape *with* a Flatten"),
    ((15, 15, 256), "the last layer, Dense(1)"),
    ((15, 15, 32), "the Dense layers change the last axis"),
    ((30, 30, 1), "you left out the MaxPooling2D"),
    ((16, 16, 1), "'valid' padding"),
    ((32, 32, 1), "both the 'valid' convolution"),
    ((None, 15, 15, 1), "leave out the batch axis"),
    ((63, 63, 1), "follow the shape layer by layer"),
    ((15.0, 15.0, 1.0), "integers only"),
    ("15x15", "integers only"),
])
def test_05_1_typical_wrong_shapes(answer, text):
    assert text in wrong("05.1", answer)


# --------------------------------------------------------------------------- 05.2
RIGHT_05_2 = {"sigmoid": (1, "binary_crossentropy"), "softmax": (2, "sparse_categorical_crossentropy")}


def test_05_2_accepts_loss_objects_and_class_names():
    import keras
    answer = {"sigmoid": (1, keras.losses.BinaryCrossentropy()),
              "softmax": (2, "SparseCategoricalCrossentropy")}
    assert outcome("05.2", answer).status == "correct"
    assert outcome("05.2", {"sigmoid": (1, keras.losses.binary_crossentropy),
                            "softmax": (2, keras.losses.sparse_categorical_crossentropy)}).status == "correct"


@pytest.mark.parametrize("change, text", [
    ({"softmax": (1, "sparse_categorical_crossentropy")}, "a softmax over 1 unit always outputs exactly 1.0"),
    ({"softmax": (1, "binary_crossentropy")}, "a softmax over 1 unit always outputs exactly 1.0"),
    ({"sigmoid": (2, "binary_crossentropy")}, "two sigmoid units are two independent yes/no outputs"),
    ({"softmax": (2, "categorical_crossentropy")}, "not one-hot rows"),
    ({"softmax": (2, "binary_crossentropy")}, "goes with sparse_categorical_crossentropy"),
    ({"sigmoid": (1, "sparse_categorical_crossentropy")}, "One sigmoid unit goes with binary_crossentropy"),
    ({"sigmoid": (1, "mse")}, "expected binary_crossentropy for the sigmoid head"),
    ({"softmax": (3, "sparse_categorical_crossentropy")}, "one unit per class"),
])
def test_05_2_typical_wrong_pairings(change, text):
    assert text in wrong("05.2", {**RIGHT_05_2, **change})


def test_05_2_wrong_structure():
    assert "a dict with exactly two keys" in wrong("05.2", (1, "binary_crossentropy"))
    assert "a pair (units, loss name)" in wrong("05.2", {**RIGHT_05_2, "sigmoid": "binary_crossentropy"})


# --------------------------------------------------------------------------- 05.3
def sigmoid_p(features, w, b):
    return 1 / (1 + np.exp(-(features @ np.asarray(w).reshape(-1, 1) + np.asarray(b).reshape(-1))))


def test_05_3_the_reference_head_gives_the_softmax_probabilities():
    feats = RNG.normal(0, 1, (5, 128))
    z = feats @ HEAD_KERNEL + HEAD_BIAS
    softmax_dog = np.exp(z[:, 1]) / np.exp(z).sum(axis=1)
    w, b = nb05.sigmoid_head_from_softmax(HEAD_KERNEL, HEAD_BIAS)
    assert np.allclose(sigmoid_p(feats, w, b)[:, 0], softmax_dog, atol=1e-6)
    assert outcome("05.3", (w[:, 0], float(b[0])), kernel=HEAD_KERNEL, bias=HEAD_BIAS).status == "correct"


@pytest.mark.parametrize("answer, text", [
    ((HEAD_KERNEL[:, :1] - HEAD_KERNEL[:, 1:], HEAD_BIAS[:1] - HEAD_BIAS[1:]), "your head gives P(cat)"),
    ((HEAD_KERNEL[:, 1:], HEAD_BIAS[1:]), "w is the dog column alone"),
    ((HEAD_KERNEL.sum(axis=1), HEAD_BIAS.sum(keepdims=True)), "the sum of the two columns"),
    ((HEAD_KERNEL[:, 1:] - HEAD_KERNEL[:, :1], HEAD_BIAS[1:]), "w is right, the bias is not"),
    ((HEAD_KERNEL, HEAD_BIAS), "expected w with 128 numbers"),
    ((np.ones(128), [0.0]), "kernel[:, 1] − kernel[:, 0]"),
    (HEAD_KERNEL, "should be a pair (w, b)"),
])
def test_05_3_typical_wrong_heads(answer, text):
    assert text in wrong("05.3", answer, kernel=HEAD_KERNEL, bias=HEAD_BIAS)


def test_05_3_needs_the_weights_as_context():
    assert "needs the softmax head's weights" in wrong("05.3", (1, 2))


# --------------------------------------------------------------------------- 05.4
def r1_literal(p_dog, threshold=0.5):
    """R1's code: the answer is overwritten by an unconditional assignment."""
    if p_dog == 1:
        pred = "dog"
    pred = "cat"
    return pred


@pytest.mark.parametrize("fn, text", [
    (r1_literal, "always 'cat'"),
    (lambda p, threshold=0.5: "dog" if p == 1 else "cat", "'dog' only for p_dog exactly 1.0"),
    (lambda p, threshold=0.5: "cat" if p >= threshold else "dog", "the mapping is inverted"),
    (lambda p, threshold=0.5: "dog", "always 'dog'"),
    (lambda p, threshold=0.5: "dog" if p >= 0.5 else "cat", "use the threshold argument"),
    (lambda p, threshold=0.5: int(p >= threshold), "should return the class name 'cat' or 'dog'"),
    (lambda p, threshold=0.5: "dog" if p >= 0.3 else "cat", "for p_dog = 0.45 expected 'cat', got 'dog'"),
])
def test_05_4_typical_wrong_functions(fn, text):
    assert text in wrong("05.4", fn)


def test_05_4_right_function_and_non_functions():
    assert outcome("05.4", lambda p, threshold=0.5: "dog" if p > threshold else "cat").status == "correct"
    assert "should be your function" in wrong("05.4", "dog")


# --------------------------------------------------------------------------- 05.5
def best_threshold(y, p, target):
    prec, _, thr = metrics.precision_recall_curve(y, p)
    ok = prec[:-1] >= target
    return float(thr[ok].min()) if ok.any() else None


def test_05_5_reference_agrees_with_sklearn_and_a_brute_force_search():
    t = nb05.threshold_for_precision(Y_VA, P_VA, 0.9)
    assert t == best_threshold(Y_VA, P_VA, 0.9)
    brute = [s for s in np.unique(P_VA)
             if metrics.precision_score(Y_VA, P_VA >= s, zero_division=0) >= 0.9]
    assert t == min(brute)


def test_05_5_any_threshold_with_the_same_decisions_is_right():
    t = best_threshold(Y_VA, P_VA, 0.9)
    below = np.max(P_VA[P_VA < t])
    assert outcome("05.5", (t + below) / 2, y_true=Y_VA, p=P_VA, target=0.9).status == "correct"


def test_05_5_typical_wrong_thresholds():
    ctx = dict(y_true=Y_VA, p=P_VA, target=0.9)
    t = best_threshold(Y_VA, P_VA, 0.9)
    assert "0.5 is the default threshold" in wrong("05.5", 0.5, **ctx)
    too_low = np.max(P_VA[P_VA < t])
    assert "below the 90% target: the threshold is too low" in wrong("05.5", float(too_low), **ctx)
    prec, _, thr = metrics.precision_recall_curve(Y_VA, P_VA)
    best_precision = float(thr[np.argmax(prec[:-1])])               # the most precise, not the most recall
    msg = wrong("05.5", best_precision, **ctx)
    assert "which meets the target, but recall is only" in msg and "lowest threshold" in msg
    assert "no image is called 'dog'" in wrong("05.5", 0.9999999, **ctx)
    assert "between 0 and 1" in wrong("05.5", 90, **ctx)
    assert "one threshold, a number" in wrong("05.5", [t], **ctx)
    assert "a threshold does reach the target" in wrong("05.5", None, **ctx)


def test_05_5_none_when_no_threshold_reaches_the_target():
    y = np.array([0, 1, 0, 1, 0, 1])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])                   # the highest score is a cat
    assert nb05.threshold_for_precision(y, p, 0.9) is None
    assert outcome("05.5", None, y_true=y, p=p, target=0.9).status == "correct"
    assert "the answer should be None" in wrong("05.5", 0.5, y_true=y, p=p, target=0.9)


def test_05_5_needs_the_data_as_context():
    assert "needs the validation labels" in wrong("05.5", 0.5)
