"""Checkers for the exercises of ``03_mnist.ipynb``.

Each checker returns the praise for a right answer and raises ``Wrong`` with a specific
explanation for a wrong one: 'same' instead of 'valid' sizes, a forgotten pool, bias or
channel axis; an activation that adds parameters or sits after Flatten; a learning curve read
from the wrong column or a rise in both losses called overfitting; swapped sparse and one-hot
losses or a smoothed target that does not sum to 1; a 0-based epoch or a strict comparison in a
time-to-accuracy function.
"""
from __future__ import annotations

import math
import numbers
import re

import numpy as np

from cnnlib.exercises import Wrong, exercise


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _shape(v) -> tuple | None:
    try:
        t = tuple(v)
    except TypeError:
        return None
    return t if all(_is_int(d) or d is None for d in t) else None


# --------------------------------------------------------------------------- 03.1
# R0 with its Conv2D(28, 3x3) replaced by Conv2D(32, 5x5), on 28x28x1 digits.
_VARIANT = dict(size=28, channels=1, filters=32, kernel=5, pool=2, units=128)


def _variant_numbers(size=28, channels=1, filters=32, kernel=5, pool=2, units=128):
    conv = size - kernel + 1                               # 'valid': 24
    pooled = conv // pool                                  # 12
    flat = pooled * pooled * filters                       # 4,608
    return {"conv": (conv, conv, filters),
            "conv_params": kernel * kernel * channels * filters + filters,
            "pool": (pooled, pooled, filters),
            "flatten": flat,
            "dense_params": flat * units + units}


_KEYS_031 = ["conv", "conv_params", "pool", "flatten", "dense_params"]


@exercise("03.1", "R0 with a 5×5 convolution, by hand", stars=2,
          mistake="keeping the input size with 'valid' padding, forgetting the pool, the channels "
                  "in the Flatten length, or the biases")
