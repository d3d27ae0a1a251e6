"""Exercises of 03_mnist.ipynb: the notebook's own solutions pass their checks, each typical
wrong answer gets its specific message, and an untouched task is "not attempted". Also: the
R0 listing the notebook shows is the code it runs."""
from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from keras import layers

from cnnlib import exercises
from cnnlib.exercises import nb03
from cnnlib.training import FitResult
from tests.exercise_harness import notebook_cells, outcome, source as src, wrong

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_mnist.ipynb"
IDS = ["03.1", "03.2", "03.3", "03.4", "03.5"]
CONTEXT = {"03.3": "history", "03.5": "fits"}


def cells():
    return notebook_cells(NOTEBOOK)


def exercise_cells(id):
    """(prompt, task, solution, check) sources of exercise ``id``."""
    cs = cells()
    at = [i for i, c in enumerate(cs) if src(c).startswith(f"### Exercise {id} ")]
    assert len(at) == 1, id
    i = at[0]
    assert cs[i + 2]["metadata"].get("tags") == ["solution"], id
    return tuple(src(cs[i + d]) for d in range(4))


def run(source: str, name: str):
    ns = {"keras": keras, "layers": layers, "np": np, "pd": pd}
    exec(source, ns)
    return ns[name]


def history(rows: dict) -> pd.DataFrame:
    return pd.DataFrame(rows)


# A classic-recipe-like run: val_loss lowest at epoch 5, training loss still falling.
RUN_HISTORY = history({"epoch": list(range(1, 11)),
                       "loss": [0.23, 0.095, 0.064, 0.048, 0.041, 0.030, 0.027, 0.024, 0.021, 0.020],
                       "accuracy": [0.93, 0.971, 0.979, 0.985, 0.987, 0.990, 0.991, 0.992, 0.993, 0.993],
                       "val_loss": [0.078, 0.067, 0.082, 0.061, 0.057, 0.066, 0.063, 0.074, 0.067, 0.065],
                       "val_accuracy": [0.979, 0.983, 0.978, 0.985, 0.985, 0.985, 0.985, 0.985, 0.987,
                                        0.986]})


def fit_result(val_accuracy, seconds, accuracy=None) -> FitResult:
    n = len(val_accuracy)
    h = pd.DataFrame({"epoch": np.arange(1, n + 1), "accuracy": accuracy or val_accuracy,
                      "val_accuracy": val_accuracy})
    return FitResult(history=h, seconds=float(seconds), epochs=n, images_per_second=1000.0)


RUN_FITS = [fit_result([0.979, 0.983, 0.978, 0.985, 0.986], 110.0),
            fit_result([0.825, 0.990, 0.994, 0.994], 160.0)]
RUN_CONTEXT = {"03.3": {"history": RUN_HISTORY}, "03.5": {"fits": RUN_FITS}}


# --------------------------------------------------------------------------- the notebook's own cells (structure: tests/test_exercises.py)
@pytest.mark.parametrize("id", IDS)
def test_notebook_solution_is_correct(id):
    nn, k = id.split(".")
    answer = run(exercise_cells(id)[2], f"answer_{nn}_{k}")
    out = outcome(id, answer, **RUN_CONTEXT.get(id, {}))
    assert out.status == "correct", out.message
    assert "correct." in out.message and len(out.message) > 80


@pytest.mark.parametrize("id", IDS)
def test_untouched_task_is_not_attempted(id):
    nn, k = id.split(".")
    answer = run(exercise_cells(id)[1], f"answer_{nn}_{k}")
    out = outcome(id, answer, **RUN_CONTEXT.get(id, {}))
    assert out.status == "not attempted", out.message
    assert "not attempted yet" in out.message


def test_strict_mode_raises_on_a_wrong_answer(monkeypatch):
    monkeypatch.setenv(exercises.STRICT_ENV, "1")
    with pytest.raises(AssertionError, match="03.4"):
        exercises.check("03.4", {"y_tr": "categorical_crossentropy",
                                 "y_tr_1hot": "categorical_crossentropy", "target_3": np.eye(10)[3]})


def test_r0_listing_in_markdown_is_the_code_the_notebook_runs():
    cs = [src(c) for c in cells()]
    listing = next(re.search(r"```python\n(.*?)```", s, re.S).group(1) for s in cs
                   if s.startswith("## 5. The classic recipe (R0)"))
    code = next(s for s in cs if "R0_PUBLISHED = '''" in s)
    literal = re.search(r"R0_PUBLISHED = '''\\\n(.*?)'''", code, re.S).group(1)
    assert literal == listing
    assert "tf.nn.relu" in listing and "import tensorflow" not in listing


# --------------------------------------------------------------------------- 03.1
RIGHT_031 = {"conv": (24, 24, 32), "conv_params": 832, "pool": (12, 12, 32), "flatten": 4608,
             "dense_params": 589_952}


def with_(**changes):
    return {**RIGHT_031, **changes}


