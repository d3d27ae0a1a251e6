"""Exercises of 06_transfer_learning.ipynb: the notebook's own solutions pass the notebook's own
check cells, each typical wrong answer gets its specific message, and an untouched task is
"not attempted"."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cnnlib import exercises, explain, transfer
from cnnlib.exercises import nb06
from tests.exercise_harness import exercise_cells as harness_exercise_cells, notebook_cells, outcome, source, wrong

NOTEBOOK = "06_transfer_learning"
IDS = ["06.1", "06.2", "06.3", "06.4", "06.5"]


def exercise_cells(id):
    """The prompt, task, solution and check cells of exercise ``id``; 06.3's and 06.5's prompts
    are followed by one lesson cell that names the check's data (MARGIN, example_drops)."""
    between = 1 if id in ("06.3", "06.5") else 0
    cells = harness_exercise_cells(NOTEBOOK, id, between=between)
    if between:
        cs = notebook_cells(NOTEBOOK)
        setup = cs[cs.index(cells[0]) + 1]
        assert source(setup) in ("MARGIN = 0.01", "example_drops = drops[0]")
    return cells


ACCURACY = pd.DataFrame({"from scratch": [0.60, 0.70, 0.800],
                         "feature extraction": [0.70, 0.72, 0.750],
                         "fine-tuning": [0.72, 0.78, 0.805]},
                        index=pd.Index([250, 1000, 5000], name="photos"))
DROPS = np.random.default_rng(0).normal(0, 0.2, (7, 7))


def page_namespace() -> dict:
    """The names the exercise cells read, made by the notebook's own page-model cells and the
    lesson cell that builds tuned_example."""
    import keras
    import tensorflow as tf
    ns = {"np": np, "pd": pd, "keras": keras, "layers": keras.layers, "tf": tf, "exercises": exercises,
          "SETTINGS": {"widths": [32, 64, 128]}}
    for c in notebook_cells(NOTEBOOK):
        src = source(c)
        if "page-model" in c["metadata"].get("tags", []) or src.startswith("def set_top_block_trainable"):
            exec(src, ns)
    return ns


@pytest.fixture(scope="module")
def namespace():
    ns = page_namespace()
    ns.update(accuracy=ACCURACY, MARGIN=0.01, example_drops=DROPS)
    return ns


# --------------------------------------------------------------------------- the notebook's cells
def run_exercise(id, cell, namespace):
    """Run exercise id's task (cell=1) or solution (cell=2) cell, then its check cell, in a
    copy of the namespace; the check's outcome."""
    ns = dict(namespace)
    cells = exercise_cells(id)
    exec(source(cells[cell]), ns)
    exec(source(cells[3]), ns)
    return exercises.results[id]


@pytest.mark.parametrize("id", IDS)
def test_notebook_solution_passes_the_notebook_check_cell(id, namespace):
    out = run_exercise(id, 2, namespace)
    assert out.status == "correct", out.message
    assert "correct." in out.message and len(out.message) > 60


@pytest.mark.parametrize("id", IDS)
def test_untouched_task_is_not_attempted(id, namespace):
    out = run_exercise(id, 1, namespace)
    assert out.status == "not attempted" and "not attempted yet" in out.message


def test_strict_mode_raises_on_a_wrong_answer(monkeypatch):
    monkeypatch.setenv(exercises.STRICT_ENV, "1")
    with pytest.raises(AssertionError, match="06.2"):
        exercises.check("06.2", 5, model=page_namespace()["tuned_example"])


# --------------------------------------------------------------------------- 06.1
def only_layer_flags(backbone):
    for layer in backbone.layers:
        if layer.name.startswith("top_"):
            layer.trainable = True


def whole_backbone(backbone):
    backbone.trainable = True


def convs_only(backbone):
    backbone.trainable = True
    for layer in backbone.layers:
        layer.trainable = layer.name.startswith("top_conv")


def top_unfrozen_lower_untouched(backbone):
    """Right on a frozen backbone by luck of the order, wrong on a trainable one: it never
    freezes blocks 1 and 2 itself."""
    was_frozen = not backbone.trainable
    backbone.trainable = True
    if was_frozen:
        for layer in backbone.layers:
            layer.trainable = layer.name.startswith("top_")


def returns_a_copy(backbone):
    copy = transfer.cifar_backbone()
    copy.trainable = True
    return copy


