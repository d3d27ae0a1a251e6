"""cnnlib.ops: the NumPy reference conv and pooling ops against Keras, loops against
vectorised, and the errors raised for inputs that make no sense."""
import numpy as np
import pytest
import scipy.signal
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from cnnlib import ops  # first: it quietens TensorFlow's start-up logs
import keras  # noqa: E402,I001

TOL = dict(rtol=1e-5, atol=1e-5)
EXAMPLES = settings(max_examples=25, deadline=None)

sizes = st.integers(1, 9)
windows = st.integers(1, 4)
strides = st.integers(1, 3)
channels = st.integers(1, 3)
paddings = st.sampled_from(["valid", "same"])
seeds = st.integers(0, 2**32 - 1)


def _uniform(seed, shape):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype("float32")


# --------------------------------------------------------------------------- against Keras
@EXAMPLES
@given(n=st.integers(1, 2), h=sizes, w=sizes, c_in=channels, c_out=channels, kh=windows,
       kw=windows, sh=strides, sw=strides, padding=paddings, seed=seeds)
@example(n=1, h=8, w=7, c_in=3, c_out=2, kh=3, kw=4, sh=2, sw=2, padding="same", seed=0)
@example(n=2, h=2, w=1, c_in=1, c_out=1, kh=1, kw=2, sh=1, sw=2, padding="same", seed=0)  # see below
def test_conv2d_matches_keras(n, h, w, c_in, c_out, kh, kw, sh, sw, padding, seed):
    assume(padding == "same" or (kh <= h and kw <= w))
    x = _uniform(seed, (n, h, w, c_in))
    kernel, bias = _uniform(seed + 1, (kh, kw, c_in, c_out)), _uniform(seed + 2, (c_out,))
    layer = keras.layers.Conv2D(c_out, (kh, kw), strides=(sh, sw), padding=padding)
    layer.build((None, h, w, c_in))
    layer.set_weights([kernel, bias])
    # Keras's reference is computed one image at a time. TensorFlow 2.21's oneDNN kernels
    # (on by default on x86) get some *batched*, strided, "same"-padded convolutions of tiny
    # inputs wrong: in a sweep of 10,368 such shapes with 2 images (h, w <= 6, kernels <= 4,
    # strides <= 3), 260 batched results were wrong (uninitialised values, or the other
    # image's), none computed one image at a time, and none with TF_ENABLE_ONEDNN_OPTS=0.
    # The second @example above is one of them. ops.conv2d still gets the whole batch.
    expected = np.concatenate([keras.ops.convert_to_numpy(layer(x[i:i + 1])) for i in range(n)])
    for method in ops.METHODS:
        got = ops.conv2d(x, kernel, bias, stride=(sh, sw), padding=padding, method=method)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, **TOL, err_msg=method)


@EXAMPLES
@given(n=st.integers(1, 2), h=sizes, w=sizes, c=channels, ph=windows, pw=windows,
       stride=st.one_of(st.none(), st.tuples(strides, strides)), padding=paddings,
       kind=st.sampled_from(["max", "avg"]), seed=seeds)
@example(n=1, h=7, w=8, c=2, ph=3, pw=2, stride=(2, 3), padding="same", kind="avg", seed=0)
@example(n=1, h=7, w=8, c=2, ph=3, pw=2, stride=(2, 3), padding="same", kind="max", seed=0)
@example(n=1, h=6, w=6, c=1, ph=3, pw=3, stride=(1, 1), padding="valid", kind="avg", seed=0)
def test_pooling_matches_keras(n, h, w, c, ph, pw, stride, padding, kind, seed):
    assume(padding == "same" or (ph <= h and pw <= w))
    x = _uniform(seed, (n, h, w, c))
    layer_cls, fn = {"max": (keras.layers.MaxPooling2D, ops.max_pool2d),
                     "avg": (keras.layers.AveragePooling2D, ops.avg_pool2d)}[kind]
    expected = keras.ops.convert_to_numpy(layer_cls((ph, pw), strides=stride, padding=padding)(x))
    for method in ops.METHODS:
        got = fn(x, (ph, pw), stride, padding=padding, method=method)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, **TOL, err_msg=method)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 2), h=sizes, w=sizes, c=channels, seed=seeds)
def test_global_pooling_matches_keras(n, h, w, c, seed):
    x = _uniform(seed, (n, h, w, c))
    avg = keras.ops.convert_to_numpy(keras.layers.GlobalAveragePooling2D()(x))
    mx = keras.ops.convert_to_numpy(keras.layers.GlobalMaxPooling2D()(x))
    for method in ops.METHODS:
        np.testing.assert_allclose(ops.global_avg_pool2d(x, method=method), avg, **TOL)
        np.testing.assert_allclose(ops.global_max_pool2d(x, method=method), mx, **TOL)


