"""Checkers for the exercises of ``04_cifar10.ipynb``.

Each checker returns the praise for a right answer and raises ``Wrong`` with a specific
explanation for a wrong one: swapped sparse and one-hot losses, a forgotten bias or pooling
step, an input shape typed from memory, a 0-based epoch or the wrong curve, a one-cycle
schedule without its warm-up or with a straight-line decay.
"""
from __future__ import annotations

import math
import numbers
import re

import numpy as np

from cnnlib.exercises import Wrong, exercise


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


# --------------------------------------------------------------------------- 04.1
SPARSE, ONE_HOT = "sparse_categorical_crossentropy", "categorical_crossentropy"
_LOSS_KEYS = {"indices": SPARSE, "column": SPARSE, "one-hot": ONE_HOT}
_LOSS_WHAT = {"indices": "class indices of shape (n,)", "column": "the (n, 1) column of indices "
              "as loaded", "one-hot": "one-hot rows of shape (n, 10)"}


def _loss_name(loss) -> str:
    """'categorical_crossentropy' from a string, a loss function or a loss object/class."""
    if isinstance(loss, str):
        name = loss
    else:
        name = getattr(loss, "name", None) if not isinstance(loss, type) else None
        name = name or getattr(loss, "__name__", None) or type(loss).__name__
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() if any(c.isupper() for c in name) else name
    return name.strip().lower()


@exercise("04.1", "Pair each label format with its loss", stars=1,
          mistake="giving one-hot targets to sparse_categorical_crossentropy or class indices to "
                  "categorical_crossentropy (Keras 3 stops with a shape error)")
def check_04_1(answer) -> str:
    if not isinstance(answer, dict):
        raise Wrong(f"answer_04_1 should be a dict with the keys {list(_LOSS_KEYS)}, got "
                    f"{type(answer).__name__}.")
    missing = [k for k in _LOSS_KEYS if k not in answer]
    if missing:
        raise Wrong(f"answer_04_1 lacks the key(s) {missing}; it needs one loss name for each of "
                    f"{list(_LOSS_KEYS)}.")
    for key, expected in _LOSS_KEYS.items():
        got = _loss_name(answer[key])
        if got == expected:
            continue
        if "binary" in got:
            raise Wrong(f"for {_LOSS_WHAT[key]} you chose {got}: binary cross-entropy scores each "
                        "output as its own yes/no probability; ten exclusive classes with a softmax "
                        f"need {expected}.")
        if got in (SPARSE, ONE_HOT):
            why = ("a class index per image (a flat vector or the (n, 1) column alike) goes with "
                   "the *sparse* loss" if expected == SPARSE else
                   "a full probability vector per image goes with categorical_crossentropy")
            raise Wrong(f"expected {expected} for {_LOSS_WHAT[key]}, got {got}: {why}.")
        raise Wrong(f"expected {expected} for {_LOSS_WHAT[key]}, got {answer[key]!r}: write the "
                    "name as you would pass it to compile(loss=...).")
    return ("Indices, in a flat vector or a column, go with sparse_categorical_crossentropy; "
            "one-hot rows (needed for label smoothing) go with categorical_crossentropy. Both "
            "compute −log p(true class).")


# --------------------------------------------------------------------------- 04.2
def _r3_dense_params(size: int, pools: int = 2, units: int = 64, filters: int = 64,
                     bias: bool = True) -> int:
    side = size // 2 ** pools
    return side * side * filters * units + (units if bias else 0)


@exercise("04.2", "R3's dense layer at 64×64, by hand", stars=2,
          mistake="forgetting the biases, a pooling step, or that the input size sets the size of "
                  "the first dense layer's weight matrix")
def check_04_2(answer) -> str:
    expected = _r3_dense_params(64)                          # 16*16*64*64 + 64 = 1,048,640
    if not _is_int(answer) and not (isinstance(answer, float) and answer.is_integer()):
        raise Wrong(f"answer_04_2 should be a whole number of parameters, got {answer!r}.")
    got = int(answer)
    if got == expected:
        return ("16×16×64 = 16,384 numbers reach the dense layer, so it holds 16,384 × 64 weights + "
                "64 biases: four times as many as at 32×32. The input size fixes the first dense "
                "layer's shape, which is why R2's wrong input shape breaks the model.")
    hints = {
        _r3_dense_params(64, bias=False): "you forgot the 64 biases, one per unit",
        _r3_dense_params(32): "that is the layer at 32×32 (see the table above); at 64×64 the "
                              "map reaching Flatten is 16×16, not 8×8",
        _r3_dense_params(64, pools=1): "you counted one pooling step; R3 has two (64 → 32 → 16), "
                                       "and 'same' convolutions keep the size",
        _r3_dense_params(64, pools=0): "the two max-pools each halve the height and width "
                                       "(64 → 32 → 16)",
        16 * 16 * 64: "that is the Flatten length; each of the 64 units has one weight per "
                      "input, plus a bias",
        14 * 14 * 64 * 64 + 64: "R3's convolutions use 'same' padding, so they keep the size; "
                                "only the pools shrink it (64 → 32 → 16)",
    }
    raise Wrong(f"expected {expected:,} parameters, got {got:,}"
                + (f": {hints[got]}." if got in hints else
                   ": Flatten length (height × width × 64 after two pools) × 64 units + 64 biases."))


