"""Exercises of 04_cifar10.ipynb: each solution passes its check, typical wrong answers get
their specific message, and the untouched task cell reads "not attempted"."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cnnlib import exercises, models
from cnnlib.exercises import nb04  # noqa: F401 - registers the checkers
from tests.exercise_harness import outcome


def assert_wrong(id, answer, *fragments, **context):
    out = outcome(id, answer, **context)
    assert out.status == "wrong", out.message
    for fragment in fragments:
        assert fragment in out.message, out.message
    return out


# --------------------------------------------------------------------------- 04.1
SOLUTION_04_1 = {"indices": "sparse_categorical_crossentropy",
                 "column": "sparse_categorical_crossentropy", "one-hot": "categorical_crossentropy"}


def test_04_1_solution_and_equivalent_spellings():
    import keras
    assert outcome("04.1", SOLUTION_04_1).status == "correct"
    objects = {"indices": keras.losses.SparseCategoricalCrossentropy(),
               "column": keras.losses.sparse_categorical_crossentropy,
               "one-hot": keras.losses.CategoricalCrossentropy}
    assert outcome("04.1", objects).status == "correct"


def test_04_1_wrong_answers():
    swapped = {"indices": "categorical_crossentropy", "column": "categorical_crossentropy",
               "one-hot": "sparse_categorical_crossentropy"}
    assert_wrong("04.1", swapped, "expected sparse_categorical_crossentropy", "got categorical_crossentropy")
    column = dict(SOLUTION_04_1, column="categorical_crossentropy")
    assert_wrong("04.1", column, "the (n, 1) column", "*sparse* loss")
    assert_wrong("04.1", dict(SOLUTION_04_1, **{"one-hot": "binary_crossentropy"}),
                 "binary cross-entropy scores each output")
    assert_wrong("04.1", {"indices": "sparse_categorical_crossentropy"}, "lacks the key(s)")
    assert_wrong("04.1", "sparse_categorical_crossentropy", "should be a dict")


def test_04_1_not_attempted():
    assert outcome("04.1", ...).status == "not attempted"


# --------------------------------------------------------------------------- 04.2
def test_04_2_solution():
    assert outcome("04.2", (64 // 2 // 2) ** 2 * 64 * 64 + 64).status == "correct"
    assert outcome("04.2", 1_048_640.0).status == "correct"


@pytest.mark.parametrize("answer, fragment", [
    (1_048_576, "forgot the 64 biases"),
    (262_208, "that is the layer at 32×32"),
    (32 * 32 * 64 * 64 + 64, "you counted one pooling step"),
    (16_384, "that is the Flatten length"),
    (14 * 14 * 64 * 64 + 64, "'same' padding"),
    (123, "Flatten length (height × width × 64 after two pools)"),
])
def test_04_2_wrong_answers(answer, fragment):
    assert_wrong("04.2", answer, "expected 1,048,640 parameters", fragment)


def test_04_2_not_attempted_and_type():
    assert outcome("04.2", ...).status == "not attempted"
    assert_wrong("04.2", "1048640", "should be a whole number")


# --------------------------------------------------------------------------- 04.3
IMAGES = np.random.default_rng(0).random((4, 32, 32, 3), dtype="float32")


def test_04_3_solution():
    def build_r2_for(x):
        return models.classic_cifar10_r2(input_shape=x.shape[1:])
    assert outcome("04.3", build_r2_for, images=IMAGES).status == "correct"


def test_04_3_hard_coded_shape():
    assert_wrong("04.3", lambda x: models.classic_cifar10_r2(input_shape=(32, 32, 3)),
                 "for images of shape (28, 28, 1) your model was built for (32, 32, 3)",
                 "R2's bug again", images=IMAGES)
    assert_wrong("04.3", lambda x: models.classic_cifar10_r2(input_shape=(64, 64, 3)),
                 "built for (64, 64, 3)", images=IMAGES)


def test_04_3_batch_dimension_and_wrong_model():
    assert_wrong("04.3", lambda x: models.classic_cifar10_r2(input_shape=x.shape),
                 "raised", "x.shape[1:]", images=IMAGES)
    assert_wrong("04.3", lambda x: models.classic_cifar10(input_shape=x.shape[1:]),
                 "expected R2's layers", images=IMAGES)


def test_04_3_not_attempted():
    def build_r2_for(x):
        raise NotImplementedError
    assert outcome("04.3", build_r2_for, images=IMAGES).status == "not attempted"


# --------------------------------------------------------------------------- 04.4
HISTORY = pd.DataFrame({"epoch": [1, 2, 3, 4, 5], "loss": [1.5, 1.1, 0.9, 0.7, 0.6],
                        "accuracy": [0.45, 0.6, 0.67, 0.71, 0.74],
                        "val_loss": [1.24, 1.04, 0.94, 0.95, 0.99],
                        "val_accuracy": [0.56, 0.63, 0.66, 0.69, 0.68]})


def test_04_4_solution():
    def best_epoch(history):
        return int(history.loc[history["val_loss"].idxmin(), "epoch"])
    assert outcome("04.4", best_epoch, history=HISTORY).status == "correct"
    assert outcome("04.4", best_epoch).status == "correct"        # made-up histories only


@pytest.mark.parametrize("answer, fragment", [
    (lambda h: int(h["val_loss"].idxmin()), "off by one"),
    (lambda h: int(h.loc[h["val_accuracy"].idxmax(), "epoch"]), "best validation *accuracy*"),
    (lambda h: int(h.loc[h["loss"].idxmin(), "epoch"]), "you used the training loss"),
    (lambda h: 1, "the row with the lowest val_loss"),
    (lambda h: h.loc[h["val_loss"].idxmin(), "epoch"] * 1.0, "wrap it in int"),
])
def test_04_4_wrong_answers(answer, fragment):
    assert_wrong("04.4", answer, fragment, history=HISTORY)


def test_04_4_uses_this_runs_history_first():
    out = assert_wrong("04.4", lambda h: 4, history=HISTORY)
    assert "this run's history" in out.message and "expected epoch 3" in out.message


def test_04_4_not_attempted():
    def best_epoch(history):
        raise NotImplementedError
    assert outcome("04.4", best_epoch, history=HISTORY).status == "not attempted"


# --------------------------------------------------------------------------- 04.5
def lr_solution(p, peak):
    p = min(max(p, 0.0), 1.0)
    if p < 0.2:
        return 0.1 * peak + 0.9 * peak * p / 0.2
    return peak * (1 + math.cos(math.pi * (p - 0.2) / 0.8)) / 2


def test_04_5_solution_matches_the_library():
    from cnnlib.training import one_cycle_at
    assert outcome("04.5", lr_solution).status == "correct"
    assert outcome("04.5", one_cycle_at).status == "correct"
    assert lr_solution(0.6, 0.4) == pytest.approx(0.2)


def _no_clip(p, peak):
    if p < 0.2:
        return 0.1 * peak + 0.9 * peak * p / 0.2
    return peak * (1 + math.cos(math.pi * (p - 0.2) / 0.8)) / 2


@pytest.mark.parametrize("answer, fragment", [
    (lambda p, peak: peak * p / 0.2 if p < 0.2 else lr_solution(p, peak), "starts at 10% of the peak"),
    (lambda p, peak: lr_solution(p, peak) if p < 0.2 else peak * (1 + math.cos(math.pi * p)) / 2,
     "runs over the whole budget"),
    (lambda p, peak: lr_solution(p, peak) if p < 0.2 else peak * (1 - (p - 0.2) / 0.8),
     "not a straight line"),
    (_no_clip, "clip progress to [0, 1]"),
    (lambda p, peak: lr_solution(p, 0.4), "use the peak argument"),
    (lambda p, peak: "fast", "should return a number"),
])
def test_04_5_wrong_answers(answer, fragment):
    assert_wrong("04.5", answer, fragment)


def test_04_5_not_attempted():
    def lr_at(p, peak):
        raise NotImplementedError
    assert outcome("04.5", lr_at).status == "not attempted"


def test_catalogue_lists_five_exercises_for_04():
    cat = exercises.catalogue()
    assert list(cat.loc[cat["notebook"] == "04", "id"]) == ["04.1", "04.2", "04.3", "04.4", "04.5"]