@pytest.mark.parametrize("filters", [4, 32])
def test_conv2d_on_a_large_batch_matches_keras(filters):
    # enough windows (>= 2**17 rows of im2col) to take the transposed-product path
    x = _uniform(3, (180, 30, 30, 1))
    kernel, bias = _uniform(4, (3, 3, 1, filters)), _uniform(5, (filters,))
    layer = keras.layers.Conv2D(filters, 3)
    layer.build(x.shape)
    layer.set_weights([kernel, bias])
    got = ops.conv2d(x, kernel, bias)
    assert got.flags.c_contiguous
    np.testing.assert_allclose(got, keras.ops.convert_to_numpy(layer(x)), **TOL)


# --------------------------------------------------------------------------- loops == vectorised
@EXAMPLES
@given(h=sizes, w=sizes, c_in=channels, c_out=channels, k=windows, s=strides,
       padding=st.one_of(paddings, st.integers(0, 2)), flip=st.booleans(), seed=seeds)
def test_conv2d_loops_equal_vectorized(h, w, c_in, c_out, k, s, padding, flip, seed):
    p = padding if isinstance(padding, int) else 0
    assume(padding == "same" or k <= min(h, w) + 2 * p)
    x, kernel = _uniform(seed, (2, h, w, c_in)), _uniform(seed + 1, (k, k, c_in, c_out))
    loops = ops.conv2d(x, kernel, stride=s, padding=padding, flip_kernel=flip, method="loops")
    vec = ops.conv2d(x, kernel, stride=s, padding=padding, flip_kernel=flip, method="vectorized")
    if padding == "same":
        out_h, out_w = -(-h // s), -(-w // s)
    else:
        out_h, out_w = ops.conv_output_size(h, k, s, p), ops.conv_output_size(w, k, s, p)
    assert loops.shape == vec.shape == (2, out_h, out_w, c_out)
    np.testing.assert_allclose(loops, vec, **TOL)


@EXAMPLES
@given(h=sizes, w=sizes, c=channels, k=windows, s=st.one_of(st.none(), strides),
       padding=paddings, seed=seeds)
def test_pooling_loops_equal_vectorized(h, w, c, k, s, padding, seed):
    assume(padding == "same" or k <= min(h, w))
    x = _uniform(seed, (2, h, w, c))
    for fn in (ops.max_pool2d, ops.avg_pool2d):
        loops = fn(x, k, s, padding=padding, method="loops")
        np.testing.assert_allclose(loops, fn(x, k, s, padding=padding), **TOL)


# --------------------------------------------------------------------------- definitions
@settings(max_examples=15, deadline=None)
@given(h=st.integers(3, 9), w=st.integers(3, 9), k=st.integers(1, 3), seed=seeds)
def test_cross_correlation_and_true_convolution_match_scipy(h, w, k, seed):
    image, kernel = _uniform(seed, (h, w)), _uniform(seed + 1, (k, k))
    x, kern = image[None, :, :, None], kernel[:, :, None, None]
    np.testing.assert_allclose(ops.conv2d(x, kern)[0, :, :, 0],
                               scipy.signal.correlate2d(image, kernel, mode="valid"), **TOL)
    np.testing.assert_allclose(ops.conv2d(x, kern, flip_kernel=True)[0, :, :, 0],
                               scipy.signal.convolve2d(image, kernel, mode="valid"), **TOL)


def test_hand_worked_example():
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    kernel = np.array([[1, 0], [0, -1]], dtype="float32")[:, :, None, None]
    # each output is x[i, j] - x[i+1, j+1] + bias = -5 + 1 everywhere
    out = ops.conv2d(x, kernel, np.array([1.0]), method="loops")
    np.testing.assert_array_equal(out[0, :, :, 0], np.full((3, 3), -4.0))
    np.testing.assert_array_equal(ops.max_pool2d(x)[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(ops.avg_pool2d(x)[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])


@pytest.mark.parametrize("method", ops.METHODS)
def test_same_pooling_never_counts_the_padding(method):
    x = np.full((1, 3, 3, 1), 2.0)
    # 2x2 windows at stride 2 over 3x3: the right and bottom windows hang over the edge
    np.testing.assert_array_equal(ops.avg_pool2d(x, padding="same", method=method), 2.0)
    np.testing.assert_array_equal(ops.max_pool2d(-x, padding="same", method=method), -2.0)


def test_same_padding_is_asymmetric_like_tensorflow():
    assert ops.same_padding(32, 3, 1) == (1, 1)
    assert ops.same_padding(32, 3, 2) == (0, 1)      # the extra row goes after
    assert ops.same_padding(5, 4, 1) == (1, 2)
    assert ops.same_padding(7, 3, 3) == (1, 1)
    assert ops.same_padding(2, 1, 3) == (0, 0)
    x = _uniform(0, (1, 6, 6, 1))
    kernel = _uniform(1, (3, 3, 1, 1))
    by_hand = ops.conv2d(np.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0))), kernel, stride=2)
    np.testing.assert_array_equal(ops.conv2d(x, kernel, stride=2, padding="same"), by_hand)


