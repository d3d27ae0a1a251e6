"""Checkers for the exercises of ``07_blood_cells.ipynb``.

Each checker returns the praise for a right answer and raises ``Wrong`` with a specific
explanation for a wrong one: Flatten left out or put after the first Dense, a peak-memory
count that forgets the list or ``train_test_split`` (or counts a copy already freed), a
resize that squeezes 320x240 into a square, a split of images that leaves one original on
both sides, channels reversed along the wrong axis.
"""
from __future__ import annotations

import numbers

import numpy as np

from cnnlib.exercises import Wrong, exercise


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


# --------------------------------------------------------------------------- 07.1
R4_INPUT = (200, 200, 3)
R4_PARAMS = 10_250_788        # conv 896 + conv 9,248 + Dense(128) 10,240,128 + Dense(4) 516


def _dense_layers(model):
    import keras
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


@exercise("07.1", "Add R4's missing Flatten", stars=1,
          mistake="leaving Flatten out (Dense then acts on every position of the feature map) "
                  "or putting it after Dense(128)")
def check_06_1(model) -> str:
    import keras
    if not isinstance(model, keras.Model):
        raise Wrong(f"expected a Keras model (keras.Sequential([...])), got {type(model).__name__}.")
    shape = tuple(model.input_shape)
    if shape[1:] != R4_INPUT:
        raise Wrong(f"expected the input shape (None, 200, 200, 3), R4's 200×200 RGB images, got {shape}.")
    out = np.asarray(model(np.zeros((2, *R4_INPUT), "float32"), training=False))
    if out.ndim == 4:
        raise Wrong(f"expected an output of shape (2, 4) for 2 images, got {out.shape}: without "
                    f"Flatten, Dense acts on the last axis only, so each of the {out.shape[1]}×"
                    f"{out.shape[2]} positions of the feature map gets its own 4 probabilities. Put "
                    "layers.Flatten() between the last MaxPooling2D and Dense(128).")
    if out.shape != (2, 4):
        raise Wrong(f"expected an output of shape (2, 4) for 2 images (4 class probabilities each), "
                    f"got {out.shape}: the last layer is Dense(4, activation='softmax').")
    dense = _dense_layers(model)
    if dense and len(dense[0].input.shape) > 2:
        raise Wrong(f"the output has the right shape, but your first Dense({dense[0].units}) still "
                    f"reads a {tuple(dense[0].input.shape)[1:]} feature map, position by position: "
                    "Flatten comes after it. Move layers.Flatten() before Dense(128), so that one "
                    "unit sees the whole image.")
    if not any(isinstance(layer, keras.layers.Flatten) for layer in model.layers):
        kinds = ", ".join(type(layer).__name__ for layer in model.layers)
        raise Wrong(f"the output shape (2, 4) is right, but there is no Flatten layer ({kinds}): "
                    "repair R4 with the one layer it forgot, layers.Flatten(), and keep its other "
                    "layers as they are.")
    if not np.allclose(out.sum(axis=1), 1.0, atol=1e-4):
        raise Wrong("each output row should be 4 probabilities that sum to 1: the last layer is "
                    "Dense(4, activation='softmax').")
    n = int(model.count_params())
    if n != R4_PARAMS:
        raise Wrong(f"expected R4's {R4_PARAMS:,} parameters with Flatten added, got {n:,}: keep "
                    "R4's layers as listed (Conv2D(32, 3×3, 'same'), MaxPooling2D(2), Conv2D(32, "
                    "3×3, 'same'), MaxPooling2D(2), Flatten, Dense(128), Dense(4)).")
    return ("Flatten turns the 50×50×32 map into 80,000 numbers, and Dense(128) has one weight "
            "per number and unit: 10,240,128 of the model's 10,250,788 parameters sit in that one "
            "layer, fed by only 2,560 training images.")


# --------------------------------------------------------------------------- 07.2
_PEAK_CASES = [(3200, 200, 200), (5758, 240, 320), (10, 32, 48), (1, 1, 1)]
_PEAK_SLIPS = {
    30: "you also counted np.array's uint8 copy (3 bytes a pixel); `X = X.astype('float32')` "
        "replaces X, so that copy is freed before train_test_split runs",
    15: "you left out train_test_split: it copies X's rows into X_train and X_test, another "
        "12 bytes a pixel, while X (and the list) are still alive",
    24: "you left out the Python list: `data` keeps every uint8 image (3 bytes a pixel) alive "
        "to the end of the script",
    39: "you counted a float32 copy for `X /= 255`, but /= divides in place: no new array",
    12: "that is one float32 copy; at the peak R4 holds more than one array at once",
    4: "4 bytes is one float32 value, but each pixel has 3 channels",
    3: "that is the images as uint8, the smallest they can be",
}


