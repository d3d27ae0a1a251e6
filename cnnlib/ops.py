"""NumPy reference versions of the operations inside a CNN: convolution and pooling.

These are the from-scratch teaching versions of what ``keras.layers.Conv2D``,
``MaxPooling2D``, ``AveragePooling2D`` and the global pooling layers compute. The
tests check them against Keras to 1e-5.

Layouts follow Keras (channels last):

- images and feature maps ``x``: ``(N, H, W, C)`` = (batch, height, width, channels);
- convolution kernels ``w``: ``(KH, KW, C_in, C_out)`` ("HWIO"), biases ``b``: ``(C_out,)``.

Every operation has two implementations, chosen with ``method``:

- ``"loops"``: plain Python loops over output positions, written to be read next to
  the formula. Hundreds of times slower than the vectorised version (``bench/ops.py``
  measures both against Keras);
- ``"vectorized"`` (default): the same arithmetic on whole arrays, through
  ``numpy.lib.stride_tricks.sliding_window_view`` (a zero-copy view of every window)
  and, for convolution, one matrix product (im2col).

Padding is ``"valid"`` (none), ``"same"`` (the output has ``ceil(n / stride)`` rows and
columns, padded exactly as TensorFlow and Keras do, see ``same_padding``) or, for
``conv2d`` only, an integer ``p`` of zero rows and columns added on every side.

Size and parameter helpers: ``conv_output_size``, ``same_padding``, ``dense_params``,
``conv2d_params``.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

METHODS = ("loops", "vectorized")
PADDINGS = ("valid", "same")

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "global_avg_pool2d", "global_max_pool2d",
           "conv_output_size", "same_padding", "dense_params", "conv2d_params"]


# --------------------------------------------------------------------------- sizes
def conv_output_size(n: int, k: int, s: int = 1, p: int = 0) -> int:
    """Output length of a convolution or pooling along one axis:
    ``floor((n + 2p - k) / s) + 1``.

    ``n``: input length, ``k``: kernel (window) length, ``s``: stride, ``p``: zero padding
    added on *each* side. Raises ValueError when the window does not fit even once.
    """
    for name, v, low in (("n", n, 1), ("k", k, 1), ("s", s, 1), ("p", p, 0)):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < low:
            raise ValueError(f"conv_output_size: {name} must be an integer >= {low}, got {v!r}.")
    if k > n + 2 * p:
        raise ValueError(f"conv_output_size: a window of {k} does not fit in an input of {n} "
                         f"with padding {p} on each side ({n + 2 * p} in all). Use a smaller "
                         f"kernel, more padding, or padding='same'.")
    return (n + 2 * p - k) // s + 1


def same_padding(n: int, k: int, s: int = 1) -> tuple[int, int]:
    """Zero rows (or columns) added ``(before, after)`` by ``padding='same'``, TensorFlow's rule.

    The output has ``ceil(n / s)`` positions; the total padding is
    ``max((ceil(n / s) - 1) * s + k - n, 0)``, split with the smaller half *before*
    and the extra one, when it is odd, *after*. With stride 1 and an odd kernel this is
    ``(k - 1) / 2`` on each side; with stride 2 it is often asymmetric, e.g.
    ``same_padding(32, 3, 2) == (0, 1)``.
    """
    for name, v in (("n", n), ("k", k), ("s", s)):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
            raise ValueError(f"same_padding: {name} must be a positive integer, got {v!r}.")
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


# --------------------------------------------------------------------------- parameter counts
def dense_params(n_in: int, units: int, *, bias: bool = True) -> int:
    """Trainable parameters of a Dense layer: ``n_in * units`` weights ``+ units`` biases."""
    _check_positive_int("dense_params", "n_in", n_in)
    _check_positive_int("dense_params", "units", units)
    return n_in * units + (units if bias else 0)


def conv2d_params(kernel_size, in_channels: int, filters: int, *, bias: bool = True) -> int:
    """Trainable parameters of a Conv2D layer: ``KH * KW * C_in * filters`` weights
    ``+ filters`` biases. The input's height and width do not appear: the same small
    kernel slides over every position."""
    kh, kw = _pair("conv2d_params", "kernel_size", kernel_size)
    _check_positive_int("conv2d_params", "in_channels", in_channels)
    _check_positive_int("conv2d_params", "filters", filters)
    return kh * kw * in_channels * filters + (filters if bias else 0)


# --------------------------------------------------------------------------- validation
def _check_positive_int(op: str, name: str, v) -> int:
    if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{op}: {name} must be a positive integer, got {v!r}.")
    return int(v)


def _pair(op: str, name: str, v) -> tuple[int, int]:
    """An int or a pair of ints, as (vertical, horizontal); each must be >= 1."""
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        pair = (v, v)
    elif isinstance(v, (tuple, list)):
        pair = tuple(v)
    else:
        pair = ()
    if len(pair) != 2:
        raise ValueError(f"{op}: {name} must be an integer or a pair of integers, got {v!r}.")
    for item in pair:
        if not isinstance(item, numbers.Integral) or isinstance(item, bool) or item < 1:
            hint = " Use 1 to visit every position." if name == "stride" else ""
            raise ValueError(f"{op}: {name} must be >= 1 (got {v!r}); a {name} of 0 or less "
                             f"has no meaning.{hint}")
    return int(pair[0]), int(pair[1])


def _check_images(op: str, x) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4:
        hint = {2: " For one greyscale image use x[None, :, :, None].",
                3: " For one image (H, W, C) use x[None]; for a batch of greyscale images "
                   "(N, H, W) use x[..., None]."}.get(x.ndim, "")
        raise ValueError(f"{op}: x must be 4-D (batch, height, width, channels), got "
                         f"{x.ndim}-D with shape {x.shape}.{hint}")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"{op}: x must hold numbers, got dtype {x.dtype}.")
    if 0 in x.shape:
        raise ValueError(f"{op}: x has an empty axis, shape {x.shape}.")
    return x


def _check_method(op: str, method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"{op}: method must be one of {METHODS}, got {method!r}.")


def _float_dtype(*arrays) -> np.dtype:
    """float32 for integer or float32 inputs, float64 if any input is float64."""
    return np.result_type(*[a.dtype for a in arrays], np.float32)


def _pads(op: str, padding, size: tuple[int, int], window: tuple[int, int],
          stride: tuple[int, int], allow_int: bool) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) zero padding for ``padding``; checks the window fits."""
    if isinstance(padding, str) and padding.lower() in PADDINGS:
        padding = padding.lower()
    elif allow_int and isinstance(padding, numbers.Integral) and not isinstance(padding, bool) \
            and padding >= 0:
        padding = int(padding)
    else:
        allowed = "'valid', 'same' or an integer >= 0" if allow_int else "'valid' or 'same'"
        raise ValueError(f"{op}: padding must be {allowed}, got {padding!r}.")
    if padding == "same":
        return tuple(same_padding(n, k, s) for n, k, s in zip(size, window, stride))
    p = 0 if padding == "valid" else padding
    what = "kernel" if op == "conv2d" else "pool window"
    for axis, n, k in zip(("height", "width"), size, window):
        if k > n + 2 * p:
            raise ValueError(
                f"{op}: the {what} ({window[0]}x{window[1]}) is larger than the input "
                f"({size[0]}x{size[1]}{f' plus padding {p}' if p else ''}) along the {axis}, "
                f"so with padding={padding!r} there is no position to put it. Use a smaller "
                f"{what}, a larger input, or padding='same'.")
    return (p, p), (p, p)