def check_03_1(answer) -> str:
    if not isinstance(answer, dict):
        raise Wrong(f"answer_03_1 should be a dict with the keys {_KEYS_031}, got "
                    f"{type(answer).__name__}.")
    missing = [k for k in _KEYS_031 if k not in answer]
    if missing:
        raise Wrong(f"answer_03_1 lacks the key(s) {missing}; it needs all of {_KEYS_031}.")
    exp = _variant_numbers(**_VARIANT)

    for key in ("conv", "pool"):
        got = _shape(answer[key])
        if got is None:
            raise Wrong(f"answer_03_1[{key!r}] should be a shape such as (26, 26, 28), got "
                        f"{answer[key]!r}.")
        want = exp[key]
        if got == want:
            continue
        head = f"expected the {key} output shape {want}, got {got}"
        if len(got) == 4:
            hint = "leave out the batch axis: one image's shape is (height, width, channels)"
        elif len(got) == 3 and got[0] == want[2] and got[1:] == want[:2]:
            hint = "Keras puts the channels last: (height, width, channels)"
        elif key == "conv" and got == (28, 28, 32):
            hint = ("that is 'same' padding; Conv2D's default is 'valid', which shrinks each side "
                    "by kernel − 1 = 4 (28 − 5 + 1 = 24)")
        elif key == "conv" and got == (26, 26, 32):
            hint = "26 is the 3×3 kernel's size; a 5×5 kernel fits 28 − 5 + 1 = 24 times"
        elif key == "conv" and len(got) == 3 and got[2] in (1, 28):
            hint = "each of the 32 filters makes one output channel"
        elif key == "conv" and len(got) == 3 and got[2] == 32 and abs(got[0] - 24) == 1:
            hint = "off by one: a k-wide kernel fits n − k + 1 times in n pixels"
        elif key == "pool" and got == exp["conv"]:
            hint = "MaxPooling2D((2, 2)) halves the height and the width (24 → 12)"
        elif key == "pool" and len(got) == 3 and got[:2] == (12, 12) and got[2] != 32:
            hint = "pooling works on each channel on its own: it keeps all 32"
        elif key == "pool" and got == (13, 13, 32):
            hint = "13 is R0's pooled size (26 // 2); here the conv output is 24, so 12"
        else:
            hint = ("conv: n − k + 1 per side with 'valid' padding, one channel per filter; "
                    "pool: half of that, rounded down, same channels")
        raise Wrong(f"{head}: {hint}.")

    def whole(key):
        v = answer[key]
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if not _is_int(v):
            raise Wrong(f"answer_03_1[{key!r}] should be a whole number, got {v!r}.")
        return int(v)

    got = whole("conv_params")
    if got != exp["conv_params"]:
        hints = {800: "you forgot the 32 biases, one per filter",
                 801: "one bias per filter: 32 of them, not 1",
                 25 * 32 * 32 + 32: "the input has 1 channel (grey), not 32: each filter has "
                                    "5 × 5 × 1 weights",
                 9 * 32 + 32: "that is a 3×3 kernel; a 5×5 one has 25 weights per input channel"}
        raise Wrong(f"expected {exp['conv_params']:,} parameters in the convolution, got {got:,}"
                    + (f": {hints[got]}." if got in hints else
                       ": kernel height × width × input channels × filters, plus one bias per "
                       "filter (5 × 5 × 1 × 32 + 32)."))

    got = whole("flatten")
    if got != exp["flatten"]:
        hints = {12 * 12: "you forgot the channels: Flatten lays out 12 × 12 positions × 32 "
                          "channels",
                 24 * 24 * 32: "that is the map before the pool; Flatten comes after it",
                 13 * 13 * 28: "that is R0's 13 × 13 × 28; with a 5×5 kernel and 32 filters it "
                               "is 12 × 12 × 32",
                 12 * 12 * 32 * 128: "that is the Dense layer's weight count; Flatten only "
                                     "reshapes, height × width × channels"}
        raise Wrong(f"expected a Flatten length of {exp['flatten']:,}, got {got:,}"
                    + (f": {hints[got]}." if got in hints else
                       ": height × width × channels of the pooled map (12 × 12 × 32)."))

    got = whole("dense_params")
    if got != exp["dense_params"]:
        flat, units = exp["flatten"], _VARIANT["units"]
        hints = {flat * units: "you forgot the 128 biases, one per unit",
                 flat * (units + 1): "one bias per *unit* (128), not one per input",
                 flat + units: "every unit has one weight for *each* of the 4,608 inputs: a "
                               "4,608 × 128 matrix, plus 128 biases",
                 13 * 13 * 28 * units + units: "that is R0's Dense layer (4,732 inputs); here "
                                               "4,608 numbers reach it"}
        raise Wrong(f"expected {exp['dense_params']:,} parameters in Dense(128), got {got:,}"
                    + (f": {hints[got]}." if got in hints else
                       ": Flatten length × 128 weights + 128 biases."))
    return ("24×24×32 after the 5×5 convolution (832 parameters), 12×12×32 after the pool, "
            "4,608 numbers into Dense(128): 4,608 × 128 + 128 = 589,952 parameters. The dense "
            "layer still holds 99% of the model, as in R0.")


# --------------------------------------------------------------------------- 03.2
R0_PARAMS = 607_394


def _activation_name(layer) -> str | None:
    """'relu', 'linear', ... for a layer that applies an activation; None for one that does not."""
    kind = type(layer).__name__
    if kind == "ReLU":
        cfg = layer.get_config()
        if cfg.get("negative_slope", 0) or cfg.get("max_value") is not None or cfg.get("threshold", 0):
            return "leaky or capped relu"
        return "relu"
    if kind == "LeakyReLU":
        return "leaky_relu"
    fn = getattr(layer, "activation", None)
    if fn is None or kind not in ("Activation", "Conv2D", "Dense"):
        return None
    name = getattr(fn, "__name__", None) or str(fn)
    return "linear" if name in ("linear", "identity") else name


@exercise("03.2", "Give the convolution its activation", stars=1,
          mistake="thinking an activation adds weights, or putting it after Flatten where it "
                  "no longer acts on the feature maps")
