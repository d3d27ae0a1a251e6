"""Exercises of notebook 08: each solution (taken from the notebook) passes its check, typical
wrong answers get their specific message, and an untouched task cell is 'not attempted'."""
from __future__ import annotations

import json
import types
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from cnnlib import exercises, experiments
from cnnlib.exercises import nb08
from tests.page_models import page_cells
from tests.exercise_harness import outcome

NB = Path(__file__).resolve().parents[1] / "notebooks" / "08_overfitting.ipynb"


def cell_with(marker: str, tag: str | None = None) -> str:
    """The source of the one code cell (with ``tag``, if given) that contains ``marker``."""
    cells = ["".join(c["source"]) for c in json.loads(NB.read_text())["cells"]
             if c["cell_type"] == "code" and (tag is None or tag in c["metadata"].get("tags", []))]
    found = [src for src in cells if marker in src]
    assert len(found) == 1, (marker, tag, len(found))
    return found[0]


def run_cell(src: str, **names) -> dict:
    ns = dict(names)
    exec(compile(src, str(NB.name), "exec"), ns)
    return ns


def test_catalogue_lists_the_four_exercises():
    cat = exercises.catalogue()
    rows = cat[cat["notebook"] == "08"]
    assert rows["id"].tolist() == ["08.1", "08.2", "08.3", "08.4"]
    assert rows["stars"].tolist() == ["★★★", "★★", "★★", "★"]


def test_page_augmentation_is_the_librarys_with_4_pixel_shifts():
    from cnnlib import models
    ns = {"keras": keras, "layers": keras.layers, "np": np, "SEED": 0}
    for src in page_cells(NB):
        exec(compile(src, "page-model", "exec"), ns)
    page, lib = ns["make_augmentation"](), models.augmentation(flip=True, translate=4 / 32, seed=0)

    def configs(seq):
        return [(type(layer).__name__, {k: v for k, v in layer.get_config().items() if k != "name"})
                for layer in seq.layers]
    assert configs(page) == configs(lib)
    model = ns["make_cnn"](augment=True)
    assert model.count_params() == ns["make_cnn"]().count_params() == 156_074


# --------------------------------------------------------------------------- 08.1
def images(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8), np.arange(n) % 10


TRAIN, VAL = images(64, 0), images(30, 1)
CTX = dict(rate=0.3, train=TRAIN, val=VAL, epochs=1)


@pytest.fixture(scope="module")
def solution_07_1():
    ns = {"keras": keras, "layers": keras.layers, "np": np, "SEED": 0}
    for src in page_cells(NB):
        exec(compile(src, "page-model", "exec"), ns)
    ns["experiments"] = experiments
    exec(compile(cell_with("def dropout_experiment", "solution"), "solution", "exec"), ns)
    fn = ns["dropout_experiment"]
    res, gap = fn(**CTX)
    assert gap != 0        # else the sign test below could not tell right from wrong
    return types.SimpleNamespace(fn=fn, res=res, gap=gap)


def test_07_1_solution_passes(solution_07_1):
    out = outcome("08.1", solution_07_1.fn, **CTX)
    assert out.status == "correct", out.message
    assert "Dropout 0.3 changed the final train–validation gap" in out.message


def test_07_1_stub_and_unwritten_function_are_not_attempted():
    def dropout_experiment(rate, train, val, epochs):
        raise NotImplementedError  # YOUR CODE HERE
    assert outcome("08.1", dropout_experiment, **CTX).status == "not attempted"
    assert outcome("08.1", ..., **CTX).status == "not attempted"


@pytest.mark.parametrize("wrong, message", [
    (lambda s: (lambda **kw: (s.res, -s.gap)), "that is the baseline's gap minus dropout's"),
    (lambda s: (lambda **kw: (s.res, 100 * s.gap)), "that is in percentage points"),
    (lambda s: (lambda **kw: (s.res.table(), s.gap)), "return the whole result, not its table"),
    (lambda s: (lambda **kw: s.res), "return a pair (results, gap_change)"),
    (lambda s: (s.res, s.gap), "the function itself, not its result"),
])
def test_07_1_wrong_answers_get_specific_messages(solution_07_1, wrong, message):
    out = outcome("08.1", wrong(solution_07_1), **CTX)
    assert out.status == "wrong" and message in out.message, out.message


def test_07_1_fixed_rate_and_wrong_validation_split_are_caught(solution_07_1):
    fn = solution_07_1.fn
    out = outcome("08.1", lambda rate, **kw: fn(rate=0.5, **kw), **CTX)
    assert out.status == "wrong" and "expected one Dropout layer with rate 0.3, got rate(s) [0.5]" in out.message
    out = outcome("08.1", lambda rate, train, val, epochs: fn(rate, train, train, epochs), **CTX)
    assert out.status == "wrong" and "pass `val` (as it is)" in out.message, out.message


# --------------------------------------------------------------------------- 08.2
def history(val_loss, val_accuracy=None):
    n = len(val_loss)
    return pd.DataFrame({"epoch": np.arange(1, n + 1), "val_loss": val_loss,
                         "val_accuracy": val_accuracy if val_accuracy is not None else np.linspace(0.2, 0.5, n)})


# lowest val_loss in epoch 6; validation accuracy peaks in epoch 8
H = history([2.0, 1.8, 1.7, 1.75, 1.72, 1.6, 1.65, 1.66, 1.7, 1.8, 1.9],
            [0.2, 0.3, 0.35, 0.34, 0.36, 0.40, 0.41, 0.45, 0.42, 0.40, 0.39])
