"""Exercises of 01_convolution.ipynb: the notebook's own solutions pass their checks, each
typical wrong answer gets its specific message, and an untouched task is "not attempted"."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

from cnnlib import exercises, ops
from cnnlib.exercises import nb01
from tests.exercise_harness import exercise_cells as harness_exercise_cells, answer_name, notebook_cells, outcome, source, wrong

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_convolution.ipynb"
IDS = ["01.1", "01.2", "01.3", "01.4", "01.5"]


def cells():
    return notebook_cells(NOTEBOOK)


def exercise_cells(id):
    """The prompt, task, solution and check cells of exercise ``id``, in notebook order."""
    return harness_exercise_cells(NOTEBOOK, id)


def notebook_namespace() -> dict:
    """np, ops and the notebook's x_small, taken from the notebook's own cell."""
    src = next(source(c) for c in cells() if "x_small = np.array" in source(c))
    ns = {"np": np, "ops": ops}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(src, ns)
    return ns


# --------------------------------------------------------------------------- the notebook's own cells (structure: tests/test_exercises.py)
def test_notebook_x_small_is_the_checkers():
    assert np.array_equal(notebook_namespace()["x_small"], nb01.X_SMALL)


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
    with pytest.raises(AssertionError, match="01.4"):
        exercises.check("01.4", (28, 28, 28))


# --------------------------------------------------------------------------- 01.1
SOBEL_Y = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]])


def correlate(x, k, **kw):
    return ops.conv2d(np.asarray(x, float)[None, :, :, None], np.asarray(k, float)[:, :, None, None],
                      **kw)[0, :, :, 0]


def test_01_1_flipped_kernel():
    msg = wrong("01.1", correlate(nb01.X_SMALL, SOBEL_Y, flip_kernel=True))
    assert "flipped the kernel" in msg and "cross-correlation" in msg


def test_01_1_same_padding():
    msg = wrong("01.1", correlate(nb01.X_SMALL, SOBEL_Y, padding="same"))
    assert "expected shape (3, 3), got (5, 5)" in msg and "'same'" in msg


def test_01_1_transposed_and_wrong_kernel_and_one_slip():
    assert "transposed" in wrong("01.1", correlate(nb01.X_SMALL, SOBEL_Y).T)
    assert "vertical-edge kernel" in wrong("01.1", correlate(nb01.X_SMALL, nb01.K_VERTICAL))
    slip = correlate(nb01.X_SMALL, SOBEL_Y)
    slip[1, 2] += 1
    msg = wrong("01.1", slip)
    assert "out[1, 2]: expected 17, got 18" in msg and "x_small[1:4, 2:5]" in msg


def test_01_1_not_an_array():
    assert "should be an array of numbers" in wrong("01.1", "twelve")


# --------------------------------------------------------------------------- 01.2
@pytest.mark.parametrize("formula, text", [
    (lambda n, k, s=1, p=0: (n + 2 * p - k) // s, "off by one"),
    (lambda n, k, s=1, p=0: (n + p - k) // s + 1, "on *each* side"),
    (lambda n, k, s=1, p=0: (n - k) // s + 1, "the padding is missing"),
    (lambda n, k, s=1, p=0: -(-(n + 2 * p - k) // s) + 1, "you rounded up"),
    (lambda n, k, s=1, p=0: (n + 2 * p - k) / s + 1, "Use integer division //"),
    (lambda n, k, s=1, p=0: float((n + 2 * p - k) // s + 1), "a float"),
    (lambda n, k, s=1, p=0: n + 2 * p - k + 1, "the stride is missing"),
    (lambda n, k, s=1, p=0: -(-n // s), "rule for padding='same'"),
])
def test_01_2_typical_wrong_formulas(formula, text):
    assert text in wrong("01.2", formula)


def test_01_2_names_the_failing_case():
    msg = wrong("01.2", lambda n, k, s=1, p=0: (n + 2 * p - k) // s)
    assert msg.count("output_size(n=5, k=3, s=1, p=0): expected 3, got 2") == 1
    msg = wrong("01.2", lambda n, k, s=1, p=0: n // k)
    assert "expected 3, got 1" in msg and "floor((n + 2p − k) / s) + 1" in msg


def test_01_2_errors_and_non_functions():
    assert "raised ZeroDivisionError" in wrong("01.2", lambda n, k, s=1, p=0: n // 0)
    assert "should be your function" in wrong("01.2", 26)


# --------------------------------------------------------------------------- 01.3
def make_conv(*, flip=False, window_step=True, pad=True, pad_mode="constant", one_side=False,
              stride_in_shape=True, ceil=False, transpose=False):
    """conv2d_stride with one deliberate bug switched on."""
    def conv(image, kernel, stride=1, padding=0):
        if pad:
            image = np.pad(image, ((padding, 0), (padding, 0)) if one_side else padding, mode=pad_mode)
        if flip:
            kernel = kernel[::-1, ::-1]
        kh, kw = kernel.shape
        s = stride if stride_in_shape else 1
        size = (lambda n, k: -(-(n - k) // s) + 1) if ceil else (lambda n, k: (n - k) // s + 1)
        out = np.zeros((size(image.shape[0], kh), size(image.shape[1], kw)))
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                r, c = (i * stride, j * stride) if window_step else (i, j)
                win = image[r:r + kh, c:c + kw]
                if win.shape != kernel.shape:
                    win = np.pad(win, ((0, kh - win.shape[0]), (0, kw - win.shape[1])))
                out[i, j] = (win * kernel).sum()
        return out.T if transpose else out
    return conv


@pytest.mark.parametrize("bug, text", [
    (dict(flip=True), "flipped the kernel"),
    (dict(window_step=False), "with stride 2 it starts at row 2·i"),
    (dict(stride_in_shape=False, window_step=False), "that is the stride-1 shape"),
    (dict(pad=False), "the padding is missing"),
    (dict(one_side=True), "pad both sides"),
    (dict(pad_mode="edge"), "copies of the border pixels"),
    (dict(ceil=True), "rounded the number of positions up"),
])
def test_01_3_typical_bugs(bug, text):
    assert text in wrong("01.3", make_conv(**bug))


def test_01_3_correct_reference_passes_and_failing_case_is_named():
    assert outcome("01.3", make_conv()).status == "correct"
    msg = wrong("01.3", make_conv(pad=False))
    assert "on a 5×5 image and a 3×3 kernel (random integers), stride=1, padding=1" in msg
    assert "expected output shape (5, 5), got (3, 3)" in msg


def test_01_3_generic_value_slip_and_errors():
    def off(image, kernel, stride=1, padding=0):
        out = make_conv()(image, kernel, stride, padding)
        out[0, 1] += 1
        return out
    assert "out[0, 1] expected" in wrong("01.3", off)

    def broken(image, kernel, stride=1, padding=0):
        return image[10, 10]
    assert "raised IndexError" in wrong("01.3", broken)


# --------------------------------------------------------------------------- 01.4
@pytest.mark.parametrize("answer, text", [
    ((28, 28, 28), "'valid' padding shrinks the map by kernel − 1"),
    ((26, 26, 1), "each of the 28 filters makes one output channel"),
    ((27, 27, 28), "off by one"),
    ((25, 25, 28), "off by one"),
    ((None, 26, 26, 28), None),
    ((1, 26, 26, 28), "leave out the batch axis"),
    ((28, 26, 26), "channels last"),
    ((3, 3, 1, 28), "kernel array"),
    ((13, 13, 28), "n − k + 1"),
])
def test_01_4_typical_wrong_shapes(answer, text):
    msg = wrong("01.4", answer)
    assert msg.count("expected shape (26, 26, 28)") == 1 or "should be a shape" in msg
    if text:
        assert text in msg


def test_01_4_message_example():
    assert ("expected shape (26, 26, 28), got (28, 28, 28): 'valid' padding shrinks the map by "
            "kernel − 1") in wrong("01.4", (28, 28, 28))


# --------------------------------------------------------------------------- 01.5
@pytest.mark.parametrize("answer, text", [
    ((252, 16192), "got 252: you forgot the 28 biases, one per filter"),
    ((253, 16192), "one bias per filter (28)"),
    ((26 * 26 * 28, 16192), "do not depend on the image size"),
    ((280, 640), "you forgot the input channels"),
    ((280, 16128), "you forgot the 64 biases"),
    ((280, 16129), "one bias per filter (64)"),
    ((280, 16156), "not to its input channels"),
    ((280, 16472), "both layers together"),
    ((16192, 280), "swapped"),
    ((280, 5000), "spans all 28 input channels"),
    ((280.0, 16192.0), "whole numbers"),
    (280, "should be a pair"),
])
def test_01_5_typical_wrong_counts(answer, text):
    assert text in wrong("01.5", answer)


def test_01_5_accepts_numpy_integers():
    assert outcome("01.5", (np.int64(280), np.int64(16192))).status == "correct"