@pytest.mark.parametrize("n,k,s,p,expected", [(28, 3, 1, 0, 26), (32, 3, 1, 1, 32),
                                              (32, 3, 2, 0, 15), (5, 5, 1, 0, 1),
                                              (50, 3, 2, 1, 25), (7, 2, 2, 0, 3)])
def test_conv_output_size(n, k, s, p, expected):
    assert ops.conv_output_size(n, k, s, p) == expected
    got = ops.conv2d(np.zeros((1, n, n, 1)), np.zeros((k, k, 1, 1)), stride=s, padding=p)
    assert got.shape[1:3] == (expected, expected)


def test_parameter_counts_match_keras():
    dense = keras.Sequential([keras.Input((50 * 50,)), keras.layers.Dense(100),
                              keras.layers.Dense(2)])
    ours = ops.dense_params(50 * 50, 100) + ops.dense_params(100, 2)
    assert ours == dense.count_params() == 250_302
    conv = keras.layers.Conv2D(100, 3)
    conv.build((None, 50, 50, 1))
    assert ops.conv2d_params(3, 1, 100) == conv.count_params() == 1_000
    conv = keras.layers.Conv2D(32, (5, 3), use_bias=False)
    conv.build((None, 32, 32, 3))
    assert ops.conv2d_params((5, 3), 3, 32, bias=False) == conv.count_params() == 1_440


def test_integer_images_give_float32():
    x = np.random.default_rng(0).integers(0, 256, (1, 5, 5, 1), dtype=np.uint8)
    out = ops.conv2d(x, np.ones((2, 2, 1, 1), "float32"))
    assert out.dtype == np.float32
    assert out[0, 0, 0, 0] == x[0, :2, :2, 0].astype(int).sum()
    assert ops.max_pool2d(x).dtype == np.float32


# --------------------------------------------------------------------------- errors
X = np.zeros((1, 5, 5, 3), "float32")
W = np.zeros((3, 3, 3, 4), "float32")


@pytest.mark.parametrize("call,message", [
    (lambda: ops.conv2d(X, np.zeros((6, 6, 3, 1))), r"kernel \(6x6\) is larger than the input \(5x5\)"),
    (lambda: ops.conv2d(X, np.zeros((1, 6, 3, 1))), r"larger than the input .* along the width"),
    (lambda: ops.max_pool2d(X, 6), r"pool window \(6x6\) is larger than the input"),
    (lambda: ops.avg_pool2d(X, (2, 7), method="loops"), r"pool window \(2x7\) is larger"),
    (lambda: ops.conv2d(X, W, stride=0), r"stride must be >= 1 \(got 0\)"),
    (lambda: ops.conv2d(X, W, stride=(1, -2)), r"stride must be >= 1"),
    (lambda: ops.max_pool2d(X, 2, 0), r"stride must be >= 1"),
    (lambda: ops.avg_pool2d(X, 0), r"pool_size must be >= 1"),
    (lambda: ops.conv2d(X, W, stride=1.5), r"stride must be an integer or a pair"),
    (lambda: ops.conv2d(X[0], W), r"x must be 4-D .* got 3-D .* use x\[None\]"),
    (lambda: ops.conv2d(X[0, :, :, 0], W), r"got 2-D .* x\[None, :, :, None\]"),
    (lambda: ops.max_pool2d(X[0]), r"x must be 4-D"),
    (lambda: ops.global_avg_pool2d(X[0]), r"x must be 4-D"),
    (lambda: ops.conv2d(X, W[:, :, 0, 0]), r"w must be 4-D .* k\[:, :, None, None\]"),
    (lambda: ops.conv2d(X, np.zeros((3, 3, 1, 4))),
     r"channel mismatch: x has 3 channel\(s\) .* kernels expect 1"),
    (lambda: ops.conv2d(X, W, np.zeros(3)), r"b must have shape \(4,\)"),
    (lambda: ops.conv2d(X, W, padding="full"), r"padding must be 'valid', 'same' or an integer"),
    (lambda: ops.max_pool2d(X, padding=1), r"padding must be 'valid' or 'same'"),
    (lambda: ops.conv2d(X, W, method="fast"), r"method must be one of"),
    (lambda: ops.conv_output_size(5, 7), r"window of 7 does not fit"),
    (lambda: ops.conv_output_size(5, 3, 0), r"s must be an integer >= 1"),
    (lambda: ops.same_padding(5, 3, 0), r"s must be a positive integer"),
    (lambda: ops.dense_params(0, 3), r"n_in must be a positive integer"),
])
def test_errors_say_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_same_padding_accepts_a_kernel_larger_than_the_input():
    out = ops.conv2d(X, np.ones((7, 7, 3, 2)), padding="same")
    assert out.shape == (1, 5, 5, 2)
