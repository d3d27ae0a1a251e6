"""Evaluate classifiers: accuracy, per-class precision/recall/F1 and the confusion
matrix, all through scikit-learn.

Typical use::

    from cnnlib import evaluation
    ev = evaluation.evaluate(model, x_test, y_test, class_names=ds.class_names)
    ev.accuracy          # float in [0, 1]
    ev.per_class         # DataFrame: precision, recall, f1, support per class
    ev.confusion         # (k, k) counts, rows = true class, columns = predicted class
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import metrics as skm

__all__ = ["Evaluation", "to_class_indices", "classification_summary", "predict_proba", "evaluate",
           "flip_shift_probabilities", "window_tta_probabilities"]


@dataclass
class Evaluation:
    """The result of ``classification_summary`` / ``evaluate``.

    ``accuracy``: fraction correct; ``per_class``: DataFrame indexed by class name with
    columns ``precision, recall, f1, support``; ``confusion``: ``(k, k)`` int array, rows
    the true class, columns the predicted one; ``y_true``, ``y_pred``: ``(n,)`` int class
    indices; ``probs``: ``(n, k)`` predicted probabilities, or None.
    """
    accuracy: float
    per_class: pd.DataFrame
    confusion: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    probs: np.ndarray | None = None
    class_names: tuple = ()

    @property
    def errors(self) -> np.ndarray:
        """Indices of the misclassified samples, ``(n_errors,)``."""
        return np.flatnonzero(self.y_true != self.y_pred)

    def most_confused(self, top: int = 5) -> pd.DataFrame:
        """The ``top`` off-diagonal cells of the confusion matrix: columns ``true``,
        ``predicted``, ``count``, largest first."""
        cm = self.confusion.copy()
        np.fill_diagonal(cm, 0)
        order = np.argsort(cm, axis=None)[::-1][:top]
        rows = [(self.class_names[i], self.class_names[j], int(cm[i, j]))
                for i, j in zip(*np.unravel_index(order, cm.shape)) if cm[i, j] > 0]
        return pd.DataFrame(rows, columns=["true", "predicted", "count"])


def to_class_indices(y) -> np.ndarray:
    """Class indices ``(n,)`` from labels given as ``(n,)``, ``(n, 1)`` indices or ``(n, k)``
    one-hot / probability rows (argmax)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1).astype(np.int64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"labels must be (n,), (n, 1) or one-hot (n, k); got shape {y.shape}.")
    if y.size and not np.all(np.equal(np.mod(y, 1), 0)):
        raise ValueError("labels (n,) must be whole-number class indices; for probabilities "
                         "of a sigmoid output use predict_proba / evaluate.")
    return y.astype(np.int64)


