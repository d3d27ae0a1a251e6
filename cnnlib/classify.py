"""Train an image classifier on any folder-per-class dataset, save it, and predict with it.

The logic behind ``python -m cnnlib train`` and ``python -m cnnlib predict``::

    from cnnlib import classify
    report = classify.train("data/train", "model.keras", image_size=(120, 160), epochs=10)
    report.evaluation.accuracy, report.evaluation.per_class
    classify.predict("model.keras", ["cell.jpeg"])     # DataFrame: one row per image

Two classes give a binary model (one sigmoid output, binary cross-entropy); more give a
softmax model (sparse categorical cross-entropy). The model is saved as a ``.keras``
file, with a JSON sidecar (``NAME.classes.json``: class names, image size, binary or
not) and the confusion matrix as ``NAME.confusion.png`` next to it.

Evaluation: with ``test_dir`` the report scores that separate folder (honest); without
it, a random ``val_split`` of ``data_dir`` is held out, which overestimates accuracy when
the folder holds near-copies of the same images (augmented copies, bursts of photos).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import folders
from .errors import CnnlibError

__all__ = ["ModelFileError", "TrainReport", "sidecar_path", "confusion_path", "train",
           "save", "load", "predict"]


class ModelFileError(CnnlibError, FileNotFoundError):
    """A saved model (or its class-names sidecar) is missing or cannot be loaded."""


@dataclass
class TrainReport:
    """What ``train`` returns: the evaluation (see ``cnnlib.evaluation.Evaluation``), the
    fit (``cnnlib.training.FitResult``), what was evaluated (``evaluated_on``), the class
    names and the files written (``model_path``, ``sidecar_path``, ``confusion_path``)."""
    evaluation: object
    fit: object
    evaluated_on: str
    class_names: list
    binary: bool
    model_path: Path
    sidecar_path: Path
    confusion_path: Path

    def text(self) -> str:
        """The report as a few lines for a terminal."""
        ev = self.evaluation
        per_class = ev.per_class.copy()
        lines = [f"Evaluated on {self.evaluated_on}: accuracy {ev.accuracy:.1%} "
                 f"({int(ev.per_class['support'].sum())} images)",
                 per_class.to_string(float_format=lambda v: f"{v:.3f}"),
                 "confusion matrix (rows: true class, columns: predicted):",
                 pd.DataFrame(ev.confusion, index=self.class_names,
                              columns=self.class_names).to_string(),
                 f"model saved to {self.model_path}",
                 f"class names saved to {self.sidecar_path}",
                 f"confusion matrix saved to {self.confusion_path}"]
        return "\n".join(lines)


def sidecar_path(model_path) -> Path:
    """``model.keras`` -> ``model.classes.json`` (class names, image size, binary)."""
    p = Path(model_path)
    return p.with_name(p.stem + ".classes.json")


def confusion_path(model_path) -> Path:
    """``model.keras`` -> ``model.confusion.png``."""
    p = Path(model_path)
    return p.with_name(p.stem + ".confusion.png")


def _check_model_path(out) -> Path:
    out = Path(out)
    if out.suffix != ".keras":
        raise ValueError(f"the model file must end in .keras (Keras's format), got {out.name!r}; "
                         f"e.g. --out model.keras.")
    return out


def _check_positive(name: str, value, *, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def train(data_dir, out, *, image_size=(120, 160), epochs: int = 10, batch_size: int = 32,
          val_split: float = 0.2, test_dir=None, seed: int = 0, log_every: int = 1,
          builder=None) -> TrainReport:
    """Train a classifier on ``data_dir/CLASS/*`` and save it to ``out`` (``.keras``).

    ``image_size``: ``(H, W)`` every image is resized to. ``val_split``: fraction of
    ``data_dir`` held out at random for validation (0 or None: train on all of it, then
    ``test_dir`` is required to report a score). ``test_dir``: a separate folder with the
    same class folders, scored for the final report (preferred). ``builder``: a function
    ``(image_size, n_classes) -> keras.Model`` (default ``models.folder_classifier``).
    Prints the folder scans and one line per epoch. Returns a TrainReport.
    """
    import keras

    from . import evaluation, models, plots, training

    out = _check_model_path(out)
    image_size = folders._check_image_size(image_size)
    epochs = _check_positive("epochs", epochs)
    batch_size = _check_positive("batch_size", batch_size)
    if val_split in (0, None) and test_dir is None:
        raise ValueError("nothing to evaluate on: give val_split > 0 (e.g. 0.2) or a test_dir.")
    scan = folders.scan_image_folder(data_dir)
    print(f"training folder: {scan.summary()}", flush=True)
    names = scan.class_names
    binary = len(names) == 2
    label_mode = "binary" if binary else "int"
    common = dict(image_size=image_size, batch_size=batch_size, seed=seed, label_mode=label_mode)
    if val_split:
        train_ds = folders.image_dataset(scan, validation_split=val_split, subset="training", **common)
        val_ds = folders.image_dataset(scan, validation_split=val_split, subset="validation",
                                       shuffle=False, **common)
    else:
        train_ds, val_ds = folders.image_dataset(scan, **common), None
    if test_dir is not None:
        test_scan = folders.scan_image_folder(test_dir, class_names=names)
        print(f"test folder: {test_scan.summary()}", flush=True)
        eval_ds = folders.image_dataset(test_scan, shuffle=False, **common)
        evaluated_on = f"the test folder {Path(test_dir).name!r}"
    else:
        eval_ds = val_ds
        evaluated_on = (f"a random {val_split:.0%} validation split of the training folder "
                        f"(optimistic if the folder holds near-duplicate images; pass a test folder)")

    training.set_seed(seed)
    build = builder or models.folder_classifier
    model = build(image_size, len(names))
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    print(f"{'binary (sigmoid)' if binary else f'{len(names)}-class (softmax)'} model, "
          f"{model.count_params():,} parameters, {epochs} epoch(s) at {image_size[0]}x{image_size[1]}",
          flush=True)
    fit = training.fit(model, train_ds, epochs=epochs, validation_data=val_ds, log_every=log_every,
                       shuffle=False)  # the dataset reshuffles itself every epoch
    ev = evaluation.evaluate(model, eval_ds, class_names=names)

    side = save(model, out, names, image_size)
    fig = plots.confusion_matrix(ev.confusion, names, title=f"Confusion matrix: {evaluated_on.split(' (')[0]}")
    cm_path = confusion_path(out)
    fig.savefig(cm_path, dpi=100)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return TrainReport(evaluation=ev, fit=fit, evaluated_on=evaluated_on, class_names=list(names),
                       binary=binary, model_path=out, sidecar_path=side, confusion_path=cm_path)


def save(model, out, class_names, image_size) -> Path:
    """Save ``model`` to ``out`` (``.keras``) with its sidecar ``NAME.classes.json``
    (``class_names``, ``image_size`` ``(H, W)``, and whether the output is one sigmoid);
    returns the sidecar's path. ``predict`` and ``load`` read both back."""
    out = _check_model_path(out)
    image_size = folders._check_image_size(image_size)
    binary = model.output_shape[-1] == 1
    if (2 if binary else model.output_shape[-1]) != len(class_names):
        raise ValueError(f"the model predicts {model.output_shape[-1]} output(s) but "
                         f"{len(class_names)} class names were given.")
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    side = sidecar_path(out)
    side.write_text(json.dumps({"class_names": list(class_names), "image_size": list(image_size),
                                "binary": binary}, indent=2))
    return side


def load(model_path):
    """Load a model saved by ``train``: returns ``(model, meta)`` where ``meta`` holds
    ``class_names``, ``image_size`` and ``binary``. Raises ModelFileError when the model
    or its sidecar is missing or unreadable."""
    import keras

    from . import models  # noqa: F401 - registers cnnlib's custom layers for loading
    model_path = Path(model_path)
    if not model_path.is_file():
        raise ModelFileError(f"no model file at {model_path}. Train one first: "
                             f"python -m cnnlib train DATA_DIR --out {model_path.name}")
    side = sidecar_path(model_path)
    if not side.is_file():
        raise ModelFileError(f"{side.name} (the class names) is missing next to "
                             f"{model_path.name}; it is written by `python -m cnnlib train`. "
                             f"Copy it along with the model.")
    try:
        meta = json.loads(side.read_text())
        meta = {"class_names": list(meta["class_names"]), "image_size": tuple(meta["image_size"]),
                "binary": bool(meta["binary"])}
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{side.name} is not a valid class-names file ({exc}).") from None
    try:
        model = keras.models.load_model(model_path)
    except Exception as exc:  # noqa: BLE001 - any failure means the file is not a usable model
        raise ModelFileError(f"{model_path.name} cannot be loaded as a Keras model ({exc}).") from None
    return model, meta


def predict(model_path, images) -> pd.DataFrame:
    """Class probabilities for each image file in ``images``: a DataFrame with one row per
    image (indexed by file name), one column per class, and a ``predicted`` column.
    Raises ImageFolderError naming a missing or unreadable image."""
    from . import evaluation
    if isinstance(images, (str, os.PathLike)):
        images = [images]
    if not images:
        raise ValueError("give at least one image file to predict.")
    model, meta = load(model_path)
    batch = np.concatenate([folders.load_image(p, meta["image_size"]) for p in images])
    probs = evaluation.predict_proba(model, batch)
    frame = pd.DataFrame(probs, columns=meta["class_names"],
                         index=pd.Index([Path(p).name for p in images], name="image"))
    frame["predicted"] = [meta["class_names"][i] for i in probs.argmax(axis=1)]
    return frame