def check_03_2(answer) -> str:
    import keras
    model = answer() if callable(answer) and not isinstance(answer, keras.Model) else answer
    if not isinstance(model, keras.Model):
        raise Wrong(f"classic_relu() should return a Keras model, got {type(model).__name__}.")
    out = tuple(model.output_shape)
    if out != (None, 10):
        raise Wrong(f"expected the output shape (None, 10) (ten digit probabilities), got {out}.")
    before_flatten, conv_seen = [], False
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Flatten":
            break
        if kind == "Conv2D":
            conv_seen = True
        if conv_seen:
            before_flatten.append((kind, layer))
    if not conv_seen:
        raise Wrong("the model has no Conv2D layer before its Flatten: start from the page's "
                    "classic_mnist and change only the convolution.")
    acts = [(kind, _activation_name(layer)) for kind, layer in before_flatten]
    relu_at = [i for i, (_, a) in enumerate(acts) if a == "relu"]
    other = [a for _, a in acts if a not in (None, "linear", "relu")]
    if not relu_at:
        if other:
            raise Wrong(f"expected a ReLU on the convolution's output, got {other[0]}: the course "
                        "uses ReLU (activation=\"relu\"), the activation of the rest of the "
                        "network.")
        raise Wrong("the convolution's output still reaches Flatten with no activation "
                    "(activation 'linear'): give Conv2D activation=\"relu\", or put "
                    "layers.ReLU() after it. An activation after Flatten acts on the dense "
                    "layer's inputs, not on the feature maps.")
    n = model.count_params()
    if n != R0_PARAMS:
        raise Wrong(f"expected {R0_PARAMS:,} parameters, as in R0, got {n:,}: an activation is "
                    "an element-wise function with no weights, so adding it changes nothing "
                    "else. Keep Conv2D(28, (3, 3)), the 2×2 pool, Dense(128) and Dropout(0.2).")
    after_pool = any(k == "MaxPooling2D" for k, _ in before_flatten[:relu_at[0]])
    note = (" You put it after the pool: that gives exactly the same numbers, because "
            "max(relu(a), relu(b)) = relu(max(a, b)), and is 4 times cheaper."
            if after_pool else "")
    return (f"Still {R0_PARAMS:,} parameters: an activation has no weights. Now the 28 feature "
            "maps are rectified (negative responses set to 0), so the convolution is no longer "
            "a purely linear filter bank." + note)


# --------------------------------------------------------------------------- 03.3
VERDICTS = ("still improving", "overfitting", "unstable")

_CURVES = [  # made-up histories, one per verdict (plus a one-epoch run)
    ("a made-up overfitting history",
     {"epoch": [1, 2, 3, 4, 5, 6], "loss": [0.50, 0.30, 0.22, 0.17, 0.13, 0.10],
      "val_loss": [0.40, 0.31, 0.27, 0.28, 0.31, 0.35],
      "val_accuracy": [0.880, 0.910, 0.925, 0.927, 0.926, 0.924]}),
    ("a made-up history still improving",
     {"epoch": [1, 2, 3, 4], "loss": [0.60, 0.40, 0.31, 0.27],
      "val_loss": [0.52, 0.41, 0.36, 0.33], "val_accuracy": [0.85, 0.88, 0.90, 0.91]}),
    ("a made-up unstable history",
     {"epoch": [1, 2, 3, 4, 5], "loss": [0.70, 0.45, 0.38, 0.55, 0.90],
      "val_loss": [0.55, 0.42, 0.37, 0.60, 1.10], "val_accuracy": [0.82, 0.87, 0.89, 0.80, 0.66]}),
    ("a made-up one-epoch history",
     {"epoch": [1], "loss": [0.8], "val_loss": [0.6], "val_accuracy": [0.8]}),
]


def diagnose_reference(h) -> tuple[int, str]:
    """(best epoch by val_loss, verdict) as the exercise defines them."""
    best_row = h["val_loss"].idxmin()
    best = int(h.loc[best_row, "epoch"])
    if best == int(h["epoch"].iloc[-1]):
        return best, "still improving"
    if float(h["loss"].iloc[-1]) < float(h.loc[best_row, "loss"]):
        return best, "overfitting"
    return best, "unstable"


@exercise("03.3", "Read a learning curve", stars=2,
          mistake="taking the best epoch from the training loss or the validation accuracy, "
                  "counting epochs from 0, or calling every late rise in validation loss "
                  "overfitting even when the training loss rose too")
