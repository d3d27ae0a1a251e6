"""Checkers for the exercises of ``02_pooling.ipynb``.

Each checker returns the praise for a right answer and raises ``Wrong`` with a specific
explanation for a wrong one; the typical mistakes (average instead of max, overlapping
windows with the wrong stride, the 'same' rule for 'valid', a receptive field without the
jump, forgetting the biases or the channels) each get their own message.
"""
from __future__ import annotations

import numbers

import numpy as np

from cnnlib import ops
from cnnlib.exercises import Wrong, exercise

# The 4x4 feature map of exercise 02.1.
POOL_ME = np.array([[2, 9, 4, 1],
                    [5, 3, 0, 7],
                    [8, 1, 6, 2],
                    [4, 4, 3, 5]], dtype="float64")


def _pool(fmap, size, stride=None, kind="max", padding="valid"):
    """One (H, W) map through ``ops.max_pool2d`` / ``ops.avg_pool2d`` (float64)."""
    fn = ops.max_pool2d if kind == "max" else ops.avg_pool2d
    x = np.asarray(fmap, "float64")[None, :, :, None]
    return fn(x, size, stride, padding=padding)[0, :, :, 0]


def _as_array(answer, what: str) -> np.ndarray:
    try:
        return np.asarray(answer, dtype="float64")
    except (TypeError, ValueError):
        raise Wrong(f"{what} should be an array of numbers (e.g. np.array([[...], ...])), got "
                    f"{type(answer).__name__}.") from None


def _same(a, b) -> bool:
    return a.shape == b.shape and np.allclose(a, b, atol=1e-6)


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _shape(v, what: str) -> tuple:
    try:
        return tuple(int(d) for d in v)
    except (TypeError, ValueError):
        raise Wrong(f"{what} should be a shape, a tuple of integers like (height, width, "
                    f"channels), got {v!r}.") from None


# --------------------------------------------------------------------------- 02.1
@exercise("02.1", "Max pooling by hand", stars=1,
          mistake="averaging instead of taking the maximum, or sliding the 2×2 window one "
                  "pixel at a time (the stride defaults to the pool size)")
def check_02_1(answer) -> str:
    expected = _pool(POOL_ME, 2)
    got = _as_array(answer, "answer_02_1")
    if got.shape == (3, 3) and _same(got, _pool(POOL_ME, 2, 1)):
        raise Wrong("expected shape (2, 2), got (3, 3): you moved the window one pixel at a "
                    "time. MaxPooling2D(2) uses stride 2 (the stride defaults to the pool size), "
                    "so the four windows sit side by side.")
    if got.shape != (2, 2):
        raise Wrong(f"expected shape (2, 2), got {got.shape}: a 4×4 map holds 2×2 windows of "
                    "2×2 side by side.")
    if _same(got, expected):
        return "one maximum per 2×2 window: [[9, 7], [8, 6]]."
    if _same(got, _pool(POOL_ME, 2, kind="avg")):
        raise Wrong(f"expected {expected.tolist()}, got {got.tolist()}: those are the windows' "
                    "means, which is average pooling. Max pooling keeps the largest number.")
    if _same(got, expected.T):
        raise Wrong(f"expected {expected.tolist()}, got {got.tolist()}: transposed. out[i, j] "
                    "is the window of rows 2i, 2i+1 and columns 2j, 2j+1.")
    if _same(got, -_pool(-POOL_ME, 2)):
        raise Wrong(f"expected {expected.tolist()}, got {got.tolist()}: those are the minima; "
                    "max pooling keeps the largest number of each window.")
    bad = np.argwhere(~np.isclose(got, expected))[0]
    i, j = int(bad[0]), int(bad[1])
    window = POOL_ME[2 * i:2 * i + 2, 2 * j:2 * j + 2].astype(int)
    raise Wrong(f"out[{i}, {j}]: expected {expected[i, j]:g}, got {got[i, j]:g}. Its window is "
                f"rows {2 * i}-{2 * i + 1}, columns {2 * j}-{2 * j + 1}: {window.tolist()}, "
                f"whose maximum is {window.max()}.")


# --------------------------------------------------------------------------- 02.2
@exercise("02.2", "Pooling output shapes", stars=2,
          mistake="using the 'same' rule ceil(n / s) for 'valid' (or the reverse), the pool "
                  "size as the stride, or thinking pooling changes the number of channels")
