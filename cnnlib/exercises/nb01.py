"""Checkers for the exercises of ``01_convolution.ipynb``.

Each checker returns the praise for a right answer and raises ``Wrong`` with a specific
explanation for a wrong one; the typical mistakes (flipped kernel, 'same' instead of
'valid', forgetting the +1, the biases or the input channels, ignoring the stride) each
get their own message.
"""
from __future__ import annotations

import numbers

import numpy as np

from cnnlib import ops
from cnnlib.exercises import Wrong, exercise

# The notebook's 5x5 input (section 2) and the kernel of exercise 01.1 (Sobel y).
X_SMALL = np.array([[3, 0, 1, 2, 7],
                    [1, 5, 8, 9, 3],
                    [2, 7, 2, 5, 1],
                    [0, 1, 3, 1, 7],
                    [4, 2, 1, 6, 2]])
K_SOBEL_Y = np.array([[1, 2, 1],
                      [0, 0, 0],
                      [-1, -2, -1]])
K_VERTICAL = np.array([[1, 0, -1],
                       [1, 0, -1],
                       [1, 0, -1]])


def _correlate(x, k, **kw):
    """One (H, W) image and one (KH, KW) kernel through ``ops.conv2d`` (float64)."""
    x = np.asarray(x, "float64")
    k = np.asarray(k, "float64")
    return ops.conv2d(x[None, :, :, None], k[:, :, None, None], **kw)[0, :, :, 0]


def _as_array(answer, what: str) -> np.ndarray:
    try:
        arr = np.asarray(answer, dtype="float64")
    except (TypeError, ValueError):
        raise Wrong(f"{what} should be an array of numbers (e.g. np.array([[...], ...])), got "
                    f"{type(answer).__name__}.") from None
    return arr


def _same(a, b) -> bool:
    return a.shape == b.shape and np.allclose(a, b, atol=1e-6)


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


# --------------------------------------------------------------------------- 01.1
@exercise("01.1", "Cross-correlation by hand", stars=1,
          mistake="flipping the kernel (true convolution instead of the cross-correlation "
                  "Keras computes), or padding a 'valid' convolution")
def check_01_1(answer) -> str:
    expected = _correlate(X_SMALL, K_SOBEL_Y)
    got = _as_array(answer, "answer_01_1")
    if got.shape == (5, 5) and _same(got, _correlate(X_SMALL, K_SOBEL_Y, padding="same")):
        raise Wrong("expected shape (3, 3), got (5, 5): you padded the image ('same'). Without "
                    "padding ('valid') a 3×3 kernel fits in only 3×3 positions of a 5×5 image.")
    if got.shape != (3, 3):
        raise Wrong(f"expected shape (3, 3), got {got.shape}: without padding a 3×3 kernel fits "
                    "in 5 − 3 + 1 = 3 positions along each axis.")
    if _same(got, expected):
        return ("Every window times the kernel, summed: this is what Conv2D computes. Rows 0 "
                "and 2 of the kernel compare the top and bottom of each window, so it responds "
                "to horizontal edges.")
    if _same(got, _correlate(X_SMALL, K_SOBEL_Y, flip_kernel=True)):
        raise Wrong(f"expected out[0, 0] = {expected[0, 0]:g}, got {got[0, 0]:g}, and every other "
                    "value has the wrong sign: you flipped the kernel by 180°. That is the true "
                    "convolution of mathematics; Keras's Conv2D (and this course) lays the kernel "
                    "on the window as it is: cross-correlation.")
    if _same(got, expected.T):
        raise Wrong("your array is the right one transposed: out[i, j] comes from the window "
                    "starting at row i and column j (x_small[i:i + 3, j:j + 3]).")
    if _same(got, _correlate(X_SMALL, K_VERTICAL)):
        raise Wrong("that is the vertical-edge kernel's output from section 2; this exercise uses "
                    "the Sobel-y kernel [[1, 2, 1], [0, 0, 0], [-1, -2, -1]].")
    bad = np.argwhere(~np.isclose(got, expected, atol=1e-6))[0]
    i, j = int(bad[0]), int(bad[1])
    window = X_SMALL[i:i + 3, j:j + 3]
    raise Wrong(f"out[{i}, {j}]: expected {expected[i, j]:g}, got {got[i, j]:g}. It is the window "
                f"x_small[{i}:{i + 3}, {j}:{j + 3}] = {window.tolist()} multiplied element by "
                "element with the kernel, then summed (only the top and bottom rows count, the "
                "kernel's middle row is 0).")