def check_03_3(answer, *, history=None) -> str:
    import pandas as pd
    if not callable(answer):
        raise Wrong(f"diagnose should be a function of a history DataFrame, got "
                    f"{type(answer).__name__}.")
    cases = [(what, pd.DataFrame(h)) for what, h in _CURVES]
    if history is not None:
        cases.insert(0, ("this run's history (classic_fit.history)", history))
    for what, h in cases:
        best, verdict = diagnose_reference(h)
        got = answer(h.copy())
        if not (isinstance(got, tuple) and len(got) == 2):
            raise Wrong(f"diagnose should return a pair (best_epoch, verdict), got {got!r} for "
                        f"{what}.")
        g_best, g_verdict = got
        if not _is_int(g_best):
            raise Wrong(f"best_epoch should be a whole epoch number, got {g_best!r} "
                        f"({type(g_best).__name__}) for {what}: wrap it in int(...).")
        g_best = int(g_best)
        if g_best != best:
            if g_best == best - 1:
                hint = ("off by one: epochs count from 1; read the `epoch` column of the best "
                        "row, not its position")
            elif g_best == int(h.loc[h["loss"].idxmin(), "epoch"]):
                hint = ("that is the lowest *training* loss, which keeps falling as the model "
                        "memorises its training images; the best epoch is judged on held-out "
                        "data (val_loss)")
            elif "val_accuracy" in h and g_best == int(h.loc[h["val_accuracy"].idxmax(), "epoch"]):
                hint = ("that is the best validation *accuracy*; the exercise asks for the lowest "
                        "val_loss, which also sees how confident the predictions are")
            else:
                hint = "the best epoch is the row with the lowest val_loss"
            raise Wrong(f"for {what} expected best epoch {best}, got {g_best}: {hint}.")
        if g_verdict not in VERDICTS:
            raise Wrong(f"the verdict should be one of {list(VERDICTS)}, got {g_verdict!r} for "
                        f"{what}.")
        if g_verdict != verdict:
            last = int(h["epoch"].iloc[-1])
            row = h["val_loss"].idxmin()
            if verdict == "still improving":
                why = (f"the lowest val_loss is at the last epoch ({last}): nothing has turned "
                       "up yet, more epochs might still help")
            elif verdict == "overfitting":
                why = (f"val_loss rose from {h.loc[row, 'val_loss']:.4g} at epoch {best} to "
                       f"{h['val_loss'].iloc[-1]:.4g} at epoch {last} while the training loss "
                       f"kept falling ({h.loc[row, 'loss']:.4g} to {h['loss'].iloc[-1]:.4g}): the "
                       "model fits its training images better and new ones worse")
            else:
                why = (f"after epoch {best} the training loss rose too ({h.loc[row, 'loss']:.4g} "
                       f"to {h['loss'].iloc[-1]:.4g}): the model got worse on the images it "
                       "trains on, so it is not memorising them; training itself went wrong "
                       "(a learning rate too high, for example)")
            raise Wrong(f"for {what} expected {verdict!r}, got {g_verdict!r}: {why}.")
    return ("Best epoch from the lowest val_loss; a later rise in val_loss is overfitting only "
            "while the training loss keeps falling. That is why a checkpoint or early stopping "
            "watches val_loss.")


# --------------------------------------------------------------------------- 03.4
SPARSE, ONE_HOT = "sparse_categorical_crossentropy", "categorical_crossentropy"
SMOOTHING = 0.2


def _loss_name(loss) -> str:
    """'categorical_crossentropy' from a string, a loss function or a loss object/class."""
    if isinstance(loss, str):
        name = loss
    elif isinstance(loss, type):
        name = loss.__name__
    else:
        name = getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__
    if any(c.isupper() for c in name):
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", name)
    return name.strip().lower()


def smoothed_target(label: int, num_classes: int = 10, smoothing: float = SMOOTHING) -> np.ndarray:
    """Keras's label smoothing: one_hot * (1 - smoothing) + smoothing / num_classes."""
    t = np.full(num_classes, smoothing / num_classes)
    t[label] += 1 - smoothing
    return t


@exercise("03.4", "Losses for sparse and one-hot labels, and a smoothed target", stars=2,
          mistake="giving one-hot targets to the sparse loss (or the reverse), and smoothing a "
                  "target without spreading part of it over every class, the true one included")