@pytest.mark.parametrize("fn, text", [
    (only_layer_flags, "the backbone itself still has trainable = False"),
    (whole_backbone, "blocks 1 and 2 would train too"),
    (convs_only, "the top block's batch norms stay frozen"),
    (top_unfrozen_lower_untouched, "starting from a backbone with every layer trainable, blocks 1 and 2"),
    (lambda backbone: None, "no layer would train"),
    (returns_a_copy, "returned another object"),
])
def test_06_1_typical_wrong_functions(fn, text):
    assert text in wrong("06.1", fn)


def test_06_1_needs_a_function():
    assert "should be your function unfreeze_top" in wrong("06.1", "top_")


def test_06_1_trainable_layers_follows_the_model_flags():
    backbone = transfer.cifar_backbone()
    assert len(nb06.trainable_layers(backbone)) == 12               # 6 convolutions, 6 batch norms
    backbone.trainable = False
    assert nb06.trainable_layers(backbone) == []


# --------------------------------------------------------------------------- 06.2
def test_06_2_reference_counts_match_the_architecture(namespace):
    counts = nb06.parameter_counts(namespace["tuned_example"])
    assert counts["trainable"] == 3 * 3 * 64 * 128 + 3 * 3 * 128 * 128 + 4 * 128 + 129 == 221_825
    assert counts["total"] == 288_352 + 129


@pytest.mark.parametrize("key, text", [
    ("total", "is every parameter of the model"),
    ("with moving statistics", "you counted the batch norms' moving mean and variance"),
    ("head only", "is the head alone: that is feature extraction"),
    ("no head", "add the head"),
    ("no batch norm", "train their scale γ and offset β"),
    ("with conv biases", "the convolutions have no bias"),
    ("whole backbone", "would train if the whole backbone were unfrozen"),
])
def test_06_2_typical_wrong_counts(key, text, namespace):
    model = namespace["tuned_example"]
    assert text in wrong("06.2", nb06.parameter_counts(model)[key], model=model)


def test_06_2_types_and_context(namespace):
    model = namespace["tuned_example"]
    assert outcome("06.2", 221_825.0, model=model).status == "correct"
    assert "one whole number" in wrong("06.2", "221825", model=model)
    assert "Count kernel sizes" in wrong("06.2", 1000, model=model)
    assert "needs the fine-tuning model" in wrong("06.2", 221_825)


# --------------------------------------------------------------------------- 06.3
def test_06_3_reference():
    assert nb06.transfer_stops_paying(ACCURACY, 0.01) == 5000
    assert nb06.transfer_stops_paying(ACCURACY, 0.0) is None
    assert nb06.transfer_stops_paying(ACCURACY, 0.05) == 5000        # 1,000: +8 points, still paying
    assert nb06.transfer_stops_paying(ACCURACY, 0.10) == 1000


def test_06_3_typical_wrong_answers():
    ctx = dict(accuracy=ACCURACY, margin=0.01)
    # against feature extraction alone, from scratch is "close enough" already at 5,000: same
    # answer here, so build a table where the two rules differ
    table = ACCURACY.copy()
    table.loc[1000, "feature extraction"] = 0.705                    # scratch 0.70: within 1 point of it
    assert nb06.transfer_stops_paying(table, 0.01) == 5000
    assert "compares from scratch with feature extraction only" in wrong("06.3", 1000, accuracy=table, margin=0.01)
    assert "MARGIN is a fraction" in wrong("06.3", 250, **ctx)
    assert "the answer is a size, not None" in wrong("06.3", None, **ctx)
    assert "is not one of the measured sizes" in wrong("06.3", 2000, **ctx)
    assert "a training-set size (an int" in wrong("06.3", "5000", **ctx)
    assert "so the answer is None" in wrong("06.3", 1000, accuracy=ACCURACY, margin=0.0)
    assert outcome("06.3", np.int64(5000), **ctx).status == "correct"
    assert "needs the table and the margin" in wrong("06.3", 5000)


def test_06_3_takes_every_transfer_method_in_the_table():
    """The notebook's table has two fine-tuning columns: the best of all three transfer methods counts."""
    table = pd.DataFrame({"from scratch": [0.60, 0.73, 0.80], "feature extraction": [0.66, 0.67, 0.67],
                          "top-block fine-tuning": [0.66, 0.72, 0.77], "full fine-tuning": [0.68, 0.76, 0.805]},
                         index=[250, 1000, 5000])
    assert nb06.transfer_columns(table) == ["feature extraction", "top-block fine-tuning", "full fine-tuning"]
    assert nb06.transfer_stops_paying(table, 0.01) == 5000           # full fine-tuning: +3 points at 1,000
    assert nb06.transfer_stops_paying(table, 0.01, ("top-block fine-tuning",)) == 1000
    message = wrong("06.3", 1000, accuracy=table, margin=0.01)
    assert "compares from scratch with feature extraction only" in message   # the first one that gives 1,000
    assert "full fine-tuning" in message
    assert outcome("06.3", 5000, accuracy=table, margin=0.01).status == "correct"
    assert "at least one transfer method" in wrong("06.3", 5000, accuracy=table[["from scratch"]], margin=0.01)


