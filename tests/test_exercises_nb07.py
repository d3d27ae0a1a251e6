"""Exercises of 07_blood_cells.ipynb: the notebook's own solutions pass their checks, each
typical wrong answer gets its specific message, and an untouched task is "not attempted"."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from cnnlib import exercises
from tests import exercise_harness
from tests.exercise_harness import exercise_cells as harness_exercise_cells, notebook_cells, source

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "07_blood_cells.ipynb"
IDS = ["07.1", "07.2", "07.3", "07.4", "07.5"]
NAMES = {"07.1": "answer_07_1", "07.2": "r4_peak_bytes", "07.3": "square_resize",
         "07.4": "grouped_split", "07.5": "to_rgb"}


def example_groups():
    """One original id per image with TEST's structure: 13, 6, 4 and 48 originals copied 48,
    103, 155 and 13 times (what the notebook's example_groups holds)."""
    per_original = [48] * 13 + [103] * 6 + [155] * 4 + [13] * 48
    return np.repeat(np.arange(71), per_original)


def outcome(id, answer, **context):
    """The harness's outcome, with 07.4's groups as the notebook's check cell passes them."""
    if id == "07.4":
        context.setdefault("groups", example_groups())
    return exercise_harness.outcome(id, answer, **context)


def wrong(id, answer, **context) -> str:
    out = outcome(id, answer, **context)
    assert out.status == "wrong", out.message
    return out.message


def cells():
    return notebook_cells(NOTEBOOK)


def exercise_cells(id):
    """The prompt, task, solution and check cells of exercise ``id``, in notebook order."""
    return harness_exercise_cells(NOTEBOOK, id)


def namespace() -> dict:
    import keras
    import tensorflow as tf
    return {"np": np, "keras": keras, "layers": keras.layers, "tf": tf}


def run_cell(id, which) -> object:
    ns = namespace()
    exec(source(exercise_cells(id)[which]), ns)
    return ns[NAMES[id]]


# --------------------------------------------------------------------------- the notebook's own cells (structure: tests/test_exercises.py)
@pytest.mark.parametrize("id", IDS)
def test_notebook_solution_is_correct(id):
    out = outcome(id, run_cell(id, 2))
    assert out.status == "correct", out.message
    assert "correct." in out.message and len(out.message) > 60


@pytest.mark.parametrize("id", IDS)
def test_untouched_task_is_not_attempted(id):
    out = outcome(id, run_cell(id, 1))
    assert out.status == "not attempted"
    assert "not attempted yet" in out.message


def test_the_exercise_groups_are_the_notebooks():
    """The tests' TEST-like groups follow the notebook's recipe for example_groups."""
    src = next(source(c) for c in cells() if "example_groups = np.repeat" in source(c))
    assert 'originals["TEST images per original"]' in src
    assert len(example_groups()) == 2486 and len(np.unique(example_groups())) == 71


# --------------------------------------------------------------------------- 07.1
def r4(flatten_at=5, input_shape=(200, 200, 3), extra_dense=False, pooling=None):
    import keras
    from keras import layers
    stack = [layers.Conv2D(32, (3, 3), padding="same", activation="relu"),
             layers.MaxPooling2D((2, 2), strides=2),
             layers.Conv2D(32, (3, 3), padding="same", activation="relu"),
             layers.MaxPooling2D((2, 2), strides=2),
             layers.Dense(128, activation="relu"),
             layers.Dense(4, activation="softmax")]
    if flatten_at is not None:
        stack.insert(flatten_at - 1, pooling or layers.Flatten())
    if extra_dense:
        stack.insert(-1, layers.Dense(64, activation="relu"))
    return keras.Sequential([keras.Input(shape=input_shape), *stack])


def test_06_1_without_flatten_names_the_feature_map():
    msg = wrong("07.1", r4(flatten_at=None))
    assert "got (2, 50, 50, 4)" in msg and "50×50 positions" in msg and "layers.Flatten()" in msg


def test_06_1_flatten_after_the_dense_is_caught():
    msg = wrong("07.1", r4(flatten_at=6))
    assert "first Dense(128) still reads a (50, 50, 32) feature map" in msg


def test_06_1_other_repairs_and_inputs():
    import keras
    assert "no Flatten layer" in wrong("07.1", r4(pooling=keras.layers.GlobalAveragePooling2D()))
    assert "expected the input shape (None, 200, 200, 3)" in wrong("07.1", r4(input_shape=(100, 100, 3)))
    assert "10,250,788 parameters" in wrong("07.1", r4(extra_dense=True))
    assert "expected a Keras model" in wrong("07.1", "Flatten")


# --------------------------------------------------------------------------- 07.2
@pytest.mark.parametrize("per_pixel, hint", [
    (30, "np.array's uint8 copy"), (15, "you left out train_test_split"),
    (24, "you left out the Python list"), (12, "one float32 copy"), (39, "divides in place"),
])
def test_06_2_each_slip_gets_its_explanation(per_pixel, hint):
    msg = wrong("07.2", lambda n, h, w: per_pixel * n * h * w)
    assert "expected r4_peak_bytes(3200, 200, 200) = 3,456,000,000 bytes (27 a pixel)" in msg and hint in msg


def test_06_2_units_and_types():
    assert "right amount in GiB: return bytes" in wrong("07.2", lambda n, h, w: 27 * n * h * w / 2**30)
    assert "should return a number of bytes" in wrong("07.2", lambda n, h, w: "3.2 GB")
    msg = wrong("07.2", lambda n, h, w: 27 * n * h * w + 100)
    assert "add up what is alive at once" in msg


# --------------------------------------------------------------------------- 07.3
def test_06_3_a_straight_resize_squeezes_the_disc():
    import tensorflow as tf
    msg = wrong("07.3", lambda image, size=200: tf.image.resize(image, (size, size)).numpy())
    ratio = float(re.search(r"width/height (\d\.\d\d)", msg).group(1))
    assert 0.72 <= ratio <= 0.78 and "the width shrinks by 200/320" in msg, msg


def test_06_3_shape_scale_and_lost_disc():
    import tensorflow as tf
    assert "to have shape (200, 200, 3), got (150, 200, 3)" in wrong(
        "07.3", lambda image, size=200: tf.image.resize_with_pad(image, 150, 200).numpy())
    assert "keep the pixels in 0..255" in wrong(
        "07.3", lambda image, size=200: tf.image.resize(image[:, 40:280] / 255, (size, size)).numpy())
    assert "disc in the middle" in wrong(
        "07.3", lambda image, size=200: tf.image.resize(image[:size // 4, :size // 4] + 0, (size, size)).numpy())


def test_06_3_padding_is_right_too():
    import tensorflow as tf
    out = outcome("07.3", lambda image, size=200: tf.image.resize_with_pad(image, size, size).numpy())
    assert out.status == "correct", out.message


# --------------------------------------------------------------------------- 07.4
def random_split(groups, val_fraction=0.2, seed=0):
    order = np.random.default_rng(seed).permutation(len(groups))
    n_val = round(val_fraction * len(groups))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def test_06_4_a_random_split_reports_the_leak():
    msg = wrong("07.4", random_split)
    found = re.search(r"(\d+) originals have copies on both sides \(on example_groups\): (\d+) of your (\d+) "
                      r"validation images have a twin in training", msg)
    assert found, msg
    groups = example_groups()
    train, val = random_split(groups)
    shared = np.intersect1d(groups[train], groups[val])
    assert int(found.group(1)) == len(shared) and int(found.group(2)) == np.isin(groups[val], shared).sum()
    assert "Split the originals, not the images" in msg


def test_06_4_partition_fraction_seed_and_context():
    solution = run_cell("07.4", 2)
    assert "in both train_idx and val_idx" in wrong(
        "07.4", lambda g, f=0.2, s=0: (np.arange(len(g)), solution(g, f, s)[1]))
    assert "are in neither" in wrong("07.4", lambda g, f=0.2, s=0: (solution(g, f, s)[0][:-5], solution(g, f, s)[1]))
    assert "roughly 20%" in wrong(
        "07.4", lambda g, f=0.2, s=0: (np.flatnonzero(g != g[0]), np.flatnonzero(g == g[0])) if len(g) > 2000
        else solution(g, f, s))
    calls = iter(range(100))
    assert "same seed gave different validation sets" in wrong(
        "07.4", lambda g, f=0.2, s=0: solution(g, f, next(calls)))
    assert "should return two arrays" in wrong("07.4", lambda g, f=0.2, s=0: solution(g, f, s)[1])
    exercises.check("07.4", solution)                      # no groups passed
    assert "groups=example_groups" in exercises.results["07.4"].message


def test_06_4_a_split_fitted_to_one_array_fails_on_the_checkers_own_groups():
    solution = run_cell("07.4", 2)
    fitted = solution(example_groups())

    def memorised(g, f=0.2, s=0):
        return fitted if len(g) == len(example_groups()) else random_split(g, f, s)
    assert "on the checker's own 40 shuffled originals" in wrong("07.4", memorised)


# --------------------------------------------------------------------------- 07.5
def test_06_5_wrong_axes_and_no_conversion():
    assert "equals the input" in wrong("07.5", lambda image: image)
    assert "reversed the rows" in wrong("07.5", lambda image: image[::-1])
    assert "green stays in the middle" in wrong("07.5", lambda image: image[..., [2, 0, 1]])
    assert "same shape as the input" in wrong("07.5", lambda image: image[..., ::-1][..., :2])


def test_strict_mode_raises_on_a_wrong_answer(monkeypatch):
    monkeypatch.setenv(exercises.STRICT_ENV, "1")
    with pytest.raises(AssertionError, match="07.5"):
        exercises.check("07.5", lambda image: image)