# --------------------------------------------------------------------------- 01.2
OUTPUT_SIZE_CASES = [(5, 3, 1, 0), (28, 3, 1, 0), (5, 3, 1, 1), (28, 5, 1, 2), (32, 3, 2, 0),
                     (7, 2, 2, 0), (32, 3, 2, 1), (32, 5, 3, 0), (224, 7, 2, 3)]


@exercise("01.2", "The output-size formula", stars=2,
          mistake="forgetting the +1, padding only one side, rounding up instead of down, or "
                  "using the 'same' rule ceil(n / s) when the padding is given")
def check_01_2(output_size) -> str:
    if not callable(output_size):
        raise Wrong(f"answer_01_2 should be your function output_size, got "
                    f"{type(output_size).__name__}.")
    for n, k, s, p in OUTPUT_SIZE_CASES:
        case = f"output_size(n={n}, k={k}, s={s}, p={p})"
        try:
            got = output_size(n, k, s, p)
        except NotImplementedError:
            raise
        except Exception as exc:  # noqa: BLE001 - explain the learner's error with its inputs
            raise Wrong(f"{case} raised {type(exc).__name__}: {exc}.") from None
        expected = ops.conv_output_size(n, k, s, p)
        if _is_int(got) and got == expected:
            continue
        if isinstance(got, (numbers.Real, np.floating)) and not _is_int(got) \
                and float(got) == expected:
            raise Wrong(f"{case} returned {got!r}, a float: a number of positions is an integer. "
                        "Use integer division // (which also rounds down).")
        if not isinstance(got, (numbers.Real, np.floating)):
            raise Wrong(f"{case} should return an integer, got {type(got).__name__} {got!r}.")
        head = f"{case}: expected {expected}, got {got:g}"
        span = n + 2 * p - k
        # the cases without padding come first, so a slip seen only with p > 0 is about p
        if p and got == (n + p - k) // s + 1:
            raise Wrong(f"{head}: p zeros go on *each* side, so the padded length is n + 2p.")
        if p and got == (n - k) // s + 1:
            raise Wrong(f"{head}: the padding is missing; p zeros on each side make the input "
                        "n + 2p long.")
        if got == span // s:
            raise Wrong(f"{head}: off by one. (n + 2p − k) // s counts the *steps* the window "
                        "can take; add 1 for its first position.")
        if got == -(-span // s) + 1:
            raise Wrong(f"{head}: you rounded up. Round down: a window that would hang over the "
                        "edge is not used.")
        if s > 1 and got == span + 1:
            raise Wrong(f"{head}: the stride is missing; with stride s the window moves s "
                        "pixels at a time, so divide the steps by s.")
        if got == -(-n // s):
            raise Wrong(f"{head}: ceil(n / s) is the rule for padding='same', where Keras picks "
                        "the padding itself. Here p is given: floor((n + 2p − k) / s) + 1.")
        raise Wrong(f"{head}: the formula is floor((n + 2p − k) / s) + 1.")
    return ("floor((n + 2p − k) / s) + 1 on every case, including strides where the floor "
            "drops a window that would hang over the edge.")


# --------------------------------------------------------------------------- 01.3
# (image height, image width, kernel height, kernel width, stride, padding)
STRIDE_CASES = [(5, 5, 3, 3, 1, 0), (5, 5, 3, 3, 1, 1), (7, 7, 3, 3, 2, 0), (8, 8, 3, 3, 2, 1),
                (9, 7, 2, 3, 3, 0), (6, 6, 4, 4, 2, 2), (10, 8, 3, 2, 3, 1)]
STRIDE_SEED = 18


def stride_case_arrays(seed: int = STRIDE_SEED):
    """The inputs of exercise 01.3's cases: (image, kernel, stride, padding), small integers."""
    rng = np.random.default_rng(seed)
    for h, w, kh, kw, s, p in STRIDE_CASES:
        yield (rng.integers(-4, 5, (h, w)).astype("float64"),
               rng.integers(-3, 4, (kh, kw)).astype("float64"), s, p)


@exercise("01.3", "Convolution with stride and padding in NumPy", stars=3,
          mistake="moving the window one pixel per output position whatever the stride, "
                  "forgetting the padding or flipping the kernel")
def check_01_3(conv) -> str:
    if not callable(conv):
        raise Wrong(f"answer_01_3 should be your function conv2d_stride, got {type(conv).__name__}.")
    for image, kernel, s, p in stride_case_arrays():
        (h, w), (kh, kw) = image.shape, kernel.shape
        case = (f"a {h}×{w} image and a {kh}×{kw} kernel (random integers), stride={s}, "
                f"padding={p}")
        try:
            got = conv(image.copy(), kernel.copy(), stride=s, padding=p)
        except NotImplementedError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise Wrong(f"on {case} your function raised {type(exc).__name__}: {exc}.") from None
        got = _as_array(got, f"the result on {case}")
        expected = _correlate(image, kernel, stride=s, padding=p)
        if _same(got, expected):
            continue
        head = f"on {case}"
        if got.shape != expected.shape:
            shapes = {
                "stride": _correlate(image, kernel, padding=p).shape,
                "padding": _correlate(image, kernel, stride=s).shape if p else None,
                "one side": _correlate(np.pad(image, ((p, 0), (p, 0))), kernel, stride=s).shape
                if p else None,
                "ceil": tuple(-(-(n + 2 * p - k) // s) + 1 for n, k in zip(image.shape, kernel.shape)),
            }
            msg = f"{head}: expected output shape {expected.shape}, got {got.shape}"
            if s > 1 and got.shape == shapes["stride"]:
                raise Wrong(f"{msg}: that is the stride-1 shape. With stride {s} the window "
                            f"moves {s} pixels, so there are (n + 2p − k) // {s} + 1 positions.")
            if got.shape == shapes["padding"]:
                raise Wrong(f"{msg}: the padding is missing; add {p} zero rows and columns on "
                            "every side first (np.pad(image, padding)).")
            if got.shape == shapes["one side"]:
                raise Wrong(f"{msg}: pad both sides, top and bottom, left and right "
                            "(np.pad(image, padding) does).")
            if got.shape == shapes["ceil"]:
                raise Wrong(f"{msg}: you rounded the number of positions up; a window that "
                            "would hang over the edge is not used (floor).")
            raise Wrong(f"{msg}: along each axis the size is (n + 2p − k) // s + 1.")
        if _same(got, _correlate(image, kernel, stride=s, padding=p, flip_kernel=True)):
            raise Wrong(f"{head}: your output is the true convolution: you flipped the kernel. "
                        "Conv2D lays the kernel on each window as it is (cross-correlation).")
        if s > 1:
            dense = _correlate(image, kernel, padding=p)[:expected.shape[0], :expected.shape[1]]
            if _same(got, dense):
                raise Wrong(f"{head}: the shape is right but output (i, j) reads the window at "
                            f"row i, column j; with stride {s} it starts at row {s}·i, column "
                            f"{s}·j of the padded image.")
        if p:
            edge = _correlate(np.pad(image, p, mode="edge"), kernel, stride=s)
            if _same(got, edge):
                raise Wrong(f"{head}: you padded with copies of the border pixels; padding adds "
                            "zeros (np.pad's default mode='constant').")
        if _same(got, expected.T):
            raise Wrong(f"{head}: your output is transposed; out[i, j] comes from row {s}·i and "
                        f"column {s}·j.")
        bad = np.argwhere(~np.isclose(got, expected, atol=1e-6))[0]
        i, j = int(bad[0]), int(bad[1])
        raise Wrong(f"{head}: out[{i}, {j}] expected {expected[i, j]:g}, got {got[i, j]:g}. It is "
                    f"the sum of padded_image[{s * i}:{s * i + kh}, {s * j}:{s * j + kw}] * kernel.")
    return (f"equal to cnnlib.ops.conv2d on all {len(STRIDE_CASES)} cases, rectangular kernels "
            "and uneven strides included.")


# --------------------------------------------------------------------------- 01.4
@exercise("01.4", "Output shape of a Conv2D layer", stars=1,
          mistake="keeping the input size with 'valid' padding, or forgetting that each filter "
                  "makes one output channel")
def check_01_4(answer) -> str:
    try:
        got = tuple(int(v) for v in answer)
    except (TypeError, ValueError):
        raise Wrong(f"answer_01_4 should be a shape, a tuple like (height, width, channels), got "
                    f"{answer!r}.") from None
    expected = (26, 26, 28)
    if got == expected:
        return ("28 − 3 + 1 = 26 positions along each axis, and one output channel per filter: "
                "(26, 26, 28).")
    head = f"expected shape {expected}, got {got}"
    if len(got) == 4 and got[1:] == expected:
        raise Wrong(f"{head}: leave out the batch axis; give (height, width, channels) of one "
                    "image's output.")
    if got == (28, 28, 28):
        raise Wrong(f"{head}: 'valid' padding shrinks the map by kernel − 1 (28 → 26); keeping "
                    "28×28 is padding='same'.")
    if got == (3, 3, 1, 28):
        raise Wrong(f"{head}: (3, 3, 1, 28) is the shape of the layer's kernel array, not of "
                    "its output.")
    if len(got) == 3 and got[:2] == (26, 26):
        raise Wrong(f"{head}: each of the 28 filters makes one output channel, so the output "
                    "has 28 channels, whatever the input had.")
    if got == (28, 26, 26):
        raise Wrong(f"{head}: Keras keeps channels last: (height, width, channels).")
    if len(got) == 3 and got[2] == 28 and got[0] == got[1] and got[0] in (25, 27):
        raise Wrong(f"{head}: off by one. A 3-wide kernel fits in 28 − 3 + 1 = 26 positions.")
    raise Wrong(f"{head}: with 'valid' padding each side becomes n − k + 1, and there is one "
                "channel per filter.")


# --------------------------------------------------------------------------- 01.5
@exercise("01.5", "Parameter counts of two conv layers", stars=2,
          mistake="forgetting the biases, or forgetting that each filter spans all input "
                  "channels (3·3·28 weights per filter in the second layer)")
def check_01_5(answer) -> str:
    try:
        p1, p2 = answer
    except (TypeError, ValueError):
        raise Wrong(f"answer_01_5 should be a pair (first layer, second layer) of parameter "
                    f"counts, got {answer!r}.") from None
    if not (_is_int(p1) and _is_int(p2)):
        raise Wrong(f"parameter counts are whole numbers; got {p1!r} and {p2!r}.")
    e1, e2 = ops.conv2d_params(3, 1, 28), ops.conv2d_params(3, 28, 64)
    if (p1, p2) == (e1, e2):
        return (f"{e1:,} and {e2:,}: 3·3·1·28 + 28 and 3·3·28·64 + 64. Neither depends on the "
                "26×26 or 24×24 size of the maps.")
    if (p1, p2) == (e2, e1):
        raise Wrong(f"your two counts are swapped: the first layer (1 input channel) has {e1:,}.")
    if p1 != e1:
        head = f"first layer: expected {e1:,} parameters, got {p1:,}"
        if p1 == 3 * 3 * 28:
            raise Wrong(f"{head}: you forgot the 28 biases, one per filter.")
        if p1 == 3 * 3 * 28 + 1:
            raise Wrong(f"{head}: there is one bias per filter (28), not one per layer.")
        if p1 in (26 * 26 * 28, 26 * 26 * 28 + 28, 28 * 28 * 28):
            raise Wrong(f"{head}: that counts positions of the output. A conv layer's parameters "
                        "do not depend on the image size: each filter has 3·3·1 weights, shared "
                        "by all positions, plus a bias.")
        raise Wrong(f"{head}: each of the 28 filters has 3·3·1 weights and one bias.")
    head = f"second layer: expected {e2:,} parameters, got {p2:,}"
    if p2 == 3 * 3 * 28 * 64:
        raise Wrong(f"{head}: you forgot the 64 biases, one per filter.")
    if p2 == 3 * 3 * 28 * 64 + 1:
        raise Wrong(f"{head}: there is one bias per filter (64), not one per layer.")
    if p2 == 3 * 3 * 64 + 64:
        raise Wrong(f"{head}: you forgot the input channels. The second layer's input has 28 "
                    "channels and each filter spans all of them: 3·3·28 weights per filter.")
    if p2 == 3 * 3 * 28 * 64 + 28:
        raise Wrong(f"{head}: the biases belong to the filters of this layer (64), not to its "
                    "input channels (28).")
    if p2 == e1 + e2:
        raise Wrong(f"{head}: that is both layers together; give the second layer alone.")
    if p2 in (24 * 24 * 64, 24 * 24 * 64 + 64):
        raise Wrong(f"{head}: that counts positions of the output; the parameters do not depend "
                    "on the image size.")
    raise Wrong(f"{head}: each of the 64 filters has 3·3·28 weights (it spans all 28 input "
                "channels) and one bias.")
