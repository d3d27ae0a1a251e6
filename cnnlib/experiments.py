"""Controlled experiments: train several named model variants on the same data, with the
same seed, and compare them side by side.

One variant is one way of building (and compiling) a model, e.g. "baseline", "dropout",
"augmentation". ``run_variants`` trains each one on identical data from an identical
seed, evaluates it, and collects everything into a ``Results``: the per-epoch
histories, for learning curves, and ``Results.table()``, one row of numbers per
variant. ``learning_curve_vs_size`` trains one variant on nested, class-balanced
subsets of growing size: accuracy against training-set size.

Typical use (notebook 08)::

    from cnnlib import experiments
    variants = [
        experiments.Variant("baseline", lambda: make_cnn()),
        experiments.Variant("dropout", lambda: make_cnn(dropout=0.5)),
    ]
    res = experiments.run_variants(variants, (x_tr, y_tr), (x_val, y_val), (x_te, y_te),
                                   epochs=20, batch_size=64, seed=0)
    res.histories["dropout"]          # DataFrame: epoch, loss, accuracy, val_loss, val_accuracy
    res.table()                       # one row per variant (see Results.table)

The bench scripts reuse ``run_variants`` (and ``Results.table()``) to time and compare
variants measured side by side in one run.

Data: each split is a pair ``(x, y)``; ``x`` is ``(n, H, W, C)`` (or ``(n, H, W)``)
images in whatever scale the models expect, ``y`` is ``(n,)`` or ``(n, 1)`` integer
class indices (sparse labels: compile with ``sparse_categorical_crossentropy``).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from . import evaluation, training

__all__ = ["Variant", "Results", "run_variants", "combine", "learning_curve_vs_size",
           "stratified_subset"]

#: The columns of ``Results.table()``, in order.
TABLE_COLUMNS = ("n_train", "params", "epochs_run", "best_val_accuracy", "best_epoch",
                 "final_train_accuracy", "final_val_accuracy", "final_gap", "train_accuracy",
                 "val_accuracy", "test_accuracy", "fit_seconds")


@dataclass(frozen=True)
class Variant:
    """One named way of building a model.

    ``name``: a short unique label (table row, legend entry).
    ``build``: a zero-argument callable returning a **compiled** ``keras.Model``; it is
    called after the seed is set, so every variant starts from the same random state.
    The model must report an ``accuracy`` metric (``metrics=["accuracy"]``).
    ``epochs``: overrides the experiment's epoch count for this variant (None: use it).
    ``callbacks``: Keras callbacks for ``fit`` (e.g. ``EarlyStopping``), as a sequence or,
    better for stateful callbacks, a zero-argument callable returning a fresh list per run.
    ``batch_size``: overrides the experiment's batch size (None: use it).
    ``note``: free text describing the variant (shown by ``Results.table(notes=True)``).
    """
    name: str
    build: Callable
    epochs: int | None = None
    callbacks: Sequence | Callable = ()
    batch_size: int | None = None
    note: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"Variant name must be a non-empty string, got {self.name!r}.")
        if not callable(self.build):
            raise TypeError(f"Variant {self.name!r}: build must be a zero-argument callable "
                            f"returning a compiled keras.Model (e.g. lambda: make_cnn()), got "
                            f"{type(self.build).__name__}.")
        for key in ("epochs", "batch_size"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, (int, np.integer))
                                      or isinstance(value, bool) or value < 1):
                raise ValueError(f"Variant {self.name!r}: {key} must be a positive integer or "
                                 f"None, got {value!r}.")

    def make_callbacks(self) -> list:
        """The callbacks for one run (a fresh list when ``callbacks`` is a factory)."""
        cbs = self.callbacks() if callable(self.callbacks) else self.callbacks
        return list(cbs or ())


@dataclass
class Results:
    """What ``run_variants`` and ``learning_curve_vs_size`` return.

    ``names``: the variants (rows) in run order. Per name: ``histories`` (DataFrame from
    ``training.fit``: ``epoch`` plus the Keras log keys), ``fits`` (``training.FitResult``),
    ``models`` (the trained ``keras.Model``, with restored best weights where
    ``EarlyStopping(restore_best_weights=True)`` was used), ``test`` (an
    ``evaluation.Evaluation`` on the test split, or None without a test split),
    ``train_accuracy`` and ``val_accuracy`` (accuracy of the trained model, as returned, on
    its training and validation images in inference mode: no dropout, no augmentation),
    ``params`` (parameter count) and ``n_train``.
    ``seed``, ``epochs``, ``batch_size``: the experiment's settings.
    """
    names: list = field(default_factory=list)
    histories: dict = field(default_factory=dict)
    fits: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    test: dict = field(default_factory=dict)
    train_accuracy: dict = field(default_factory=dict)
    val_accuracy: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    n_train: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    seed: int = 0
    epochs: int = 0
    batch_size: int = 0

    def table(self, notes: bool = False) -> pd.DataFrame:
        """One row per variant (index ``variant``, in run order) with the columns:

        - ``n_train``: training images; ``params``: parameter count;
        - ``epochs_run``: epochs trained (fewer than asked when early stopping fired);
        - ``best_val_accuracy`` and ``best_epoch`` (1-based): the highest validation
          accuracy of any epoch, and the first epoch that reached it;
        - ``final_train_accuracy``, ``final_val_accuracy``: the last epoch's values as
          Keras logged them (the train figure is a running mean over the epoch, measured
          with dropout and augmentation active);
        - ``final_gap`` = ``final_train_accuracy - final_val_accuracy``: how far training
          accuracy ran ahead of validation by the end (large: overfitting);
        - ``train_accuracy``: the trained model re-measured on its training images in
          inference mode; ``val_accuracy``: the same on the validation split. This is the
          validation accuracy of the model you keep (the last epoch's weights, or the best
          epoch's where ``EarlyStopping(restore_best_weights=True)`` restored them): choose
          between variants by this column, not by ``test_accuracy``;
        - ``test_accuracy``: on the test split (NaN without one);
        - ``fit_seconds``: wall-clock of ``fit`` (validation passes included).

        ``notes=True`` appends each variant's ``note``.
        """
        rows = []
        for name in self.names:
            h = self.histories[name]
            best = int(h["val_accuracy"].to_numpy().argmax())
            test = self.test.get(name)
            rows.append({
                "variant": name,
                "n_train": int(self.n_train[name]),
                "params": int(self.params[name]),
                "epochs_run": int(len(h)),
                "best_val_accuracy": float(h["val_accuracy"].iloc[best]),
                "best_epoch": int(h["epoch"].iloc[best]),
                "final_train_accuracy": float(h["accuracy"].iloc[-1]),
                "final_val_accuracy": float(h["val_accuracy"].iloc[-1]),
                "final_gap": float(h["accuracy"].iloc[-1] - h["val_accuracy"].iloc[-1]),
                "train_accuracy": float(self.train_accuracy[name]),
                "val_accuracy": float(self.val_accuracy[name]),
                "test_accuracy": float(test.accuracy) if test is not None else float("nan"),
                "fit_seconds": float(self.fits[name].seconds),
            })
        frame = pd.DataFrame(rows, columns=("variant",) + TABLE_COLUMNS).set_index("variant")
        if notes:
            frame["note"] = [self.notes.get(n, "") for n in self.names]
        return frame

    def __getitem__(self, name: str) -> pd.Series:
        """The table row of variant ``name`` (counts stay ints: ``row.best_epoch``)."""
        if name not in self.histories:
            raise KeyError(f"No variant {name!r}; the results hold {self.names}.")
        return self.table().astype(object).loc[name]


# --------------------------------------------------------------------------- validation
def _check_split(split, what: str, *, required: bool = True):
    if split is None:
        if required:
            raise ValueError(f"the {what} split is required: pass it as a pair (x, y).")
        return None
    if not isinstance(split, (tuple, list)) or len(split) != 2:
        raise ValueError(f"the {what} split must be a pair (x, y) of images (n, H, W[, C]) and "
                         f"labels (n,); got {type(split).__name__}"
                         f"{f' of length {len(split)}' if hasattr(split, '__len__') else ''}.")
    x, y = split
    if not hasattr(x, "shape") or not hasattr(y, "shape"):
        raise ValueError(f"the {what} split must hold NumPy arrays (x, y); got "
                         f"({type(x).__name__}, {type(y).__name__}).")
    if x.ndim not in (3, 4):
        raise ValueError(f"{what} images must be (n, H, W) or (n, H, W, C); got shape {x.shape}.")
    if len(x) == 0:
        raise ValueError(f"the {what} split is empty.")
    if len(x) != len(y):
        raise ValueError(f"the {what} split has {len(x)} images but {len(y)} labels: they must "
                         f"describe the same samples.")
    return x, evaluation.to_class_indices(y)


def _check_variants(variants) -> list:
    if isinstance(variants, Variant):
        raise TypeError("pass a list of Variants, e.g. [Variant('baseline', build)], not a "
                        "single Variant.")
    variants = list(variants)
    if not variants:
        raise ValueError("no variants to run: pass at least one Variant.")
    bad = [v for v in variants if not isinstance(v, Variant)]
    if bad:
        raise TypeError(f"every item must be an experiments.Variant; got {type(bad[0]).__name__}.")
    names = [v.name for v in variants]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"variant names must be unique (they label the table rows and curves); "
                         f"repeated: {dupes}. Rename them, e.g. 'dropout 0.3' and 'dropout 0.5'.")
    return variants


def _positive_int(value, what: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}.")
    return int(value)


# --------------------------------------------------------------------------- running
@contextmanager
def _quiet_retracing():
    """Mute TensorFlow's "triggered tf.function retracing" warning while variants run:
    each new model traces its own functions, which is expected here, not a bug."""
    import tensorflow as tf
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def _run_one(variant: Variant, train, val, test, *, epochs, batch_size, seed, class_names,
             log_every, results: Results, name: str) -> None:
    with _quiet_retracing():
        _train_one(variant, train, val, test, epochs=epochs, batch_size=batch_size, seed=seed,
                   class_names=class_names, log_every=log_every, results=results, name=name)


def _train_one(variant: Variant, train, val, test, *, epochs, batch_size, seed, class_names,
               log_every, results: Results, name: str) -> None:
    training.set_seed(seed)
    model = variant.build()
    if not hasattr(model, "fit") or not hasattr(model, "count_params"):
        raise TypeError(f"Variant {variant.name!r}: build() returned {type(model).__name__}, "
                        f"not a keras.Model.")
    x_tr, y_tr = train
    fit = training.fit(model, x_tr, y_tr, epochs=variant.epochs or epochs,
                       batch_size=variant.batch_size or batch_size, validation_data=val,
                       callbacks=variant.make_callbacks(), log_every=log_every)
    missing = [k for k in ("accuracy", "val_accuracy") if k not in fit.history]
    if missing:
        raise ValueError(f"Variant {variant.name!r}: the history lacks {missing}; compile the "
                         f"model with metrics=['accuracy'] (it logged "
                         f"{[c for c in fit.history.columns if c != 'epoch']}).")
    names = class_names or [str(i) for i in range(int(model.output_shape[-1]))]
    results.names.append(name)
    results.histories[name] = fit.history
    results.fits[name] = fit
    results.models[name] = model
    results.params[name] = training.count_params(model)
    results.n_train[name] = len(x_tr)
    results.notes[name] = variant.note
    results.train_accuracy[name] = evaluation.evaluate(model, x_tr, y_tr, class_names=names).accuracy
    results.val_accuracy[name] = evaluation.evaluate(model, val[0], val[1], class_names=names).accuracy
    results.test[name] = (evaluation.evaluate(model, test[0], test[1], class_names=names)
                          if test is not None else None)


def _summary_line(results: Results, name: str, width: int) -> str:
    row = results[name]
    test = f"  test {row.test_accuracy:.3f}" if np.isfinite(row.test_accuracy) else ""
    return (f"{name:<{width}}  {row.params:>9,d} params  {row.epochs_run:>3d} epochs  "
            f"best val {row.best_val_accuracy:.3f} (epoch {row.best_epoch}), kept {row.val_accuracy:.3f}  "
            f"gap {row.final_gap:+.3f}{test}  {row.fit_seconds:.1f} s")


def run_variants(variants: Sequence[Variant], train, val, test=None, *, epochs: int,
                 batch_size: int = 32, seed: int = 0, class_names=None, log_every: int = 0,
                 verbose: bool = True) -> Results:
    """Train every variant on the same data from the same seed; return their ``Results``.

    ``train``, ``val``, ``test``: pairs ``(x, y)``, images ``(n, H, W[, C])`` and labels
    ``(n,)`` / ``(n, 1)`` class indices. ``val`` is monitored every epoch (learning
    curves, early stopping); ``test`` (optional) is only used once per variant, after
    training. ``epochs``, ``batch_size``: defaults for variants that do not set their own.
    ``seed``: set (``training.set_seed``) before each variant is built, so every variant
    starts from the same random state. ``log_every``: per-epoch lines from
    ``training.fit`` (0: none); ``verbose``: one summary line per variant.
    """
    variants = _check_variants(variants)
    train = _check_split(train, "train")
    val = _check_split(val, "validation")
    test = _check_split(test, "test", required=False)
    epochs = _positive_int(epochs, "epochs")
    batch_size = _positive_int(batch_size, "batch_size")
    results = Results(seed=int(seed), epochs=epochs, batch_size=batch_size)
    width = max(len(v.name) for v in variants)
    for v in variants:
        _run_one(v, train, val, test, epochs=epochs, batch_size=batch_size, seed=seed,
                 class_names=class_names, log_every=log_every, results=results, name=v.name)
        if verbose:
            print(_summary_line(results, v.name, width), flush=True)
    return results


def combine(*results: Results) -> Results:
    """One ``Results`` holding the variants of several runs, in order (e.g. a notebook that
    runs one remedy per section, then tabulates them all). The runs must share their
    seed; variant names must be unique across them."""
    if not results:
        raise ValueError("nothing to combine: pass one or more Results.")
    bad = [type(r).__name__ for r in results if not isinstance(r, Results)]
    if bad:
        raise TypeError(f"combine takes Results from run_variants; got {bad[0]}.")
    seeds = sorted({r.seed for r in results})
    if len(seeds) > 1:
        raise ValueError(f"these runs used different seeds {seeds}: their variants did not start "
                         f"from the same random state, so they are not comparable side by side.")
    names = [n for r in results for n in r.names]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"variant names repeat across the runs: {dupes}. Give each variant a "
                         f"unique name.")
    out = Results(seed=seeds[0], epochs=results[0].epochs, batch_size=results[0].batch_size)
    for r in results:
        out.names += r.names
        for key in ("histories", "fits", "models", "test", "train_accuracy", "val_accuracy", "params",
                    "n_train", "notes"):
            getattr(out, key).update(getattr(r, key))
    return out


def stratified_subset(y, n: int, *, seed: int = 0) -> np.ndarray:
    """Indices (sorted, ``(n,)``) of ``n`` samples whose class proportions follow ``y``'s.

    Subsets are **nested**: for the same ``y`` and ``seed``, the subset of size ``n`` is
    contained in every larger one, so a learning curve adds images instead of swapping
    them. ``y``: ``(N,)`` / ``(N, 1)`` class indices or one-hot ``(N, k)``.
    """
    y = evaluation.to_class_indices(y)
    n = _positive_int(n, "n")
    if n > len(y):
        raise ValueError(f"asked for {n} samples but there are only {len(y)}.")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    ys = y[order]
    # each sample's position within its class, as a fraction: taking the smallest
    # fractions first interleaves the classes in proportion to their sizes
    frac = np.empty(len(y))
    for c in np.unique(ys):
        pos = np.flatnonzero(ys == c)
        frac[pos] = (np.arange(len(pos)) + 0.5) / len(pos)
    ranked = order[np.argsort(frac, kind="stable")]
    return np.sort(ranked[:n])


def learning_curve_vs_size(variant: Variant, train, val, test=None, *, sizes: Sequence[int],
                           epochs: int, batch_size: int = 32, seed: int = 0, class_names=None,
                           log_every: int = 0, verbose: bool = True) -> Results:
    """Train ``variant`` on nested, class-balanced subsets of ``train`` of each size in
    ``sizes`` (see ``stratified_subset``), same seed, same ``val`` and ``test``.

    Returns ``Results`` with one row per size, named ``"{variant.name} n={size}"``;
    ``Results.table()``'s ``n_train`` column holds the size (plot accuracy against it).
    """
    if not isinstance(variant, Variant):
        raise TypeError(f"variant must be an experiments.Variant, got {type(variant).__name__}.")
    x_tr, y_tr = _check_split(train, "train")
    val = _check_split(val, "validation")
    test = _check_split(test, "test", required=False)
    sizes = [_positive_int(s, "each size") for s in sizes]
    if not sizes:
        raise ValueError("sizes is empty: pass the training-set sizes to try, e.g. [500, 1000, 2000].")
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"sizes must be distinct, got {sizes}.")
    too_big = [s for s in sizes if s > len(x_tr)]
    if too_big:
        raise ValueError(f"sizes {too_big} exceed the {len(x_tr)} training images available.")
    epochs = _positive_int(epochs, "epochs")
    batch_size = _positive_int(batch_size, "batch_size")
    results = Results(seed=int(seed), epochs=epochs, batch_size=batch_size)
    names = [f"{variant.name} n={s}" for s in sorted(sizes)]
    width = max(len(n) for n in names)
    for size, name in zip(sorted(sizes), names):
        idx = stratified_subset(y_tr, size, seed=seed)
        _run_one(variant, (x_tr[idx], y_tr[idx]), val, test, epochs=epochs,
                 batch_size=batch_size, seed=seed, class_names=class_names,
                 log_every=log_every, results=results, name=name)
        if verbose:
            print(_summary_line(results, name, width), flush=True)
    return results
