"""Exercises of 02_pooling.ipynb: the notebook's own solutions pass their checks, each
typical wrong answer gets its specific message, and an untouched task is "not attempted"."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnnlib import exercises, ops
from cnnlib.exercises import nb02
from tests.exercise_harness import exercise_cells as harness_exercise_cells, answer_name, notebook_cells, outcome, source, wrong

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02_pooling.ipynb"
IDS = ["02.1", "02.2", "02.3", "02.4", "02.5"]


def cells():
    return notebook_cells(NOTEBOOK)


def exercise_cells(id):
    """The prompt, task, solution and check cells of exercise ``id``, in notebook order."""
    return harness_exercise_cells(NOTEBOOK, id)


def notebook_namespace() -> dict:
    return {"np": np, "ops": ops}


# --------------------------------------------------------------------------- the notebook's own cells (structure: tests/test_exercises.py)
@pytest.mark.parametrize("id", IDS)
def test_notebook_solution_is_correct(id):
    ns = notebook_namespace()
    exec(source(exercise_cells(id)[2]), ns)
    out = outcome(id, ns[answer_name(id)])
    assert out.status == "correct", out.message
    assert "correct." in out.message and len(out.message) > 60


@pytest.mark.parametrize("id", IDS)
def test_untouched_task_is_not_attempted(id):
    ns = notebook_namespace()
    exec(source(exercise_cells(id)[1]), ns)
    out = outcome(id, ns[answer_name(id)])
    assert out.status == "not attempted"
    assert "not attempted yet" in out.message


def test_strict_mode_raises_on_a_wrong_answer(monkeypatch):
    monkeypatch.setenv(exercises.STRICT_ENV, "1")
    with pytest.raises(AssertionError, match="02.2"):
        exercises.check("02.2", ((7, 7, 64), (7, 7, 64), (64,)))


# --------------------------------------------------------------------------- 02.1
def pool(fmap, size, stride=None, kind="max"):
    fn = ops.max_pool2d if kind == "max" else ops.avg_pool2d
    return fn(np.asarray(fmap, float)[None, :, :, None], size, stride)[0, :, :, 0]


def test_02_1_checker_uses_the_prompts_map():
    prompt = source(exercise_cells("02.1")[0])
    block = prompt.split("```")[1]
    assert np.array_equal(np.array([[int(v) for v in line.split()] for line in block.strip().splitlines()]),
                          nb02.POOL_ME)


@pytest.mark.parametrize("answer, text", [
    (pool(nb02.POOL_ME, 2, kind="avg"), "average pooling"),
    (pool(nb02.POOL_ME, 2, 1), "the stride defaults to the pool size"),
    (np.array([[9, 8], [7, 6]]), "transposed"),
    (np.array([[2, 0], [1, 2]]), "minima"),
    (np.array([[9, 7], [8, 5]]), "out[1, 1]: expected 6, got 5. Its window is rows 2-3, columns 2-3"),
    (np.array([9, 7, 8, 6]), "expected shape (2, 2), got (4,)"),
    ("9 7 8 6", "should be an array of numbers"),
])
def test_02_1_typical_wrong_answers(answer, text):
    assert text in wrong("02.1", answer)


# --------------------------------------------------------------------------- 02.2
GOOD = ((6, 6, 64), (7, 7, 64), (64,))


@pytest.mark.parametrize("answer, text", [
    (((7, 7, 64), (7, 7, 64), (64,)), "ceil(13 / 2) = 7 is the 'same' rule"),
    (((6, 6, 64), (6, 6, 64), (64,)), "'same' pads just enough"),
    (((6, 6, 1), (7, 7, 64), (64,)), "the 64 channels stay 64"),
    (((4, 4, 64), (7, 7, 64), (64,)), "that uses stride 3, the pool size"),
    (((6, 6, 64), (5, 5, 64), (64,)), "that uses stride 3, the pool size"),
    (((11, 11, 64), (7, 7, 64), (64,)), "that is stride 1"),
    (((5, 5, 64), (7, 7, 64), (64,)), "off by one"),
    (((1, 6, 6, 64), (7, 7, 64), (64,)), "leave out the batch axis"),
    (((6, 6, 64), (7, 7, 64), (1, 1, 64)), "drops the height and width axes"),
    (((6, 6, 64), (7, 7, 64), (64, 64)), "a vector of 64"),
    (((6, 6, 64), (7, 7, 64), (13, 13)), "one number per channel"),
    (((9, 9, 64), (7, 7, 64), (64,)), "floor((n − k) / s) + 1 for 'valid'"),
    (((6, 6, 64), (7, 7, 64)), "three shapes"),
    (((6, 6, 64), "7x7x64", (64,)), "should be a shape"),
])
def test_02_2_typical_wrong_shapes(answer, text):
    assert text in wrong("02.2", answer)


def test_02_2_accepts_lists():
    assert outcome("02.2", [[6, 6, 64], [7, 7, 64], [64]]).status == "correct"


# --------------------------------------------------------------------------- 02.3
def make_pool(*, kind="max", default_stride=None, ignore_stride=False, keep_partial=False,
              zero_init=False, window_step=True, transpose=False, batch_axes=False):
    """max_pool with one deliberate bug switched on."""
    def max_pool(fmap, size=2, stride=None):
        if stride is None:
            stride = size if default_stride is None else default_stride
        if ignore_stride:
            stride = size
        n = (lambda L: -(-(L - size) // stride) + 1) if keep_partial else (lambda L: (L - size) // stride + 1)
        out = np.zeros((n(fmap.shape[0]), n(fmap.shape[1])))
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                r, c = (i * stride, j * stride) if window_step else (i, j)
                win = fmap[r:r + size, c:c + size]
                v = win.max() if kind == "max" else win.mean()
                out[i, j] = max(v, 0.0) if zero_init else v
        out = out.T if transpose else out
        return out[None, :, :, None] if batch_axes else out
    return max_pool


@pytest.mark.parametrize("bug, text", [
    (dict(kind="mean"), "average pooling"),
    (dict(default_stride=1), "stride=None means the stride equals the pool size"),
    (dict(ignore_stride=True), "you moved the window by the pool size"),
    (dict(keep_partial=True), "you kept the partial windows"),
    (dict(zero_init=True), "not from 0"),
    (dict(window_step=False), "window (i, j) starts at row i, column j"),
    (dict(transpose=True), "transposed"),
    (dict(batch_axes=True), "without the batch and channel axes"),
])
def test_02_3_typical_bugs(bug, text):
    assert text in wrong("02.3", make_pool(**bug))


def test_02_3_names_the_failing_case_and_reports_errors():
    assert outcome("02.3", make_pool()).status == "correct"
    msg = wrong("02.3", make_pool(ignore_stride=True))
    assert "on a 9×9 map (random values in [-1, 1)), size=3, stride=2" in msg
    assert "expected shape (4, 4), got (3, 3)" in msg

    def slow_pool(fmap, size=2, stride=None):
        out = make_pool()(fmap, size, stride)
        out[-1, -1] += 0.5
        return out
    assert "out[1, 1] expected" in wrong("02.3", slow_pool)

    def broken(fmap, size=2, stride=None):
        return fmap[100]
    assert "raised IndexError" in wrong("02.3", broken)
    assert "should be your function" in wrong("02.3", np.zeros((2, 2)))


def test_02_3_every_case_has_a_negative_window():
    """Otherwise the 'maximum started at 0' bug could not be caught."""
    assert any((pool(fmap, size, stride) < 0).any() for fmap, size, stride in nb02.max_pool_case_arrays())


# --------------------------------------------------------------------------- 02.4
def test_02_4_stack_matches_a_keras_measurement():
    """The checker's answer is the measured receptive field of the stack, not only the formula."""
    import keras
    import tensorflow as tf
    size = 96
    layers = [keras.layers.Conv2D(1, k, strides=s, use_bias=False, kernel_initializer="ones")
              if name.startswith("conv") else keras.layers.AveragePooling2D(k, strides=s)
              for name, k, s in nb02.RF_STACK]
    expected = []
    for depth in range(1, len(layers) + 1):
        model = keras.Sequential([keras.Input((size, size, 1))] + layers[:depth])
        x = tf.ones((1, size, size, 1))
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = model(x)
            unit = y[0, y.shape[1] // 2, y.shape[2] // 2, 0]
        rows = np.nonzero(tape.gradient(unit, x).numpy()[0, :, :, 0].sum(axis=1))[0]
        expected.append(int(rows.max() - rows.min() + 1))
    assert nb02._receptive_fields(nb02.RF_STACK) == expected == [5, 6, 10, 14, 22]


@pytest.mark.parametrize("answer, text", [
    ([5, 6, 8, 10, 12], "forgot the jump"),
    ([5, 7, 11, 19, 27], "already includes its own stride"),
    ([5, 2, 3, 3, 3], "accumulates from r0 = 1"),
    ([4, 5, 9, 13, 21], "accumulates from r0 = 1"),
    ([5, 5, 9, 13, 21], "has a 2×2 window too"),
    ([5, 7, 10, 13, 16], "layer 2 (max pool 2×2): r = 5 + (2 − 1)·1 = 6"),
    ([5, 6, 10, 12, 20], "layer 4 (conv 3×3, stride 2): r = 10 + (3 − 1)·2 = 14"),
    (22, "not only the last one"),
    ([5, 6, 10, 14], "expected 5 numbers"),
    ([5.0, 6, 10, 14, 22], "whole numbers"),
])
def test_02_4_typical_wrong_answers(answer, text):
    assert text in wrong("02.4", answer)


# --------------------------------------------------------------------------- 02.5
@pytest.mark.parametrize("answer, text", [
    ((62720, 1290), "you forgot the 10 biases"),
    ((62730, 1280), "you forgot the 10 biases"),
    ((62721, 1290), "one bias per unit (10)"),
    ((500, 1290), "you forgot the channels"),
    ((62730, 62730), "one number per channel (128), not one per position"),
    ((62730, 500), "GAP averages away the 7×7 positions"),
    ((1290, 62730), "swapped"),
    ((62730, 1300), "a Dense(10) on n inputs"),
    ((62730.0, 1290), "whole numbers"),
    (62730, "should be a pair"),
])
def test_02_5_typical_wrong_counts(answer, text):
    assert text in wrong("02.5", answer)