# --------------------------------------------------------------------------- convolution
def conv2d(x, w, b=None, *, stride=1, padding="valid", flip_kernel: bool = False,
           method: str = "vectorized") -> np.ndarray:
    """2-D convolution layer, as ``keras.layers.Conv2D`` computes it (without activation).

    Parameters
    ----------
    x : array (N, H, W, C_in)
        A batch of images or feature maps, channels last.
    w : array (KH, KW, C_in, C_out)
        The kernels ("HWIO", Keras's ``layer.kernel`` layout): one (KH, KW, C_in) filter
        per output channel. Each filter spans *all* input channels.
    b : array (C_out,), optional
        One bias per output channel (default: no bias).
    stride : int or (int, int)
        Step between window positions, vertically and horizontally.
    padding : 'valid', 'same' or int
        'valid': no padding, the output shrinks to ``conv_output_size(H, KH, s)``.
        'same': zero padding so the output has ``ceil(H / s)`` rows, split like TensorFlow
        (``same_padding``: the odd extra row goes at the bottom / right).
        An integer p: p zero rows and columns on every side.
    flip_kernel : bool
        False (default): **cross-correlation**, ``out[i, j] = sum x[i*s + u, j*s + v] * w[u, v]``,
        which is what every deep-learning framework calls "convolution".
        True: **true convolution** as defined in mathematics and signal processing, which
        flips the kernel by 180 degrees first (``w[::-1, ::-1]``), so that
        ``out[i, j] = sum x[i*s + u, j*s + v] * w[KH-1-u, KW-1-v]``. In a network the
        difference does not matter (training simply learns the flipped kernel), but it
        does for hand-made kernels that are not symmetric, such as Sobel.
    method : 'vectorized' or 'loops'
        'loops': readable Python loops (slow); 'vectorized': im2col + one matrix product.

    Returns
    -------
    array (N, H_out, W_out, C_out), float32 (float64 if ``x`` or ``w`` is float64).
    """
    op = "conv2d"
    _check_method(op, method)
    x = _check_images(op, x)
    w = np.asarray(w)
    if w.ndim != 4:
        hint = " For one 2-D kernel k use k[:, :, None, None]." if w.ndim == 2 else ""
        raise ValueError(f"{op}: w must be 4-D (kernel height, kernel width, in channels, out "
                         f"channels), got {w.ndim}-D with shape {w.shape}.{hint}")
    if w.shape[2] != x.shape[3]:
        raise ValueError(f"{op}: channel mismatch: x has {x.shape[3]} channel(s) (last axis of "
                         f"shape {x.shape}) but the kernels expect {w.shape[2]} (axis 2 of w, "
                         f"shape {w.shape}). The kernel's in-channels must equal the input's "
                         f"channels.")
    if 0 in w.shape:
        raise ValueError(f"{op}: w has an empty axis, shape {w.shape}.")
    if b is not None:
        b = np.asarray(b)
        if b.shape != (w.shape[3],):
            raise ValueError(f"{op}: b must have shape ({w.shape[3]},), one bias per output "
                             f"channel, got shape {b.shape}.")
    stride = _pair(op, "stride", stride)
    pads = _pads(op, padding, x.shape[1:3], w.shape[:2], stride, allow_int=True)
    dtype = _float_dtype(x, w, *([b] if b is not None else []))
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    if flip_kernel:
        w = w[::-1, ::-1]
    impl = _conv2d_loops if method == "loops" else _conv2d_vectorized
    out = impl(x, w, stride, pads)
    if b is not None:
        out += b.astype(dtype)
    return out