def check_02_2(answer) -> str:
    try:
        valid, same, glob = answer
    except (TypeError, ValueError):
        raise Wrong(f"answer_02_2 should be three shapes (valid, same, global), got "
                    f"{answer!r}.") from None
    valid = _shape(valid, "the first shape ('valid')")
    same = _shape(same, "the second shape ('same')")
    glob = _shape(glob, "the third shape (global max pooling)")
    expected = ((6, 6, 64), (7, 7, 64), (64,))
    if (valid, same, glob) == expected:
        return ("'valid': floor((13 − 3) / 2) + 1 = 6; 'same': ceil(13 / 2) = 7; global pooling "
                "keeps one number per channel. The 64 channels never change.")
    for name, got, exp in (("'valid'", valid, expected[0]), ("'same'", same, expected[1])):
        if got == exp:
            continue
        head = f"{name}: expected {exp}, got {got}"
        if len(got) == 3 and got[2] != 64:
            raise Wrong(f"{head}: pooling works on each channel separately, so the 64 channels "
                        "stay 64.")
        if len(got) == 4:
            raise Wrong(f"{head}: leave out the batch axis: (height, width, channels).")
        side = got[0] if len(got) == 3 and got[0] == got[1] else None
        if name == "'valid'" and side == 7:
            raise Wrong(f"{head}: ceil(13 / 2) = 7 is the 'same' rule. 'valid' adds no padding "
                        "and drops a window that would hang over the edge: "
                        "floor((13 − 3) / 2) + 1 = 6.")
        if name == "'same'" and side == 6:
            raise Wrong(f"{head}: 'same' pads just enough for ceil(n / s) = ceil(13 / 2) = 7 "
                        "positions; floor((13 − 3) / 2) + 1 = 6 is 'valid'.")
        if side == (4 if name == "'valid'" else 5):
            raise Wrong(f"{head}: that uses stride 3, the pool size. This layer sets strides=2, "
                        "so its 3×3 windows overlap.")
        if side == 11 and name == "'valid'":
            raise Wrong(f"{head}: that is stride 1; the windows move 2 pixels at a time.")
        if side == 5 and name == "'valid'":
            raise Wrong(f"{head}: off by one: (13 − 3) / 2 counts the steps; add 1 for the "
                        "first window.")
        raise Wrong(f"{head}: the output size is floor((n − k) / s) + 1 for 'valid' and "
                    "ceil(n / s) for 'same'.")
    head = f"global max pooling: expected {expected[2]}, got {glob}"
    if glob == (1, 1, 64):
        raise Wrong(f"{head}: GlobalMaxPooling2D drops the height and width axes (unless you "
                    "ask for keepdims=True): one number per channel.")
    if glob == (64, 64):
        raise Wrong(f"{head}: one number per channel, a vector of 64.")
    raise Wrong(f"{head}: global pooling takes the whole map as one window, leaving one number "
                "per channel.")


# --------------------------------------------------------------------------- 02.3
# (height, width, size, stride); stride None means "the pool size", as in Keras
MAX_POOL_CASES = [(4, 4, 2, None), (6, 8, 2, None), (7, 5, 2, None), (9, 9, 3, 2), (8, 6, 3, 1),
                  (11, 10, 2, 3)]
MAX_POOL_SEED = 18


def max_pool_case_arrays(seed: int = MAX_POOL_SEED):
    """The inputs of exercise 02.3's cases: (fmap, size, stride), values in [-1, 1)."""
    rng = np.random.default_rng(seed)
    for h, w, size, stride in MAX_POOL_CASES:
        yield rng.uniform(-1, 1, (h, w)).round(2), size, stride


@exercise("02.3", "Max pooling in NumPy", stars=3,
          mistake="using stride 1 (or always the pool size) instead of the given stride, "
                  "keeping the partial windows at the edge, or starting the maximum at 0")
