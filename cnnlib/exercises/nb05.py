"""Checkers for the exercises of ``05_cats_vs_dogs.ipynb``.

Each checker returns the praise for a right answer and raises ``Wrong`` with a specific
explanation for a wrong one. The typical mistakes each get their own message: the shape
of a network with no ``Flatten``, the wrong loss for a head, a softmax over one unit, the
sign of the sigmoid that a 2-way softmax hides, R1's always-"cat" prediction, and a
threshold chosen for precision that gives away recall.
"""
from __future__ import annotations

import numbers

import numpy as np

from cnnlib.exercises import Wrong, exercise

CLASS_NAMES = ("cat", "dog")          # label 0 = cat, label 1 = dog: the model outputs P(dog)


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


# --------------------------------------------------------------------------- 05.1
def no_flatten_shape(input_shape) -> tuple[int, int, int]:
    """The output shape (without the batch axis) of R1's layers with no Flatten:
    Conv2D(32, 3x3, 'valid') -> MaxPooling2D(2x2) -> Dense(256) -> Dense(1)."""
    h, w = int(input_shape[0]), int(input_shape[1])
    return ((h - 2) // 2, (w - 2) // 2, 1)


@exercise("05.1", "The output shape without Flatten", stars=1,
          mistake="assuming Dense always gives one number per image; a Dense layer acts on the "
                  "last axis only, so without Flatten it runs at every position of the feature map")
def check_05_1(answer, input_shape=(32, 32, 3)) -> str:
    h, w = int(input_shape[0]), int(input_shape[1])
    expected = no_flatten_shape(input_shape)
    if _is_int(answer):
        answer = (answer,)
    try:
        got = tuple(answer)
    except TypeError:
        raise Wrong(f"answer_05_1 should be a tuple of integers such as (height, width, channels), "
                    f"got {type(answer).__name__}.") from None
    if len(got) == 4 and got[0] is None:
        raise Wrong(f"leave out the batch axis (the None): expected {expected}, got {got}.")
    if got in ((1,), (1, 1), (None, 1)):
        raise Wrong(f"expected {expected}, got {got}: that is the shape *with* a Flatten. Without "
                    "it a Dense layer multiplies only the last axis (the 32 channels) and keeps "
                    f"the {expected[0]}×{expected[1]} grid of positions.")
    if not all(_is_int(v) for v in got):
        raise Wrong(f"answer_05_1 should hold integers only, got {got}.")
    if got == expected:
        return (f"A {h}×{w} image gives a {expected[0]}×{expected[1]} grid of answers instead of "
                "one: each Dense layer acts on the last axis only, at every position. With one "
                "label per image, Keras then refuses to fit (the ranks differ), as above.")
    if got == expected[:2] + (256,):
        raise Wrong(f"expected {expected}, got {got}: that is the shape after Dense(256); the "
                    "last layer, Dense(1), replaces the last axis again, by 1.")
    if got == expected[:2] + (32,):
        raise Wrong(f"expected {expected}, got {got}: the Dense layers change the last axis (the "
                    "32 channels of the convolution) to their own number of units.")
    if got == (h - 2, w - 2, 1):
        raise Wrong(f"expected {expected}, got {got}: you left out the MaxPooling2D((2, 2)), "
                    "which halves the height and width (rounding down).")
    if got == (h // 2, w // 2, 1):
        raise Wrong(f"expected {expected}, got {got}: the convolution has 'valid' padding (the "
                    f"default), so a 3×3 kernel first shrinks {h}×{w} to {h - 2}×{w - 2}; then "
                    "the pooling halves that.")
    if got == (h, w, 1):
        raise Wrong(f"expected {expected}, got {got}: both the 'valid' convolution (−2) and the "
                    "2×2 pooling (÷2) shrink the map.")
    raise Wrong(f"expected {expected}, got {got}: follow the shape layer by layer: "
                f"({h}, {w}, 3) → Conv2D 'valid' → ({h - 2}, {w - 2}, 32) → MaxPooling2D → "
                f"({(h - 2) // 2}, {(w - 2) // 2}, 32) → Dense(256) → … → Dense(1).")


# --------------------------------------------------------------------------- 05.2
def _loss_name(loss) -> str:
    """'binary_crossentropy', 'BinaryCrossentropy', keras.losses.BinaryCrossentropy() or the
    function keras.losses.binary_crossentropy, all as 'binarycrossentropy'."""
    if not isinstance(loss, str):
        loss = getattr(loss, "__name__", type(loss).__name__)
    return loss.replace("_", "").replace(" ", "").lower()


@exercise("05.2", "Output units and loss for each head", stars=2,
          mistake="a softmax over one unit (always 1.0), or categorical_crossentropy with "
                  "integer labels, or two sigmoid units for one yes/no question")
def check_05_2(answer) -> str:
    if not isinstance(answer, dict) or set(answer) != {"sigmoid", "softmax"}:
        raise Wrong("answer_05_2 should be a dict with exactly two keys, 'sigmoid' and 'softmax', "
                    "each mapping to a pair (units, loss name), e.g. {'sigmoid': (…, '…'), "
                    f"'softmax': (…, '…')}}; got {answer!r}.")
    for head in ("sigmoid", "softmax"):
        pair = answer[head]
        if not isinstance(pair, (tuple, list)) or len(pair) != 2 or not _is_int(pair[0]):
            raise Wrong(f"answer_05_2[{head!r}] should be a pair (units, loss name) with an "
                        f"integer number of units, got {pair!r}.")
    (su, sl), (xu, xl) = answer["sigmoid"], answer["softmax"]
    sl, xl = _loss_name(sl), _loss_name(xl)
    if xu == 1:
        raise Wrong("a softmax over 1 unit always outputs exactly 1.0 (e^z / e^z), whatever the "
                    "image: the model would say 'dog' for everything and its gradient is zero. "
                    "A softmax needs one unit per class: 2.")
    if su == 2:
        raise Wrong("two sigmoid units are two independent yes/no outputs (as in multi-label "
                    "tagging): they need not sum to 1. One question, 'is it a dog?', needs one "
                    "sigmoid unit; P(cat) is then 1 − P(dog).")
    if su != 1 or xu != 2:
        raise Wrong(f"expected 1 unit for the sigmoid head and 2 for the softmax head, got {su} "
                    f"and {xu}: one unit answers one yes/no question; a softmax needs one unit "
                    "per class.")
    if xl == "categoricalcrossentropy":
        raise Wrong("the labels y are integers 0 and 1, not one-hot rows: categorical_crossentropy "
                    "would need keras.utils.to_categorical(y, 2). With integer labels use "
                    "sparse_categorical_crossentropy.")
    if xl == "binarycrossentropy":
        raise Wrong("binary_crossentropy scores one probability per image against a 0/1 label; a "
                    "2-unit softmax gives a probability per class, which goes with "
                    "sparse_categorical_crossentropy (integer labels).")
    if sl in ("sparsecategoricalcrossentropy", "categoricalcrossentropy"):
        raise Wrong(f"the sigmoid head outputs one number, P(dog); {answer['sigmoid'][1]!r} "
                    "expects one probability per class. One sigmoid unit goes with "
                    "binary_crossentropy.")
    if sl != "binarycrossentropy" or xl != "sparsecategoricalcrossentropy":
        raise Wrong(f"expected binary_crossentropy for the sigmoid head and "
                    f"sparse_categorical_crossentropy for the softmax head, got "
                    f"{answer['sigmoid'][1]!r} and {answer['softmax'][1]!r}.")
    return ("Both pairs compute the same number, −log of the probability given to the true "
            "class; the sigmoid head just stores one probability where the softmax stores two.")


# --------------------------------------------------------------------------- 05.3
def sigmoid_head_from_softmax(kernel, bias) -> tuple[np.ndarray, np.ndarray]:
    """The Dense(1) weights (kernel ``(d, 1)``, bias ``(1,)``) of the sigmoid head equal to a
    Dense(2) softmax head (kernel ``(d, 2)``, bias ``(2,)``, class 1 = dog):
    softmax(z)[1] = sigmoid(z1 − z0)."""
    kernel, bias = np.asarray(kernel, "float64"), np.asarray(bias, "float64")
    return (kernel[:, 1] - kernel[:, 0])[:, None], np.array([bias[1] - bias[0]])


def _as_float_array(v, what: str) -> np.ndarray:
    try:
        return np.asarray(v, dtype="float64")
    except (TypeError, ValueError):
        raise Wrong(f"{what} should be an array of numbers, got {type(v).__name__}.") from None


@exercise("05.3", "A softmax head is a sigmoid head", stars=3,
          mistake="taking only the dog column, or subtracting the wrong way round (which gives "
                  "P(cat)), instead of the difference of the two logits")
def check_05_3(answer, kernel=None, bias=None) -> str:
    if kernel is None or bias is None:
        raise Wrong("the check needs the softmax head's weights: exercises.check(\"05.3\", "
                    "answer_05_3, kernel=..., bias=...).")
    K, b = np.asarray(kernel, "float64"), np.asarray(bias, "float64")
    d = K.shape[0]
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise Wrong(f"answer_05_3 should be a pair (w, b): the kernel ({d}, 1) and the bias (1,) "
                    f"of the Dense(1) sigmoid head, got {type(answer).__name__}.")
    w = _as_float_array(answer[0], "w").reshape(-1)
    c = _as_float_array(answer[1], "b").reshape(-1)
    if w.size != d or c.size != 1:
        raise Wrong(f"expected w with {d} numbers (kernel shape ({d}, 1)) and b with 1 number "
                    f"(bias shape (1,)), got {w.size} and {c.size}: one sigmoid unit has one weight "
                    "per feature and one bias.")
    w_exp, c_exp = (K[:, 1] - K[:, 0]), np.array([b[1] - b[0]])

    def close(x, y):
        return np.allclose(x, y, rtol=1e-5, atol=1e-6)

    if close(w, w_exp) and close(c, c_exp):
        return ("softmax([z_cat, z_dog])[1] = 1 / (1 + e^(z_cat − z_dog)) = sigmoid(z_dog − z_cat), "
                "and z_dog − z_cat is itself a linear function of the features: one sigmoid unit "
                "with the difference of the two weight columns is the very same model.")
    if close(w, -w_exp) and close(c, -c_exp):
        raise Wrong("your head gives P(cat), not P(dog): you subtracted dog from cat. The sigmoid "
                    "of z_dog − z_cat is the probability of class 1 (dog).")
    if close(w, K[:, 1]):
        raise Wrong("w is the dog column alone: a softmax compares the two logits, so the "
                    "sigmoid needs their difference, z_dog − z_cat (dog column minus cat column).")
    if close(w, K[:, 0] + K[:, 1]):
        raise Wrong("w is the sum of the two columns: the softmax depends only on the difference "
                    "of the logits (adding the same number to both changes nothing).")
    if close(w, w_exp):
        raise Wrong(f"w is right, the bias is not: expected b = bias[1] − bias[0] = {c_exp[0]:.4g}, "
                    f"got {c[0]:.4g}. The bias is part of each logit, so it is subtracted too.")
    raise Wrong("w should be kernel[:, 1] − kernel[:, 0] and b should be bias[1] − bias[0]: the "
                "dog logit minus the cat logit, since softmax(z)[1] = sigmoid(z1 − z0).")


# --------------------------------------------------------------------------- 05.4
PROBE_PROBABILITIES = (0.0, 0.03, 0.2, 0.45, 0.55, 0.8, 0.97, 1.0)


@exercise("05.4", "Fix R1's prediction", stars=1,
          mistake="R1's `if output == 1: pred = 'dog'` followed by an unconditional "
                  "`pred = 'cat'` (always cat), or the mapping inverted")
def check_05_4(answer) -> str:
    if not callable(answer):
        raise Wrong(f"answer_05_4 should be your function predict_label(p_dog, threshold=0.5), got "
                    f"{type(answer).__name__}.")
    got = {p: answer(p) for p in PROBE_PROBABILITIES}
    wrong_type = [v for v in got.values() if v not in CLASS_NAMES]
    if wrong_type:
        raise Wrong(f"predict_label should return the class name 'cat' or 'dog', got "
                    f"{wrong_type[0]!r} (for p_dog = {next(p for p, v in got.items() if v == wrong_type[0])}): "
                    "a name a person can read, taken from the class names.")
    want = {p: "dog" if p >= 0.5 else "cat" for p in PROBE_PROBABILITIES}
    shown = ", ".join(f"{p:g} → {got[p]!r}" for p in PROBE_PROBABILITIES)
    if got == want:
        at_08 = {p: answer(p, threshold=0.8) for p in (0.7, 0.85)}
        if at_08 != {0.7: "cat", 0.85: "dog"}:
            raise Wrong(f"with threshold=0.8 expected 0.7 → 'cat' and 0.85 → 'dog', got "
                        f"0.7 → {at_08[0.7]!r} and 0.85 → {at_08[0.85]!r}: use the threshold "
                        "argument, not a fixed 0.5.")
        p32 = answer(np.float32(0.9))
        if p32 != "dog":
            raise Wrong(f"predict_label(np.float32(0.9)) gave {p32!r}: it must also work on the "
                        "numbers model.predict returns (NumPy float32).")
        return ("'dog' when P(dog) ≥ threshold, else 'cat': one if/else, so the answer depends on "
                "the model. R1's second assignment ran unconditionally and erased the first.")
    if all(v == "cat" for v in got.values()):
        raise Wrong(f"always 'cat' ({shown}): that is R1's bug. `pred = 'cat'` after the `if` runs "
                    "every time and overwrites the answer; use if/else (or a conditional "
                    "expression) so only one of the two assignments runs.")
    if all(v == "dog" for v in got.values()):
        raise Wrong(f"always 'dog' ({shown}): the answer must depend on p_dog and the threshold.")
    if all(got[p] == ("cat" if p >= 0.5 else "dog") for p in PROBE_PROBABILITIES):
        raise Wrong(f"the mapping is inverted ({shown}): the model outputs P(dog), the "
                    "probability of label 1 = dog, so a high probability means 'dog'.")
    if got[1.0] == "dog" and all(got[p] == "cat" for p in PROBE_PROBABILITIES if p < 1.0):
        raise Wrong(f"'dog' only for p_dog exactly 1.0 ({shown}): a sigmoid output is a "
                    "probability strictly between 0 and 1 and is almost never exactly 1. "
                    "Compare it with the threshold: p_dog >= threshold.")
    bad = [p for p in PROBE_PROBABILITIES if got[p] != want[p]]
    raise Wrong(f"for p_dog = {bad[0]:g} expected {want[bad[0]]!r}, got {got[bad[0]]!r} "
                f"({shown}): return 'dog' when p_dog >= threshold, else 'cat'.")


# --------------------------------------------------------------------------- 05.5
def threshold_for_precision(y_true, p, target: float):
    """The threshold with the highest recall among those whose precision on (y_true, p)
    reaches ``target``, predicting positive when ``p >= threshold``; the lowest such
    threshold is returned. None if no threshold reaches the target.
    ``y_true``: ``(n,)`` 0/1; ``p``: ``(n,)`` probabilities of class 1."""
    y, p = _binary_inputs(y_true, p)
    best = _operating_points(y, p)
    ok = best["precision"] >= target
    if not ok.any():
        return None
    return float(best["threshold"][ok].min())


def _binary_inputs(y_true, p):
    y = np.asarray(y_true).reshape(-1).astype(np.int64)
    p = np.asarray(p, dtype="float64").reshape(-1)
    if y.shape != p.shape or y.size == 0:
        raise ValueError(f"y_true and p must be two (n,) arrays of the same length, got {y.shape} "
                         f"and {p.shape}.")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold only 0 and 1.")
    return y, p


def _operating_points(y, p) -> dict:
    """Precision and recall of ``p >= t`` for every distinct score t (descending)."""
    order = np.argsort(-p, kind="mergesort")
    ps, ys = p[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(ps)), ps.size - 1]     # last index of each distinct score
    tp = np.cumsum(ys)[last]
    n_pred = last + 1
    return {"threshold": ps[last], "precision": tp / n_pred,
            "recall": tp / max(int(y.sum()), 1)}


def _precision_recall_at(y, p, t):
    pred = p >= t
    tp = int((pred & (y == 1)).sum())
    n = int(pred.sum())
    return (tp / n if n else float("nan")), tp / max(int(y.sum()), 1), n


@exercise("05.5", "A threshold for a target precision", stars=2,
          mistake="picking the threshold of the highest precision (giving away recall), or one "
                  "that misses the target, or reading precision_recall_curve's arrays off by one")
def check_05_5(answer, y_true=None, p=None, target=None) -> str:
    if y_true is None or p is None or target is None:
        raise Wrong("the check needs the validation labels, probabilities and target: "
                    "exercises.check(\"05.5\", answer_05_5, y_true=..., p=..., target=...).")
    y, p = _binary_inputs(y_true, p)
    pts = _operating_points(y, p)
    feasible = pts["precision"] >= target
    if not feasible.any():
        if answer is None:
            return (f"No threshold reaches a precision of {target:.0%} on these images, so there "
                    "is no operating point to choose: None is the honest answer.")
        raise Wrong(f"no threshold reaches a precision of {target:.0%} on these images (the best is "
                    f"{pts['precision'].max():.1%}); the answer should be None.")
    best_recall = float(pts["recall"][feasible].max())
    t_best = float(pts["threshold"][feasible].min())
    if answer is None:
        raise Wrong(f"a threshold does reach the target: at {t_best:.4f} precision is "
                    f"{pts['precision'][pts['threshold'] == t_best][0]:.1%}. Look for the lowest "
                    "threshold whose precision is at least the target.")
    if isinstance(answer, (bool, np.bool_)) or not isinstance(answer, (numbers.Real, np.floating)):
        raise Wrong(f"answer_05_5 should be one threshold, a number between 0 and 1, got "
                    f"{type(answer).__name__}.")
    t = float(answer)
    if not 0.0 <= t <= 1.0:
        raise Wrong(f"a threshold on a probability lies between 0 and 1, got {t:g}.")
    prec, rec, n = _precision_recall_at(y, p, t)
    if n == 0:
        raise Wrong(f"at threshold {t:.4f} no image is called 'dog' at all (every probability is "
                    f"below it): precision is undefined and recall is 0. The lowest threshold that "
                    f"reaches {target:.0%} precision keeps recall at {best_recall:.1%}.")
    if prec < target:
        hint = (" 0.5 is the default threshold, not one chosen for a precision target."
                if abs(t - 0.5) < 1e-12 else "")
        raise Wrong(f"at threshold {t:.4f} precision is {prec:.1%} (recall {rec:.1%}), below the "
                    f"{target:.0%} target: the threshold is too low, too many cats are called "
                    f"dogs.{hint} If you used precision_recall_curve, precision[i] belongs to "
                    "thresholds[i] (precision has one extra value at the end).")
    if rec < best_recall - 1e-12:
        raise Wrong(f"at threshold {t:.4f} precision is {prec:.1%}, which meets the target, but "
                    f"recall is only {rec:.1%}; a lower threshold also meets it and keeps recall at "
                    f"{best_recall:.1%}. Choose the lowest threshold whose precision reaches the "
                    "target: it finds the most dogs the target allows.")
    return (f"At {t:.4f}, {prec:.1%} of the images called 'dog' are dogs and {rec:.1%} of the dogs "
            "are found: the most recall this precision allows, chosen on validation images, "
            "not on the test set.")