def check_03_4(answer) -> str:
    keys = ["y_tr", "y_tr_1hot", "target_3"]
    if not isinstance(answer, dict):
        raise Wrong(f"answer_03_4 should be a dict with the keys {keys}, got "
                    f"{type(answer).__name__}.")
    missing = [k for k in keys if k not in answer]
    if missing:
        raise Wrong(f"answer_03_4 lacks the key(s) {missing}; it needs all of {keys}.")
    what = {"y_tr": "y_tr (one class index per image, shape (n,))",
            "y_tr_1hot": "y_tr_1hot (one row of 10 per image, shape (n, 10))"}
    for key, expected in (("y_tr", SPARSE), ("y_tr_1hot", ONE_HOT)):
        got = _loss_name(answer[key])
        if got == expected:
            continue
        if "binary" in got:
            raise Wrong(f"for {what[key]} you chose {got}: binary cross-entropy scores each of "
                        "the 10 outputs as its own yes/no question; ten exclusive classes under "
                        f"a softmax need {expected}.")
        if got in (SPARSE, ONE_HOT):
            why = ("an integer per image goes with the *sparse* loss, which picks the predicted "
                   "probability of that class itself" if expected == SPARSE else
                   "a probability row per image goes with categorical_crossentropy, which "
                   "compares the two rows class by class")
            raise Wrong(f"expected {expected} for {what[key]}, got {got}: {why}. Swapped, Keras "
                        "3 stops with a shape error.")
        raise Wrong(f"expected {expected} for {what[key]}, got {answer[key]!r}: write the name "
                    "as you would pass it to compile(loss=...).")

    try:
        got = np.asarray(answer["target_3"], dtype="float64")
    except (TypeError, ValueError):
        raise Wrong(f"answer_03_4['target_3'] should be 10 numbers, got "
                    f"{answer['target_3']!r}.") from None
    want = smoothed_target(3)
    if got.shape != (10,):
        raise Wrong(f"expected target_3 of shape (10,) (one number per digit), got {got.shape}.")
    if not np.allclose(got, want, atol=1e-6):
        if np.allclose(got, smoothed_target(3, smoothing=0.1), atol=1e-6):
            hint = "that is label_smoothing=0.1, the improved model's; the exercise asks for 0.2"
        elif got.argmax() != 3:
            hint = f"the largest value belongs at index 3 (digit 3), yours is at {got.argmax()}"
        elif np.isclose(got[3], 0.8) and np.allclose(np.delete(got, 3), 0.2 / 9):
            hint = ("you spread 0.2 over the 9 other digits only; Keras spreads it over all 10, "
                    "the true one included: 0.8 + 0.02 = 0.82 for digit 3, 0.02 for the others")
        elif np.isclose(got[3], 0.8) and np.allclose(np.delete(got, 3), 0.02):
            hint = ("the others are right (0.2 / 10 = 0.02), but digit 3 also gets its 0.02 on "
                    "top of 1 − 0.2: the row must sum to 1")
        elif not np.isclose(got.sum(), 1.0):
            hint = f"your row sums to {got.sum():.4g}; a target is a probability row, summing to 1"
        else:
            hint = "one_hot × (1 − 0.2) + 0.2 / 10 for every class"
        raise Wrong(f"expected target_3 = 0.82 at index 3 and 0.02 elsewhere, got "
                    f"{np.array2string(got, precision=3, separator=', ')}: {hint}.")
    return ("Indices go with sparse_categorical_crossentropy, one-hot rows with "
            "categorical_crossentropy; both compute −log p(true class). Label smoothing needs the "
            "rows: with 0.2, digit 3's target is 0.82 and every other digit's 0.02, so the model "
            "is never pushed to be 100% sure.")


# --------------------------------------------------------------------------- 03.5
def seconds_to_reach_reference(fit, target: float):
    """Seconds until the end of the first epoch whose val_accuracy >= target (epochs assumed
    equally long: fit.seconds / fit.epochs each), or None if no epoch reached it."""
    h = fit.history
    reached = h.index[h["val_accuracy"] >= target]
    if len(reached) == 0:
        return None
    return float(h.loc[reached[0], "epoch"]) * fit.seconds / fit.epochs