# --------------------------------------------------------------------------- 04.3
_R2_TYPES = ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]


def _r2_params(shape) -> int:
    h, w, c = shape
    side_h = ((h - 2) // 2 - 2) // 2
    side_w = ((w - 2) // 2 - 2) // 2
    flat = side_h * side_w * 64
    return (9 * c * 32 + 32) + (9 * 32 * 64 + 64) + (flat * 128 + 128) + (128 * 10 + 10)


def _build_for(build, x):
    try:
        return build(x)
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - explain what the learner's builder did
        msg = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()
        raise Wrong(f"build_r2_for(x) with x of shape {x.shape} raised {type(exc).__name__}: "
                    f"{msg[0] if msg else ''} Hint: one image's shape is x.shape[1:]; x.shape[0] is "
                    "the number of images.") from None


@exercise("04.3", "Take R2's input shape from the data", stars=1,
          mistake="typing the input shape from memory (R2's 64×64 bug) instead of reading it "
                  "from the images, or passing x.shape with its batch size")
def check_04_3(answer, *, images) -> str:
    import keras
    if not callable(answer):
        raise Wrong(f"build_r2_for should be a function of the image array x, got "
                    f"{type(answer).__name__}.")
    cases = [np.asarray(images[:4], "float32"), np.zeros((3, 28, 28, 1), "float32")]
    for x in cases:
        model = _build_for(answer, x)
        if not isinstance(model, keras.Model):
            raise Wrong(f"build_r2_for(x) should return a Keras model, got {type(model).__name__}.")
        declared = tuple(model.input_shape[1:])
        if declared != x.shape[1:]:
            raise Wrong(f"for images of shape {x.shape[1:]} your model was built for "
                        f"{declared}: that is R2's bug again. Read the shape from the data: "
                        "classic_cifar10_r2(input_shape=x.shape[1:]).")
        types = [type(layer).__name__ for layer in model.layers]
        if types != _R2_TYPES:
            raise Wrong(f"expected R2's layers {_R2_TYPES}, got {types}: build the page's "
                        "classic_cifar10_r2, only with the input shape taken from x.")
        if model.count_params() != _r2_params(x.shape[1:]):
            raise Wrong(f"expected {_r2_params(x.shape[1:]):,} parameters for R2 at "
                        f"{x.shape[1:]}, got {model.count_params():,}: keep R2's 'valid' "
                        "convolutions and its Dense(128).")
        out = np.asarray(model(x, training=False))
        if out.shape != (len(x), 10):
            raise Wrong(f"expected predictions of shape {(len(x), 10)}, got {out.shape}.")
    return ("Built from x.shape[1:], the model fits whatever images it is given: 32×32 colour "
            "photos and 28×28 grey digits alike, and its Flatten and Dense sizes follow.")


# --------------------------------------------------------------------------- 04.4
_MADE_UP = [
    {"epoch": [1, 2, 3, 4, 5, 6], "loss": [1.5, 1.1, 0.9, 0.7, 0.5, 0.4],
     "val_loss": [1.3, 1.0, 0.95, 0.97, 1.1, 1.3],
     "val_accuracy": [0.50, 0.60, 0.62, 0.65, 0.64, 0.63]},
    {"epoch": [1, 2, 3, 4, 5], "loss": [2.0, 1.2, 1.0, 0.9, 0.8],
     "val_loss": [1.8, 1.4, 1.5, 1.6, 1.7], "val_accuracy": [0.30, 0.45, 0.44, 0.47, 0.46]},
]


def _history_frames(history):
    import pandas as pd
    frames = [("a made-up history", pd.DataFrame(h)) for h in _MADE_UP]
    if history is not None:
        frames.insert(0, ("this run's history (classic_fit.history)", history))
    return frames


@exercise("04.4", "Which epoch does a checkpoint keep?", stars=2,
          mistake="returning a 0-based row index instead of the epoch, or the epoch of the best "
                  "validation accuracy or of the lowest training loss")
def check_04_4(answer, *, history=None) -> str:
    if not callable(answer):
        raise Wrong(f"best_epoch should be a function of a history DataFrame, got "
                    f"{type(answer).__name__}.")
    for what, h in _history_frames(history):
        expected = int(h.loc[h["val_loss"].idxmin(), "epoch"])
        got = answer(h.copy())
        if not _is_int(got):
            raise Wrong(f"best_epoch should return a whole epoch number, got {got!r} "
                        f"({type(got).__name__}) for {what}: wrap it in int(...).")
        got = int(got)
        if got == expected:
            continue
        if got == expected - 1:
            raise Wrong(f"for {what} expected epoch {expected}, got {got}: off by one. Epochs "
                        "count from 1; read the `epoch` column of the best row, not its index.")
        if "val_accuracy" in h and got == int(h.loc[h["val_accuracy"].idxmax(), "epoch"]):
            raise Wrong(f"for {what} expected epoch {expected}, got {got}: that is the epoch of the "
                        "best validation *accuracy*. monitor='val_loss' keeps the lowest "
                        "validation loss, which can come earlier.")
        if got == int(h.loc[h["loss"].idxmin(), "epoch"]):
            raise Wrong(f"for {what} expected epoch {expected}, got {got}: you used the training "
                        "loss, which keeps falling while the model overfits; the checkpoint "
                        "watches val_loss.")
        raise Wrong(f"for {what} expected epoch {expected} (the row with the lowest val_loss), "
                    f"got {got}.")
    return ("A checkpoint on val_loss keeps the epoch with the lowest validation loss; the "
            "epochs after it only made the model fit its training images better.")


# --------------------------------------------------------------------------- 04.5
def _one_cycle(p: float, peak: float) -> float:
    """The reference: cnnlib.training.one_cycle_at with its defaults (20% warm-up from 10%)."""
    from cnnlib.training import one_cycle_at
    return one_cycle_at(p, peak)


_PROGRESS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 0.9, 1.0]


@exercise("04.5", "The clock-driven one-cycle learning rate", stars=3,
          mistake="starting the warm-up at zero, running the cosine over the whole budget instead "
                  "of after the warm-up, decaying in a straight line, or not clipping progress")
def check_04_5(answer) -> str:
    if not callable(answer):
        raise Wrong(f"lr_at should be a function lr_at(progress, peak), got "
                    f"{type(answer).__name__}.")

    def value(p, peak):
        got = answer(p, peak)
        try:
            return float(got)
        except (TypeError, ValueError):
            raise Wrong(f"lr_at({p}, {peak}) should return a number, got {got!r}.") from None

    peak = 0.4
    got = {p: value(p, peak) for p in _PROGRESS}
    want = {p: _one_cycle(p, peak) for p in _PROGRESS}
    bad = [p for p in _PROGRESS if not math.isclose(got[p], want[p], rel_tol=1e-6, abs_tol=1e-9)]
    if bad:
        p = bad[0]
        head = f"at progress {p} with peak {peak} expected {want[p]:.4g}, got {got[p]:.4g}"
        if math.isclose(got[0.0], 0.0, abs_tol=1e-9) and not math.isclose(want[0.0], 0.0):
            raise Wrong(f"{head}: the warm-up starts at 10% of the peak ({0.1 * peak:.4g}), "
                        "not at 0.")
        whole = 0.5 * peak * (1 + math.cos(math.pi * 0.4))
        if math.isclose(got[0.4], whole, rel_tol=1e-6):
            raise Wrong(f"{head}: your cosine runs over the whole budget; it starts after the "
                        "warm-up: q = (p − 0.2) / 0.8 goes from 0 to 1 over the last 80%.")
        line = peak * (1 - (0.4 - 0.2) / 0.8)
        if math.isclose(got[0.4], line, rel_tol=1e-6):
            raise Wrong(f"{head}: after the warm-up the rate follows half a cosine wave, "
                        "peak · (1 + cos(π·q)) / 2, not a straight line.")
        raise Wrong(f"{head}. Warm-up: from 0.1·peak to peak, linearly, while p < 0.2; then "
                    "peak · (1 + cos(π·q)) / 2 with q = (p − 0.2) / 0.8.")
    for p, what in ((1.3, "after the budget (p > 1)"), (-0.1, "before the start (p < 0)")):
        if not math.isclose(value(p, peak), _one_cycle(p, peak), rel_tol=1e-6, abs_tol=1e-9):
            raise Wrong(f"at progress {p} expected {_one_cycle(p, peak):.4g}, got "
                        f"{value(p, peak):.4g}: clip progress to [0, 1] first; {what} the rate "
                        "stays at its end value.")
    if not math.isclose(value(0.5, 0.1), _one_cycle(0.5, 0.1), rel_tol=1e-6):
        raise Wrong(f"with peak 0.1, at progress 0.5 expected {_one_cycle(0.5, 0.1):.4g}, got "
                    f"{value(0.5, 0.1):.4g}: use the peak argument, not 0.4 written in.")
    return ("This is the schedule TimeBudget applies before every batch: because it is a "
            "function of elapsed time over budget, it reaches zero when the time is up, on any "
            "machine.")