@exercise("07.2", "R4's peak memory", stars=2,
          mistake="counting only the float32 array (forgetting the list and train_test_split's "
                  "copies), or counting np.array's uint8 copy that astype frees")
def check_06_2(peak_bytes) -> str:
    for n, h, w in _PEAK_CASES:
        got = peak_bytes(n, h, w)
        if not _is_number(got) and not isinstance(got, np.number):
            raise Wrong(f"r4_peak_bytes({n}, {h}, {w}) should return a number of bytes, got "
                        f"{type(got).__name__}.")
        got = float(got)
        pixels = n * h * w
        expected = 27 * pixels
        if np.isclose(got, expected, rtol=1e-9):
            continue
        for unit, div in (("MiB", 2 ** 20), ("GiB", 2 ** 30), ("MB", 1e6), ("GB", 1e9)):
            if np.isclose(got, expected / div, rtol=1e-6):
                raise Wrong(f"r4_peak_bytes({n}, {h}, {w}) returned {got:.4g}, which is the right "
                            f"amount in {unit}: return bytes.")
        per_pixel = got / pixels
        slip = _PEAK_SLIPS.get(int(round(per_pixel))) if np.isclose(per_pixel, round(per_pixel)) else None
        raise Wrong(f"expected r4_peak_bytes({n}, {h}, {w}) = {expected:,.0f} bytes (27 a pixel), "
                    f"got {got:,.0f} ({per_pixel:.3g} bytes a pixel)"
                    + (f": {slip}." if slip else ": add up what is alive at once just after "
                       "train_test_split: the list of uint8 images, the float32 X, and X_train "
                       "plus X_test."))
    return ("3 + 12 + 12 = 27 bytes a pixel: at 200×200, 3,200 images take 3.5 GB, nine times "
            "their size as uint8. A streaming pipeline holds a few batches instead, however many "
            "images there are.")


# --------------------------------------------------------------------------- 07.3
def _disc_image(h=240, w=320, radius=60, centre=None):
    """(h, w, 3) uint8: black, with a white disc of ``radius`` pixels (the checker's probe)."""
    cy, cx = centre if centre is not None else ((h - 1) / 2, (w - 1) / 2)
    rows, cols = np.indices((h, w))
    disc = (rows - cy) ** 2 + (cols - cx) ** 2 <= radius ** 2
    return np.repeat((disc * 255).astype(np.uint8)[..., None], 3, axis=2)


def _disc_extent(image):
    mask = np.asarray(image, dtype="float64")[..., 0] > 127
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1


@exercise("07.3", "Resize without squeezing", stars=2,
          mistake="resizing 320×240 straight to a square, which squeezes the width more than "
                  "the height")
def check_06_3(square_resize) -> str:
    image = _disc_image()
    for size in (200, 96):
        out = np.asarray(square_resize(image.copy(), size))
        if out.shape != (size, size, 3):
            raise Wrong(f"expected square_resize(image, {size}) to have shape ({size}, {size}, 3), "
                        f"got {out.shape}.")
        if 0 < float(out.max()) <= 1.0:
            raise Wrong("your result holds values up to 1: keep the pixels in 0..255, as the input "
                        "(R4 divides by 255 later, in its own step).")
        extent = _disc_extent(out)
        if extent is None:
            raise Wrong(f"the white disc in the middle of the 320×240 test image is gone from your "
                        f"{size}×{size} result: crop around the centre (or pad), do not cut it away.")
        width, height = extent
        ratio = width / height
        if not 0.93 <= ratio <= 1.07:
            hint = (" That is what resizing 320×240 straight to a square does: the width shrinks "
                    f"by {size}/320, the height only by {size}/240." if 0.7 <= ratio <= 0.8 else "")
            raise Wrong(f"a round disc should stay round, but in your {size}×{size} result it is "
                        f"{width} pixels wide and {height} tall (width/height {ratio:.2f}).{hint} "
                        "Cut the central 240×240 square first (or pad the short side), then resize.")
    return ("A circle stays a circle. Cropping the central square drops 40 pixels at each side "
            "(the stained cell is rarely there); `tf.image.resize_with_pad` keeps everything and "
            "pads with black instead.")


# --------------------------------------------------------------------------- 07.4
def _as_index_array(v, what):
    try:
        arr = np.asarray(v)
    except Exception:  # noqa: BLE001
        arr = None
    if arr is None or arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise Wrong(f"{what} should be a 1-D array of integer indices, got "
                    f"{type(v).__name__}{'' if arr is None else f' of shape {arr.shape}, dtype {arr.dtype}'}.")
    return arr