def classification_summary(y_true, y_pred, class_names, probs=None) -> Evaluation:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix.

    ``y_true``, ``y_pred``: class indices ``(n,)`` (or ``(n, 1)``, or one-hot ``(n, k)``);
    ``class_names``: the ``k`` names, index ``i`` naming class ``i``;
    ``probs``: optional ``(n, k)`` predicted probabilities, kept for plots.
    """
    class_names = tuple(str(c) for c in class_names)
    k = len(class_names)
    if k < 2:
        raise ValueError(f"need at least 2 class names, got {list(class_names)}.")
    yt, yp = to_class_indices(y_true), to_class_indices(y_pred)
    if len(yt) != len(yp):
        raise ValueError(f"y_true has {len(yt)} labels but y_pred has {len(yp)}: they must "
                         f"describe the same samples.")
    if len(yt) == 0:
        raise ValueError("no samples to evaluate (y_true is empty).")
    for name, arr in (("y_true", yt), ("y_pred", yp)):
        if arr.min() < 0 or arr.max() >= k:
            raise ValueError(f"{name} holds class indices {arr.min()}..{arr.max()}, but there "
                             f"are {k} class names (0..{k - 1}). Pass every class name.")
    labels = np.arange(k)
    p, r, f, s = skm.precision_recall_fscore_support(yt, yp, labels=labels, zero_division=0)
    per_class = pd.DataFrame({"precision": p, "recall": r, "f1": f, "support": s.astype(int)},
                             index=pd.Index(class_names, name="class"))
    cm = skm.confusion_matrix(yt, yp, labels=labels)
    if probs is not None:
        probs = np.asarray(probs)
        if probs.shape != (len(yt), k):
            raise ValueError(f"probs must be (n, k) = ({len(yt)}, {k}); got {probs.shape}.")
    return Evaluation(accuracy=float(skm.accuracy_score(yt, yp)), per_class=per_class,
                      confusion=cm, y_true=yt, y_pred=yp, probs=probs, class_names=class_names)


def predict_proba(model, x, batch_size: int = 256) -> np.ndarray:
    """Class probabilities ``(n, k)`` from a model with a softmax ``(n, k)`` output or a
    sigmoid ``(n, 1)`` output (turned into ``[1 - p, p]``). ``x``: images ``(n, H, W, C)``
    or a ``tf.data.Dataset`` of batches (labels, if any, are ignored)."""
    if hasattr(x, "element_spec"):
        out = model.predict(x.map(lambda *b: b[0]) if isinstance(x.element_spec, tuple) else x,
                            verbose=0)
    else:
        out = model.predict(x, batch_size=batch_size, verbose=0)
    return _as_proba(out)


def flip_shift_probabilities(model, x, batch_size: int = 1000) -> dict:
    """Test-time augmentation: class probabilities of images ``x`` ``(n, H, W, C)`` from one
    view (``"plain"``), averaged with the mirror image (``"flip"``, 2 views), and with both
    of those shifted by one pixel up-left and down-right (``"tta6"``, 6 views: the unshifted
    pair weighted 1/2, each shifted pair 1/4, reflect-padded, as airbench does). Each value
    is ``(n, k)``. Notebook 04 writes the same on the page."""
    x = np.asarray(x)

    def both(v):
        return (predict_proba(model, v, batch_size) + predict_proba(model, np.ascontiguousarray(v[:, :, ::-1]), batch_size)) / 2

    plain = predict_proba(model, x, batch_size)
    flip = (plain + predict_proba(model, np.ascontiguousarray(x[:, :, ::-1]), batch_size)) / 2
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    tta6 = (flip / 2 + both(np.ascontiguousarray(padded[:, :-2, :-2])) / 4
            + both(np.ascontiguousarray(padded[:, 2:, 2:])) / 4)
    return {"plain": plain, "flip": flip, "tta6": tta6}


def window_tta_probabilities(model, images) -> dict:
    """Test-time augmentation for a model that starts with a ``models.StainCrop``, for
    ``bench/blood_seeds.py``: ``"flip4"`` is notebook 07's page TTA (``predict_flip_tta``);
    ``"dihedral8"`` is a candidate the bench measures against it. ``images``: whole images
    ``(n, H, W, 3)``, 0..255.

    Returns ``(n, k)`` class probabilities: ``"plain"``, one view; ``"flip4"``, the mean over
    the whole image as is, flipped left-right, upside down and both (the crop finds the cell
    again in each); ``"dihedral8"``, the mean over the 8 symmetries of the square window the
    crop cuts out: turned by 0, 90, 180 and 270 degrees, each also mirrored. Turns by 90
    degrees need the window, which is square: the whole image is not."""
    import keras
    import tensorflow as tf

    from .models import StainCrop
    crop = next((layer for layer in model.layers if isinstance(layer, StainCrop)), None)
    if crop is None:
        raise ValueError("window_tta_probabilities needs a model whose first layer is a models.StainCrop; "
                         f"{model.name!r} has none. Use flip_shift_probabilities for whole images.")
    if crop.size[0] != crop.size[1]:
        raise ValueError(f"the StainCrop window is {crop.size[0]}x{crop.size[1]}: turns by 90 degrees need "
                         "a square window (size=s).")
    head = keras.Model(crop.output, model.output)          # everything after the crop
    images = tf.convert_to_tensor(np.asarray(images), tf.float32)

    flips = [_as_proba(model(v, training=False))
             for v in (images, images[:, :, ::-1], images[:, ::-1], images[:, ::-1, ::-1])]
    windows = crop(images)
    turns = [_as_proba(head(tf.image.rot90(w, k), training=False))
             for w in (windows, windows[:, :, ::-1]) for k in range(4)]
    return {"plain": flips[0], "flip4": np.mean(flips, axis=0), "dihedral8": np.mean(turns, axis=0)}


def _as_proba(out) -> np.ndarray:
    out = np.asarray(out)
    if out.ndim == 2 and out.shape[1] == 1:
        out = np.concatenate([1.0 - out, out], axis=1)
    if out.ndim != 2:
        raise ValueError(f"the model's output is {out.shape}; expected (n, k) probabilities.")
    return out


def evaluate(model, x, y=None, class_names=None, batch_size: int = 256) -> Evaluation:
    """Predict ``x`` with ``model`` and summarise against the true labels.

    ``x``: images ``(n, H, W, C)`` with ``y`` as ``(n,)`` / ``(n, 1)`` indices or ``(n, k)``
    one-hot; or a ``tf.data.Dataset`` yielding ``(images, labels)`` batches (``y=None``).
    Works for softmax ``(n, k)`` and sigmoid ``(n, 1)`` outputs.
    ``class_names``: names of the ``k`` classes (default ``'0'..'k-1'``).
    """
    if hasattr(x, "element_spec"):
        if y is not None:
            raise ValueError("x is a tf.data.Dataset yielding (images, labels): pass y=None.")
        if not isinstance(x.element_spec, tuple):
            raise ValueError("the dataset must yield (images, labels) pairs to be evaluated.")
        # one pass, so a shuffled dataset still pairs each prediction with its own label
        outs, ys = [], []
        for xb, yb, *_ in x:
            outs.append(np.asarray(model(xb, training=False)))
            ys.append(np.asarray(yb))
        probs, y = _as_proba(np.concatenate(outs)), np.concatenate(ys)
    elif y is None:
        raise ValueError("pass the true labels y (or a dataset yielding (images, labels)).")
    else:
        probs = predict_proba(model, x, batch_size=batch_size)
    if class_names is None:
        class_names = [str(i) for i in range(probs.shape[1])]
    if len(class_names) != probs.shape[1]:
        raise ValueError(f"the model predicts {probs.shape[1]} classes but {len(class_names)} "
                         f"class names were given.")
    return classification_summary(y, probs.argmax(axis=1), class_names, probs=probs)