@pytest.mark.parametrize("answer, text", [
    (with_(conv=(28, 28, 32)), "that is 'same' padding"),
    (with_(conv=(26, 26, 32)), "26 is the 3×3 kernel's size"),
    (with_(conv=(24, 24, 1)), "each of the 32 filters makes one output channel"),
    (with_(conv=(25, 25, 32)), "off by one"),
    (with_(conv=(None, 24, 24, 32)), "leave out the batch axis"),
    (with_(conv=(32, 24, 24)), "channels last"),
    (with_(pool=(24, 24, 32)), "halves the height and the width"),
    (with_(pool=(12, 12, 16)), "it keeps all 32"),
    (with_(conv_params=800), "you forgot the 32 biases"),
    (with_(conv_params=25 * 32 * 32 + 32), "the input has 1 channel"),
    (with_(flatten=144), "you forgot the channels"),
    (with_(flatten=24 * 24 * 32), "before the pool"),
    (with_(dense_params=589_824), "you forgot the 128 biases"),
    (with_(dense_params=4608 * 129), "one bias per *unit*"),
    (with_(dense_params=13 * 13 * 28 * 128 + 128), "that is R0's Dense layer"),
    (with_(dense_params=4608.5), "should be a whole number"),
    ({"conv": (24, 24, 32)}, "lacks the key(s)"),
    ((24, 24, 32), "should be a dict"),
])
def test_03_1_typical_mistakes(answer, text):
    assert text in wrong("03.1", answer)


def test_03_1_message_names_expected_and_got():
    msg = wrong("03.1", with_(conv=(28, 28, 32)))
    assert "expected the conv output shape (24, 24, 32), got (28, 28, 32)" in msg
    assert "expected 589,952 parameters in Dense(128), got 589,824" in wrong(
        "03.1", with_(dense_params=589_824))
    assert outcome("03.1", with_(flatten=4608.0, dense_params=np.int64(589_952))).status == "correct"


# --------------------------------------------------------------------------- 03.2
def classic_like(conv_activation=None, extra=None, filters=28, where="conv"):
    def build():
        ls = [keras.Input(shape=(28, 28, 1)),
              layers.Conv2D(filters, (3, 3), activation=conv_activation)]
        if where == "conv" and extra is not None:
            ls.append(extra)
        ls.append(layers.MaxPooling2D((2, 2)))
        if where == "pool" and extra is not None:
            ls.append(extra)
        ls.append(layers.Flatten())
        if where == "flatten" and extra is not None:
            ls.append(extra)
        ls += [layers.Dense(128, activation="relu"), layers.Dropout(0.2),
               layers.Dense(10, activation="softmax")]
        return keras.Sequential(ls)
    return build


def test_03_2_unchanged_model_is_still_linear():
    msg = wrong("03.2", classic_like())
    assert "no activation (activation 'linear')" in msg


def test_03_2_activation_after_flatten_does_not_count():
    msg = wrong("03.2", classic_like(extra=layers.ReLU(), where="flatten"))
    assert "still reaches Flatten with no activation" in msg and "after Flatten" in msg


def test_03_2_other_activation_and_changed_layer():
    assert "got tanh" in wrong("03.2", classic_like(conv_activation="tanh"))
    msg = wrong("03.2", classic_like(conv_activation="relu", filters=32))
    assert "expected 607,394 parameters, as in R0, got" in msg and "no weights" in msg


def test_03_2_relu_layer_or_after_the_pool_is_right():
    assert outcome("03.2", classic_like(extra=layers.ReLU())).status == "correct"
    out = outcome("03.2", classic_like(extra=layers.Activation("relu"), where="pool"))
    assert out.status == "correct" and "max(relu(a), relu(b)) = relu(max(a, b))" in out.message


def test_03_2_not_a_model():
    assert "should return a Keras model" in wrong("03.2", lambda: "model")


# --------------------------------------------------------------------------- 03.3
def reference(h):
    return nb03.diagnose_reference(h)


def test_03_3_reference_on_the_run_history():
    assert reference(RUN_HISTORY) == (5, "overfitting")


def test_03_3_zero_based_epoch():
    msg = wrong("03.3", lambda h: (int(h["val_loss"].idxmin()), reference(h)[1]), history=RUN_HISTORY)
    assert "expected best epoch 5, got 4: off by one" in msg


def test_03_3_training_loss_or_val_accuracy():
    msg = wrong("03.3", lambda h: (int(h.loc[h["loss"].idxmin(), "epoch"]), reference(h)[1]),
                history=RUN_HISTORY)
    assert "that is the lowest *training* loss" in msg
    # val_accuracy is highest at epoch 9 here (first max), val_loss lowest at 5
    msg = wrong("03.3", lambda h: (int(h.loc[h["val_accuracy"].idxmax(), "epoch"]),
                                   reference(h)[1]), history=RUN_HISTORY)
    assert "best validation *accuracy*" in msg


def test_03_3_every_late_rise_called_overfitting():
    def naive(h):
        best, _ = reference(h)
        return best, "still improving" if best == h["epoch"].iloc[-1] else "overfitting"
    msg = wrong("03.3", naive, history=RUN_HISTORY)
    assert "a made-up unstable history expected 'unstable', got 'overfitting'" in msg
    assert "the training loss rose too" in msg