def check_02_3(max_pool) -> str:
    if not callable(max_pool):
        raise Wrong(f"answer_02_3 should be your function max_pool, got "
                    f"{type(max_pool).__name__}.")
    for fmap, size, stride in max_pool_case_arrays():
        h, w = fmap.shape
        case = f"a {h}×{w} map (random values in [-1, 1)), size={size}, stride={stride}"
        try:
            got = max_pool(fmap.copy(), size, stride)
        except NotImplementedError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise Wrong(f"on {case} your function raised {type(exc).__name__}: {exc}.") from None
        got = _as_array(got, f"the result on {case}")
        expected = _pool(fmap, size, stride)
        if _same(got, expected):
            continue
        head = f"on {case}"
        s = size if stride is None else stride
        if got.shape != expected.shape:
            msg = f"{head}: expected shape {expected.shape}, got {got.shape}"
            if got.ndim == 4 and got.shape[0] == got.shape[3] == 1 \
                    and _same(got[0, :, :, 0], expected):
                raise Wrong(f"{msg}: return the pooled (H, W) map itself, without the batch and "
                            "channel axes.")
            if stride is None and got.shape == _pool(fmap, size, 1).shape:
                raise Wrong(f"{msg}: stride=None means the stride equals the pool size "
                            "(Keras's default), so the windows sit side by side.")
            if s != size and got.shape == _pool(fmap, size, size).shape:
                raise Wrong(f"{msg}: you moved the window by the pool size ({size}); use the "
                            f"stride you were given ({s}).")
            if s != 1 and got.shape == _pool(fmap, size, 1).shape:
                raise Wrong(f"{msg}: you moved the window one pixel at a time; use the stride "
                            f"({s}).")
            if got.shape == _pool(fmap, size, stride, padding="same").shape:
                raise Wrong(f"{msg}: you kept the partial windows at the bottom or right edge. "
                            f"Like padding='valid', drop them: (n − {size}) // {s} + 1 windows "
                            "along each axis.")
            raise Wrong(f"{msg}: along each axis there are (n − size) // stride + 1 windows.")
        if _same(got, _pool(fmap, size, stride, kind="avg")):
            raise Wrong(f"{head}: your values are the windows' means (average pooling); keep "
                        "each window's maximum.")
        if (expected < 0).any() and _same(got, np.maximum(expected, 0)):
            raise Wrong(f"{head}: where a whole window is negative you return 0: start the "
                        "maximum from the window's own values (window.max()), not from 0.")
        if s != 1:
            dense = _pool(fmap, size, 1)[:expected.shape[0], :expected.shape[1]]
            if _same(got, dense):
                raise Wrong(f"{head}: the shape is right but window (i, j) starts at row i, "
                            f"column j; with stride {s} it starts at row {s}·i, column {s}·j.")
        if _same(got, expected.T):
            raise Wrong(f"{head}: your output is transposed; out[i, j] is the window starting "
                        f"at row {s}·i, column {s}·j.")
        bad = np.argwhere(~np.isclose(got, expected, atol=1e-6))[0]
        i, j = int(bad[0]), int(bad[1])
        raise Wrong(f"{head}: out[{i}, {j}] expected {expected[i, j]:g}, got {got[i, j]:g}, the "
                    f"maximum of fmap[{s * i}:{s * i + size}, {s * j}:{s * j + size}].")
    return (f"equal to cnnlib.ops.max_pool2d on all {len(MAX_POOL_CASES)} cases, overlapping "
            "windows, strides larger than the window and odd sizes included.")


# --------------------------------------------------------------------------- 02.4
# (name, kernel or pool size, stride)
RF_STACK = [("conv 5×5", 5, 1), ("max pool 2×2", 2, 2), ("conv 3×3", 3, 1),
            ("conv 3×3, stride 2", 3, 2), ("conv 3×3", 3, 1)]


def _receptive_fields(stack, *, jump_after=False, use_jump=True):
    r, j, out = 1, 1, []
    for _, k, s in stack:
        if jump_after:
            j *= s
        r += (k - 1) * (j if use_jump else 1)
        if not jump_after:
            j *= s
        out.append(r)
    return out


@exercise("02.4", "Receptive field of a stack", stars=2,
          mistake="adding k − 1 per layer without multiplying by the jump (the product of the "
                  "strides below), or forgetting that pooling has a window too")