def _check_split(split_fn, groups, where: str):
    groups = np.asarray(groups)
    n = len(groups)
    out = split_fn(groups, 0.2, 0)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise Wrong(f"grouped_split should return two arrays, (train_idx, val_idx); got "
                    f"{type(out).__name__}{f' of length {len(out)}' if hasattr(out, '__len__') else ''}.")
    train, val = (_as_index_array(v, name) for v, name in zip(out, ("train_idx", "val_idx")))
    both = np.intersect1d(train, val)
    if len(both):
        raise Wrong(f"{len(both)} image indices are in both train_idx and val_idx ({where}): each "
                    "image goes to exactly one side.")
    given = np.concatenate([train, val])
    if not np.array_equal(np.sort(given), np.arange(n)):
        missing = len(np.setdiff1d(np.arange(n), given))
        raise Wrong(f"train_idx and val_idx together should hold every index 0..{n - 1} once "
                    f"({where}): {missing} are in neither, and {len(train) + len(val)} were given "
                    f"for {n} images.")
    shared = np.intersect1d(groups[train], groups[val])
    if len(shared):
        twins = int(np.isin(groups[val], shared).sum())
        raise Wrong(f"{len(shared)} originals have copies on both sides ({where}): {twins} of your "
                    f"{len(val)} validation images have a twin in training, so validation would "
                    "measure memory again. Split the originals, not the images: choose about 20% of "
                    "the distinct group ids, then put every image of those ids in validation.")
    fraction = len(val) / n
    if not 0.05 <= fraction <= 0.5:
        raise Wrong(f"expected roughly 20% of the images in validation ({where}), got "
                    f"{fraction:.0%} ({len(val)} of {n}).")
    again = split_fn(groups, 0.2, 0)
    if not np.array_equal(np.sort(np.asarray(again[1])), np.sort(val)):
        raise Wrong("two calls with the same seed gave different validation sets: draw the "
                    "originals with np.random.default_rng(seed), so a run can be repeated.")
    return len(np.unique(groups[val])), len(val), n


@exercise("07.4", "A validation split by original", stars=3,
          mistake="splitting the images at random, so copies of one original land on both sides")
def check_06_4(grouped_split, groups=None) -> str:
    if groups is None:
        raise Wrong("the check needs the images' original ids: run it as "
                    "exercises.check(\"07.4\", grouped_split, groups=example_groups).")
    n_orig, n_val, n = _check_split(grouped_split, groups, "on example_groups")
    rng = np.random.default_rng(6)          # and on other groups, so nothing is fitted to one array
    other = rng.permutation(np.repeat(np.arange(40), rng.integers(1, 30, 40)))
    _check_split(grouped_split, other, "on the checker's own 40 shuffled originals")
    return (f"No original on both sides: {n_val} of {n} images ({n_val / n:.0%}) from {n_orig} "
            "originals. scikit-learn's GroupShuffleSplit and GroupKFold do the same. The validation "
            "share wobbles with the originals' sizes: you split originals, not images.")


# --------------------------------------------------------------------------- 07.5
@exercise("07.5", "BGR to RGB", stars=1,
          mistake="reversing the wrong axis (rows instead of channels), or forgetting to convert")
def check_06_5(to_rgb) -> str:
    rng = np.random.default_rng(5)
    for shape in ((4, 5, 3), (2, 4, 5, 3)):
        bgr = rng.integers(0, 256, shape).astype(np.uint8)
        got = np.asarray(to_rgb(bgr.copy()))
        expected = bgr[..., ::-1]
        if got.shape != expected.shape:
            raise Wrong(f"expected the same shape as the input, {shape}, got {got.shape}.")
        if np.array_equal(got, expected):
            continue
        if np.array_equal(got, bgr):
            raise Wrong("your result equals the input: channel 0 still holds blue and channel 2 "
                        "red. Reverse the last axis (the channels).")
        if np.array_equal(got, bgr[::-1]) or (len(shape) == 4 and np.array_equal(got, bgr[:, ::-1])):
            raise Wrong("you reversed the rows (or the images), not the channels: index the last "
                        "axis, image[..., ::-1].")
        if np.array_equal(got[..., 0], bgr[..., 2]):
            raise Wrong("red is right, but the other channels are not: green stays in the middle "
                        "and blue goes last (reverse the channel order B, G, R).")
        raise Wrong(f"expected the channels in reverse order (input {shape}: result[..., 0] = "
                    "input[..., 2], the red channel).")
    return ("[..., ::-1] reverses the last axis, for one image or a batch. With OpenCV, "
            "cv2.cvtColor(image, cv2.COLOR_BGR2RGB) does the same for one image.")