def test_03_3_verdict_explains_overfitting_with_numbers():
    msg = wrong("03.3", lambda h: (reference(h)[0], "still improving"), history=RUN_HISTORY)
    assert "expected 'overfitting', got 'still improving'" in msg
    assert "val_loss rose from 0.057 at epoch 5 to 0.065 at epoch 10" in msg


def test_03_3_bad_shapes_of_answer():
    assert "should return a pair" in wrong("03.3", lambda h: 5)
    assert "one of ['still improving', 'overfitting', 'unstable']" in wrong(
        "03.3", lambda h: (reference(h)[0], "overfit"))
    assert "should be a function" in wrong("03.3", (5, "overfitting"))
    assert "wrap it in int" in wrong("03.3", lambda h: (float(reference(h)[0]), reference(h)[1]))


# --------------------------------------------------------------------------- 03.4
RIGHT_034 = {"y_tr": "sparse_categorical_crossentropy", "y_tr_1hot": "categorical_crossentropy",
             "target_3": nb03.smoothed_target(3)}


def test_03_4_accepts_loss_objects_classes_and_functions():
    ans = {**RIGHT_034, "y_tr": keras.losses.SparseCategoricalCrossentropy(),
           "y_tr_1hot": keras.losses.CategoricalCrossentropy(label_smoothing=0.2)}
    assert outcome("03.4", ans).status == "correct"
    ans = {**RIGHT_034, "y_tr": keras.losses.sparse_categorical_crossentropy,
           "y_tr_1hot": keras.losses.CategoricalCrossentropy}
    assert outcome("03.4", ans).status == "correct"


@pytest.mark.parametrize("changes, text", [
    ({"y_tr": "categorical_crossentropy"}, "goes with the *sparse* loss"),
    ({"y_tr_1hot": "sparse_categorical_crossentropy"}, "compares the two rows class by class"),
    ({"y_tr": "binary_crossentropy"}, "its own yes/no question"),
    ({"y_tr": "mse"}, "write the name as you would pass it to compile"),
    ({"target_3": nb03.smoothed_target(3, smoothing=0.1)}, "that is label_smoothing=0.1"),
    ({"target_3": np.where(np.arange(10) == 3, 0.8, 0.2 / 9)}, "over the 9 other digits only"),
    ({"target_3": np.where(np.arange(10) == 3, 0.8, 0.02)}, "the row must sum to 1"),
    ({"target_3": nb03.smoothed_target(4)}, "belongs at index 3"),
    ({"target_3": np.where(np.arange(10) == 3, 0.9, 0.02)}, "sums to 1.08"),
    ({"target_3": [0.82, 0.02]}, "shape (10,)"),
])
def test_03_4_typical_mistakes(changes, text):
    assert text in wrong("03.4", {**RIGHT_034, **changes})


def test_03_4_message_example():
    msg = wrong("03.4", {**RIGHT_034, "y_tr": "categorical_crossentropy"})
    assert "expected sparse_categorical_crossentropy for y_tr (one class index per image" in msg
    assert "Keras 3 stops with a shape error" in msg


# --------------------------------------------------------------------------- 03.5
def right_035(fit, target):
    return nb03.seconds_to_reach_reference(fit, target)


def test_03_5_reference_values():
    fit = fit_result([0.95, 0.98, 0.99, 0.992, 0.993], 100.0)
    assert right_035(fit, 0.99) == 60.0 and right_035(fit, 0.98) == 40.0
    assert right_035(fit, 0.999) is None


@pytest.mark.parametrize("bug, text", [
    (lambda f, t: (None if right_035(f, t) is None else right_035(f, t) - f.seconds / f.epochs),
     "off by one epoch"),
    (lambda f, t: None if right_035(f, t) is None else f.seconds, "that is the whole fit"),
    (lambda f, t: (None if right_035(f, t) is None else right_035(f, t) / (f.seconds / f.epochs)),
     "that is the epoch"),
    (lambda f, t: 0.0 if right_035(f, t) is None else right_035(f, t), "return None"),
])
def test_03_5_typical_mistakes(bug, text):
    assert text in wrong("03.5", bug, fits=RUN_FITS)


def test_03_5_strict_comparison_and_training_accuracy():
    def strict(fit, target):
        h = fit.history[fit.history["val_accuracy"] > target]
        return None if h.empty else float(h["epoch"].iloc[0]) * fit.seconds / fit.epochs
    msg = wrong("03.5", strict)
    assert "use >=" in msg or "the comparison includes equality" in msg

    def train_acc(fit, target):
        h = fit.history[fit.history["accuracy"] >= target]
        return None if h.empty else float(h["epoch"].iloc[0]) * fit.seconds / fit.epochs
    assert "you read the training accuracy" in wrong("03.5", train_acc)


def test_03_5_message_example_and_non_functions():
    msg = wrong("03.5", lambda f, t: None if right_035(f, t) is None else f.seconds)
    assert "for a made-up 5-epoch, 100-second fit and target 0.99 expected 60 s, got 100" in msg
    assert "should be a function" in wrong("03.5", 75.0)
    assert "raised ZeroDivisionError" in wrong("03.5", lambda f, t: 1 / 0)