def _conv2d_loops(x, w, stride, pads):
    """One output number at a time: the window under the kernel, times the kernel, summed."""
    n_images, height, width, _ = x.shape
    kh, kw, _, n_filters = w.shape
    sh, sw = stride
    (top, bottom), (left, right) = pads
    xp = np.zeros((n_images, height + top + bottom, width + left + right, x.shape[3]), x.dtype)
    xp[:, top:top + height, left:left + width, :] = x
    out_h = conv_output_size(xp.shape[1], kh, sh)
    out_w = conv_output_size(xp.shape[2], kw, sw)
    out = np.zeros((n_images, out_h, out_w, n_filters), x.dtype)
    for n in range(n_images):
        for i in range(out_h):
            for j in range(out_w):
                window = xp[n, i * sh:i * sh + kh, j * sw:j * sw + kw, :]   # (KH, KW, C_in)
                for f in range(n_filters):
                    out[n, i, j, f] = np.sum(window * w[:, :, :, f])
    return out


def _conv2d_vectorized(x, w, stride, pads):
    """im2col: every window becomes one row of a matrix, then one matrix product."""
    kh, kw, c_in, n_filters = w.shape
    sh, sw = stride
    if any(p for pair in pads for p in pair):
        x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    # windows[n, i, j, c, u, v] = x[n, i*sh + u, j*sw + v, c]: a view, nothing is copied yet
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    n, out_h, out_w = windows.shape[:3]
    rows, depth = n * out_h * out_w, kh * kw * c_in
    if rows >= 2**17 and depth <= 32:
        # Same product, transposed: for a very tall, thin matrix (many windows, few weights
        # per filter) OpenBLAS is several times faster on (W^T @ cols^T) than on (cols @ W).
        cols_t = windows.transpose(4, 5, 3, 0, 1, 2).reshape(depth, rows)
        out_t = w.reshape(depth, n_filters).T @ cols_t                 # (C_out, rows)
        return np.ascontiguousarray(out_t.reshape(n_filters, n, out_h, out_w).transpose(1, 2, 3, 0))
    # reorder each window as (u, v, c) to match w's (KH, KW, C_in) and copy into rows
    cols = windows.transpose(0, 1, 2, 4, 5, 3).reshape(rows, depth)
    out = cols @ w.reshape(depth, n_filters)
    return out.reshape(n, out_h, out_w, n_filters)


# --------------------------------------------------------------------------- pooling
def max_pool2d(x, pool_size=2, stride=None, *, padding: str = "valid",
               method: str = "vectorized") -> np.ndarray:
    """Max pooling, as ``keras.layers.MaxPooling2D``: the largest value of each
    ``pool_size`` window, channel by channel.

    ``x``: (N, H, W, C). ``stride`` defaults to ``pool_size`` (windows side by side, no
    overlap); a stride smaller than the window makes them overlap. 'same' padding adds
    TensorFlow's padding (``same_padding``), and padded positions never win the max.
    Returns (N, H_out, W_out, C) in x's dtype for floats, else float32.
    """
    return _pool("max_pool2d", x, pool_size, stride, padding, method, "max")