def _made_up_fit(val_accuracy, seconds, accuracy=None):
    import pandas as pd
    from cnnlib.training import FitResult
    n = len(val_accuracy)
    h = pd.DataFrame({"epoch": np.arange(1, n + 1),
                      "accuracy": accuracy if accuracy is not None else
                      [min(1.0, v + 0.004) for v in val_accuracy],
                      "val_accuracy": val_accuracy})
    return FitResult(history=h, seconds=float(seconds), epochs=n, images_per_second=float("nan"))


@exercise("03.5", "Seconds to reach an accuracy", stars=3,
          mistake="counting epochs from 0, using the total fit time, the training accuracy, or "
                  "'>' instead of '>=', or returning 0 instead of None when the target is never "
                  "reached")
def check_03_5(answer, *, fits=()) -> str:
    if not callable(answer):
        raise Wrong(f"seconds_to_reach should be a function (fit, target), got "
                    f"{type(answer).__name__}.")
    fast = _made_up_fit([0.950, 0.980, 0.990, 0.992, 0.993], seconds=100.0,
                        accuracy=[0.990, 0.995, 0.997, 0.998, 0.999])
    slow = _made_up_fit([0.970, 0.978, 0.983, 0.985, 0.987, 0.986], seconds=90.0)
    cases = [(fast, 0.99, "a made-up 5-epoch, 100-second fit"),
             (fast, 0.98, "a made-up 5-epoch, 100-second fit"),
             (fast, 0.999, "a made-up 5-epoch, 100-second fit"),
             (slow, 0.985, "a made-up 6-epoch, 90-second fit"),
             (slow, 0.95, "a made-up 6-epoch, 90-second fit")]
    cases += [(f, float(f.history["val_accuracy"].max()), "this run's fit") for f in fits]
    for fit, target, what in cases:
        want = seconds_to_reach_reference(fit, target)
        got = answer(fit, target)
        head = f"for {what} and target {target:.4g}"
        if want is None:
            if got is None:
                continue
            hint = ("no epoch reached it, so there is no time to report: return None (0 would "
                    "read as 'at once', the fit's seconds as 'at the end')")
            raise Wrong(f"{head} expected None, got {got!r}: {hint}.")
        if got is None:
            raise Wrong(f"{head} expected {want:.4g} s, got None: epoch "
                        f"{round(want * fit.epochs / fit.seconds)} has val_accuracy >= {target:.4g}"
                        " (the comparison includes equality).")
        if not isinstance(got, numbers.Real) or isinstance(got, bool):
            raise Wrong(f"{head} expected a number of seconds, got {got!r}.")
        got = float(got)
        if math.isclose(got, want, rel_tol=1e-6):
            continue
        per = fit.seconds / fit.epochs
        h = fit.history
        epoch = int(round(want / per))
        if math.isclose(got, want - per, rel_tol=1e-6):
            hint = ("off by one epoch: the row's *position* counts from 0, the `epoch` column "
                    "from 1; the time is at the *end* of that epoch")
        elif math.isclose(got, fit.seconds, rel_tol=1e-6):
            hint = ("that is the whole fit; count only the epochs until the target was first "
                    f"reached ({epoch} of {fit.epochs}, {per:.4g} s each)")
        elif math.isclose(got, epoch, rel_tol=1e-6):
            hint = f"that is the epoch; multiply it by the seconds per epoch ({per:.4g})"
        else:
            strict = h.index[h["val_accuracy"] > target]
            train = h.index[h["accuracy"] >= target] if "accuracy" in h else []
            if len(strict) and math.isclose(got, float(h.loc[strict[0], "epoch"]) * per,
                                            rel_tol=1e-6):
                hint = "use >= : an epoch that reaches the target exactly counts"
            elif len(train) and math.isclose(got, float(h.loc[train[0], "epoch"]) * per,
                                             rel_tol=1e-6):
                hint = ("you read the training accuracy; the target is on held-out images "
                        "(val_accuracy)")
            else:
                hint = (f"the first epoch with val_accuracy >= target is {epoch}; at "
                        f"{per:.4g} s per epoch that is {want:.4g} s")
        raise Wrong(f"{head} expected {want:.4g} s, got {got:.4g}: {hint}.")
    return ("Time to a given accuracy is what a faster training means: a model that processes "
            "fewer images per second can still get there first if it needs fewer epochs.")