# an early plateau stops training in epoch 5, before the history's lowest loss (epoch 6)
H_EARLY = history([2.0, 1.8, 1.85, 1.9, 1.95, 1.5, 1.4])


def solve_07_2(hist):
    results = types.SimpleNamespace(histories={"baseline": hist})
    return run_cell(cell_with("answer_08_2 =", "solution"), results=results)["answer_08_2"]


@pytest.mark.parametrize("hist, expected", [(H, (9, 6)), (H_EARLY, (5, 2)),
                                            (history([2.0, 1.9, 1.8]), (3, 3))])
def test_07_2_solution_passes(hist, expected):
    assert nb08.early_stopping_epochs(hist["val_loss"].to_numpy(), 3) == expected
    answer = solve_07_2(hist)
    assert answer == expected
    out = outcome("08.2", answer, history=hist, patience=3)
    assert out.status == "correct", out.message
    assert outcome("08.2", ..., history=hist, patience=3).status == "not attempted"


@pytest.mark.parametrize("hist, answer, message", [
    (H, (8, 5), "Count epochs from 1"),
    (H, (11, 8), "is where validation *accuracy* peaked"),
    (H, (9, 9), "does not keep the weights of the epoch it stopped in"),
    (H, (6, 6), "until it has waited 3 more epochs"),
    (H, (10, 6), "off by one"),
    (H, (11, 6), "training does not run to the end"),
    (H_EARLY, (7, 7), "the callback never gets there"),
    (H, "9, 6", "expected a pair (stop_epoch, kept_epoch)"),
    (H, (9.5, 6), "should be a whole epoch number"),
])
def test_07_2_wrong_answers_get_specific_messages(hist, answer, message):
    out = outcome("08.2", answer, history=hist, patience=3)
    assert out.status == "wrong" and message in out.message, out.message


class ScriptedValLoss(keras.callbacks.Callback):
    """Replaces the logged val_loss with a scripted sequence, before EarlyStopping reads it."""

    def __init__(self, losses):
        super().__init__()
        self.losses = losses

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.losses[epoch]


@pytest.mark.parametrize("losses", [
    [2.0, 1.8, 1.7, 1.75, 1.72, 1.6, 1.65, 1.66, 1.7, 1.8, 1.9],
    [2.0, 1.8, 1.85, 1.9, 1.95, 1.5, 1.4],
    [2.0, 1.9, 1.8, 1.7],
    [1.0, 1.0, 1.0, 1.0, 0.5],
])
def test_07_2_simulation_matches_keras(losses):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    x = np.zeros((4, 2), "float32")
    hist = model.fit(x, np.zeros(4), validation_data=(x, np.zeros(4)), epochs=len(losses),
                     callbacks=[ScriptedValLoss(losses), stop], verbose=0)
    assert nb08.early_stopping_epochs(losses, 3) == (len(hist.history["loss"]), stop.best_epoch + 1)


# --------------------------------------------------------------------------- 08.3
H3 = pd.DataFrame({"epoch": np.arange(1, 9),
                   "val_accuracy": [0.30, 0.40, 0.42, 0.45, 0.43, 0.50, 0.52, 0.51]})


def test_07_3_solution_passes():
    ns = run_cell(cell_with("answer_08_3 =", "solution"),
                  results=types.SimpleNamespace(histories={"combined": H3}),
                  cfg=types.SimpleNamespace(epochs=5))
    assert ns["answer_08_3"] == pytest.approx(0.45)
    out = outcome("08.3", ns["answer_08_3"], history=H3, epochs=5)
    assert out.status == "correct", out.message
    assert outcome("08.3", ..., history=H3, epochs=5).status == "not attempted"


@pytest.mark.parametrize("answer, message", [
    (0.52, "its best over all 8 epochs it ran"),
    (0.43, "its accuracy in epoch 5 alone"),
    (0.50, "off by one epoch"),
    (45.0, "not a percentage"),
    (0.3, "the highest val_accuracy among epochs 1 to 5"),
    ("0.45", "should be a number"),
])
def test_07_3_wrong_answers_get_specific_messages(answer, message):
    out = outcome("08.3", answer, history=H3, epochs=5)
    assert out.status == "wrong" and message in out.message, out.message


# --------------------------------------------------------------------------- 08.4
@pytest.fixture(scope="module")
def candidates():
    return run_cell(cell_with("candidates = pd.DataFrame"), pd=pd, display=lambda x: None)["candidates"]


def test_07_4_solution_passes(candidates):
    answer = run_cell(cell_with("answer_08_4 =", "solution"), candidates=candidates)["answer_08_4"]
    out = outcome("08.4", answer, table=candidates)
    assert out.status == "correct" and "'dropout' has the highest validation accuracy" in out.message
    assert outcome("08.4", ..., table=candidates).status == "not attempted"


@pytest.mark.parametrize("answer, message", [
    ("wide", "has the highest *test* accuracy"),
    ("huge", "has the highest *training* accuracy"),
    ("small", "a model can have a small gap because it underfits"),
    ("medium", "expected one of the table's variants"),
    (3, "expected a variant's name"),
])
def test_07_4_wrong_answers_get_specific_messages(candidates, answer, message):
    out = outcome("08.4", answer, table=candidates)
    assert out.status == "wrong" and message in out.message, out.message