def check_02_4(answer) -> str:
    if _is_int(answer):
        raise Wrong(f"give the receptive field after *each* of the {len(RF_STACK)} layers, a "
                    f"list of {len(RF_STACK)} integers, not only the last one ({answer}).")
    try:
        got = [v for v in answer]
    except TypeError:
        raise Wrong(f"answer_02_4 should be a list of {len(RF_STACK)} integers, got "
                    f"{answer!r}.") from None
    if not all(_is_int(v) for v in got):
        raise Wrong(f"receptive fields are whole numbers of pixels; got {got!r}.")
    got = [int(v) for v in got]
    expected = _receptive_fields(RF_STACK)
    if len(got) != len(expected):
        raise Wrong(f"expected {len(expected)} numbers, one per layer, got {len(got)}.")
    if got == expected:
        return (f"{expected}: each layer adds (k − 1) × the jump below it, and the jump doubles "
                "after each stride-2 layer, so the field grows faster the deeper you go.")
    head = f"expected {expected}, got {got}"
    if got == _receptive_fields(RF_STACK, use_jump=False):
        raise Wrong(f"{head}: you added k − 1 per layer but forgot the jump. After the stride-2 "
                    "pool, neighbouring units are 2 input pixels apart, so a 3×3 conv adds "
                    "(3 − 1)·2 = 4 pixels, not 2.")
    if got == _receptive_fields(RF_STACK, jump_after=True):
        raise Wrong(f"{head}: you multiplied each layer's k − 1 by a jump that already includes "
                    "its own stride. A layer's window is spread by the jump *below* it "
                    "(r = r_prev + (k − 1)·j_prev); its stride only affects the layers above.")
    if got == [k for _, k, _ in RF_STACK] or got[0] == RF_STACK[0][1] - 1:
        raise Wrong(f"{head}: the receptive field accumulates from r0 = 1 (a pixel sees "
                    "itself): a 5×5 conv sees 1 + (5 − 1)·1 = 5 pixels, and each layer adds to "
                    "the field of the one below.")
    prev_r, prev_j = 1, 1
    for (name, k, s), r, g in zip(RF_STACK, expected, got):
        if g != r:
            layer = next(i for i, (a, b) in enumerate(zip(expected, got), 1) if a != b)
            if "pool" in name and g == prev_r:
                raise Wrong(f"{head}: layer {layer} ({name}) has a {k}×{k} window too, so it "
                            f"widens the field by ({k} − 1)·{prev_j} = {(k - 1) * prev_j}.")
            raise Wrong(f"{head}: layer {layer} ({name}): r = {prev_r} + ({k} − 1)·{prev_j} = "
                        f"{r}, where {prev_j} is the jump (the product of the strides) below it.")
        prev_r, prev_j = r, prev_j * s
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- 02.5
@exercise("02.5", "Flatten or global average pooling: the head's parameters", stars=1,
          mistake="forgetting the biases or the channels of the feature map")
def check_02_5(answer) -> str:
    try:
        flat, gap = answer
    except (TypeError, ValueError):
        raise Wrong(f"answer_02_5 should be a pair (Flatten head, GAP head) of parameter counts, "
                    f"got {answer!r}.") from None
    if not (_is_int(flat) and _is_int(gap)):
        raise Wrong(f"parameter counts are whole numbers; got {flat!r} and {gap!r}.")
    ef, eg = ops.dense_params(7 * 7 * 128, 10), ops.dense_params(128, 10)
    if (flat, gap) == (ef, eg):
        return (f"{ef:,} against {eg:,}: Flatten feeds 7·7·128 = 6,272 numbers to each of the 10 "
                f"units, GAP only 128, about {ef / eg:.0f}× fewer parameters.")
    if (flat, gap) == (eg, ef):
        raise Wrong(f"your two counts are swapped: the Flatten head is the big one ({ef:,}).")
    for name, got, exp, n_in in (("Flatten head", flat, ef, 7 * 7 * 128), ("GAP head", gap, eg, 128)):
        if got == exp:
            continue
        head = f"{name}: expected {exp:,} parameters, got {got:,}"
        if got == n_in * 10:
            raise Wrong(f"{head}: you forgot the 10 biases of the Dense layer, one per unit.")
        if got == n_in * 10 + 1:
            raise Wrong(f"{head}: there is one bias per unit (10), not one per layer.")
        if name == "Flatten head" and got == 7 * 7 * 10 + 10:
            raise Wrong(f"{head}: you forgot the channels. Flatten turns 7×7×128 into "
                        "7·7·128 = 6,272 numbers, each with its own weight to each unit.")
        if name == "GAP head" and got == ef:
            raise Wrong(f"{head}: global average pooling leaves one number per channel (128), "
                        "not one per position.")
        if name == "GAP head" and got in (7 * 7 * 10 + 10, 49 * 128 + 10):
            raise Wrong(f"{head}: GAP averages away the 7×7 positions: 128 inputs, each with a "
                        "weight to each of the 10 units, plus 10 biases.")
        raise Wrong(f"{head}: a Dense(10) on n inputs has n·10 weights and 10 biases; the "
                    f"{name.split()[0]} output has {n_in:,} numbers.")
    raise AssertionError("unreachable")  # pragma: no cover