# --------------------------------------------------------------------------- 06.4
def test_06_4_the_small_model_has_position_dependent_gradients():
    A, g = nb06.small_model_maps(0)
    assert A.shape == g.shape == (6, 6, 5)
    assert g.std(axis=(0, 1)).max() > 0.1 * np.abs(g).max()          # not a global-average head
    assert nb06.grad_cam_reference(A, g).max() > 0


@pytest.mark.parametrize("fn, text", [
    (lambda A, g: (A * g.mean(axis=(0, 1))).sum(-1), "keep only the positive part"),
    (lambda A, g: np.abs((A * g.mean(axis=(0, 1))).sum(-1)), "np.abs turns evidence against"),
    (lambda A, g: np.maximum((A * g.sum(axis=(0, 1))).sum(-1), 0), "you summed the gradients"),
    (lambda A, g: np.maximum((A * g.mean(axis=(0, 1))).mean(-1), 0), "you averaged the weighted maps over the channels"),
    (lambda A, g: np.maximum((A * g).sum(-1), 0), "gradient × activation"),
    (lambda A, g: np.maximum((A * g.mean(axis=-1, keepdims=True)).sum(-1), 0), "averaged the gradients over the channels"),
    (lambda A, g: np.maximum(A * g.mean(axis=(0, 1)), 0), "sum the weighted feature maps over the channel axis"),
    (lambda A, g: g.mean(axis=(0, 1)), "the map should be"),
    (lambda A, g: np.maximum((A * g.mean(axis=(0, 1))).sum(-1), 0) + 1, "differs from Grad-CAM's"),
])
def test_06_4_typical_wrong_maps(fn, text):
    assert text in wrong("06.4", fn)


def test_06_4_normalised_map_and_non_function():
    def normalised(A, g):
        m = np.maximum((A * g.mean(axis=(0, 1))).sum(-1), 0)
        return m / m.max()
    assert "divided by its maximum" in wrong("06.4", normalised)
    assert "should be your function grad_cam_map" in wrong("06.4", np.zeros((6, 6)))


def test_06_4_tensorflow_answer_is_accepted():
    import tensorflow as tf
    fn = lambda A, g: tf.nn.relu(tf.einsum("hwk,k->hw", A, tf.reduce_mean(g, axis=(0, 1))))  # noqa: E731
    assert outcome("06.4", fn).status == "correct"


# --------------------------------------------------------------------------- 06.5
def summed(drops, size, patch, stride):
    total = np.zeros((size, size))
    for r in range(drops.shape[0]):
        for c in range(drops.shape[1]):
            total[r * stride:r * stride + patch, c * stride:c * stride + patch] += drops[r, c]
    return total


def overwritten(drops, size, patch, stride):
    out = np.zeros((size, size))
    for r in range(drops.shape[0]):
        for c in range(drops.shape[1]):
            out[r * stride:r * stride + patch, c * stride:c * stride + patch] = drops[r, c]
    return out


def patch_steps(drops, size, patch, stride):
    """Places patch (r, c) at r·patch instead of r·stride."""
    total, count = np.zeros((size, size)), np.zeros((size, size))
    for r in range(drops.shape[0]):
        for c in range(drops.shape[1]):
            total[r * patch:r * patch + patch, c * patch:c * patch + patch] += drops[r, c]
            count[r * patch:r * patch + patch, c * patch:c * patch + patch] += 1
    return total / np.maximum(count, 1)


@pytest.mark.parametrize("fn, text", [
    (summed, "you added up the drops"),
    (overwritten, "each patch overwrote the ones before it"),
    (patch_steps, "the map differs from the mean drop per pixel"),
    (lambda d, size, patch, stride: np.kron(d, np.ones((stride, stride))), "the map should be (32, 32)"),
])
def test_06_5_typical_wrong_maps(fn, text):
    assert text in wrong("06.5", fn, drops=DROPS)


def test_06_5_reference_is_the_library_map_and_context():
    assert np.allclose(nb06.spread_reference(DROPS, 32, 8, 4), explain.occlusion_map(DROPS, (32, 32), 8, 4))
    assert "needs the drops" in wrong("06.5", summed)
    assert "should be your function spread_drops" in wrong("06.5", DROPS, drops=DROPS)