def avg_pool2d(x, pool_size=2, stride=None, *, padding: str = "valid",
               method: str = "vectorized") -> np.ndarray:
    """Average pooling, as ``keras.layers.AveragePooling2D``: the mean of each window,
    channel by channel. With 'same' padding the mean is over the window's *real* pixels
    only (padded positions are not counted), as in TensorFlow.

    ``x``: (N, H, W, C); returns (N, H_out, W_out, C), float32 (float64 for float64 x).
    """
    return _pool("avg_pool2d", x, pool_size, stride, padding, method, "avg")


def _pool(op, x, pool_size, stride, padding, method, mode):
    _check_method(op, method)
    x = _check_images(op, x)
    window = _pair(op, "pool_size", pool_size)
    stride = window if stride is None else _pair(op, "stride", stride)
    pads = _pads(op, padding, x.shape[1:3], window, stride, allow_int=False)
    x = x.astype(_float_dtype(x), copy=False)
    impl = _pool_loops if method == "loops" else _pool_vectorized
    return impl(x, window, stride, pads, mode)


def _pool_loops(x, window, stride, pads, mode):
    """For each output position, take the window's pixels that lie inside the image
    (padding contributes nothing) and reduce them with max or mean."""
    n_images, height, width, channels = x.shape
    (ph, pw), (sh, sw) = window, stride
    (top, bottom), (left, right) = pads
    out_h = conv_output_size(height + top + bottom, ph, sh)
    out_w = conv_output_size(width + left + right, pw, sw)
    out = np.zeros((n_images, out_h, out_w, channels), x.dtype)
    reduce = np.max if mode == "max" else np.mean
    for n in range(n_images):
        for i in range(out_h):
            r0 = i * sh - top                       # first row of the window, in x's coordinates
            rows = slice(max(r0, 0), min(r0 + ph, height))
            for j in range(out_w):
                c0 = j * sw - left
                cols = slice(max(c0, 0), min(c0 + pw, width))
                for c in range(channels):
                    out[n, i, j, c] = reduce(x[n, rows, cols, c])
    return out


def _pool_vectorized(x, window, stride, pads, mode):
    """All windows at once as a strided view, reduced over its last two axes."""
    ph, pw = window
    sh, sw = stride
    padded = any(p for pair in pads for p in pair)
    pad_width = ((0, 0), pads[0], pads[1], (0, 0))
    if mode == "max":
        if padded:
            x = np.pad(x, pad_width, constant_values=-np.inf)
        return sliding_window_view(x, window, axis=(1, 2))[:, ::sh, ::sw].max(axis=(-2, -1))
    if not padded:
        return sliding_window_view(x, window, axis=(1, 2))[:, ::sh, ::sw].mean(axis=(-2, -1))
    sums = sliding_window_view(np.pad(x, pad_width), window, axis=(1, 2))[:, ::sh, ::sw]
    # how many real (not padded) pixels each window covers
    inside = np.pad(np.ones(x.shape[1:3], x.dtype), pad_width[1:3])
    counts = sliding_window_view(inside, window)[::sh, ::sw].sum(axis=(-2, -1))
    return sums.sum(axis=(-2, -1)) / counts[None, :, :, None]


def global_avg_pool2d(x, *, method: str = "vectorized") -> np.ndarray:
    """Global average pooling (``keras.layers.GlobalAveragePooling2D``): the mean of
    each channel over all positions. ``x``: (N, H, W, C) -> (N, C)."""
    return _global("global_avg_pool2d", x, method, "avg")


def global_max_pool2d(x, *, method: str = "vectorized") -> np.ndarray:
    """Global max pooling (``keras.layers.GlobalMaxPooling2D``): the largest value of
    each channel over all positions. ``x``: (N, H, W, C) -> (N, C)."""
    return _global("global_max_pool2d", x, method, "max")


def _global(op, x, method, mode):
    _check_method(op, method)
    x = _check_images(op, x)
    x = x.astype(_float_dtype(x), copy=False)
    if method == "vectorized":
        return x.max(axis=(1, 2)) if mode == "max" else x.mean(axis=(1, 2))
    n_images, height, width, channels = x.shape
    out = np.zeros((n_images, channels), x.dtype)
    for n in range(n_images):
        for c in range(channels):
            best, total = -math.inf, 0.0
            for i in range(height):
                for j in range(width):
                    best = max(best, x[n, i, j, c])
                    total += x[n, i, j, c]
            out[n, c] = best if mode == "max" else total / (height * width)
    return out
