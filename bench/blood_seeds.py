"""Benchmark: how far the seed alone moves notebook 07's TEST score.

Trains notebook 07's 4-class recipe once per seed, each in a fresh Python process, on the
course's blood-cell data, and records TEST, TEST_SIMPLE and random-validation accuracy:

- data: TRAIN scanned with the course's subset rule (``per_class=800``, the lowest SHA-256),
  a random 20% held out for validation (``SEED`` draws it, as in the notebook), TEST and
  TEST_SIMPLE complete, all at 320x240;
- model: ``cnnlib.models.folder_classifier`` with the notebook's arguments (a 128-pixel
  ``StainCrop`` window resized to 96x96, widths 32-256, patch 2, rotation, 5% shifts,
  dropout 0.5); ``tests/test_page_models.py`` proves it identical to the notebook's page model;
- training: Adam with a cosine decay from 2e-3, 32 epochs, batch 32, sparse cross-entropy.

The seed sets what ``SEED`` sets in the notebook: the validation split, the order of the
batches, the initial weights and the augmentations. Everything else is fixed.

``--passes-before-fit N`` iterates the training set N times before training, as a look at the
data or a timing pass would. A seeded shuffle draws a new order on every pass, so the fit then
sees the orders of passes N+1, N+2, ...: the same model, data and seed, another batch order.
(Notebook 07 once made such a timing pass; with ``--passes-before-fit 1 --out DIR`` this script repeats
that notebook run's score to the last image.)

Usage (one full training per seed, about five minutes each on 2 cores; serialise it with
the notebooks' full runs)::

    flock /tmp/fullrun.lock .venv/bin/python bench/blood_seeds.py [--seeds 5] [--epochs 32]

Writes ``bench/results/blood_seeds.json`` and ``.md`` after every seed (a partial run keeps
what it measured, and ``--resume`` runs only the seeds still missing): per seed the
accuracies and the fit time, then the median and range, and the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"

# notebook 07's recipe (its page model's arguments are cnnlib.memory.NOTEBOOK_MODEL)
IMAGE_SIZE = (240, 320)
CROP = dict(box=128, size=96)
MODEL = dict(widths=(32, 64, 128, 256), patch=2, rotate=True, shift=0.05, dropout=0.5)
TRAIN_PER_CLASS = 800
VALIDATION_SPLIT = 0.2
BATCH_SIZE = 32
PEAK_LR = 2e-3


def tta_accuracies(model, ds) -> dict:
    """Accuracy with one view, with the notebook's four whole-image flips ("flip4") and with the
    8 turns and mirrors of the stain window ("dihedral8"): ``evaluation.window_tta_probabilities``,
    the library twin of notebook 07's page code."""
    import numpy as np

    from cnnlib import evaluation
    right, total = {}, 0
    for images, labels in ds:
        labels = np.asarray(labels).ravel()
        for view, probs in evaluation.window_tta_probabilities(model, images).items():
            right[view] = right.get(view, 0) + int((probs.argmax(axis=1) == labels).sum())
        total += len(labels)
    return {view: n / total for view, n in right.items()}


def run_seed(seed: int, epochs: int, keep_models=None, passes_before_fit: int = 0) -> dict:
    """Train and evaluate the recipe once with ``seed`` in this process; return the record."""
    import keras

    from cnnlib import datasets, evaluation, folders, models, training
    tree = datasets.blood_cells_dir(download=False)
    train_scan = folders.scan_image_folder(tree.train, per_class=TRAIN_PER_CLASS)
    test_scan = folders.scan_image_folder(tree.test)
    simple_scan = folders.scan_image_folder(tree.test_simple)
    names = train_scan.class_names
    with tempfile.TemporaryDirectory(prefix="blood_seeds-") as cache:
        common = dict(image_size=IMAGE_SIZE, batch_size=BATCH_SIZE, seed=seed)
        train_ds = folders.image_dataset(train_scan, validation_split=VALIDATION_SPLIT, subset="training",
                                         cache=str(Path(cache) / "train"), **common)
        val_ds = folders.image_dataset(train_scan, validation_split=VALIDATION_SPLIT, subset="validation",
                                       shuffle=False, cache=False, **common)
        test_ds = folders.image_dataset(test_scan, shuffle=False, cache=False, **common)
        simple_ds = folders.image_dataset(simple_scan, shuffle=False, cache=False, **common)

        for _ in range(passes_before_fit):      # each pass moves the seeded shuffle on by one order
            for _ in train_ds:
                pass
        training.set_seed(seed)
        model = models.folder_classifier(IMAGE_SIZE, num_classes=len(names), crop=models.StainCrop(**CROP), **MODEL)
        steps = epochs * len(train_ds)
        model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(PEAK_LR, steps)),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        fit = training.fit(model, train_ds, epochs=epochs, log_every=0)
        out = {"seed": seed, "passes_before_fit": passes_before_fit, "fit_seconds": fit.seconds,
               "train_accuracy": fit.final("accuracy")}
        for key, ds in (("test_accuracy", test_ds), ("test_simple_accuracy", simple_ds), ("val_accuracy", val_ds)):
            out[key] = float(evaluation.evaluate(model, ds, class_names=names).accuracy)
        for key, ds in (("test_accuracy", test_ds), ("test_simple_accuracy", simple_ds)):
            tta = tta_accuracies(model, ds)
            out[f"{key}_tta"], out[f"{key}_tta8"] = tta["flip4"], tta["dihedral8"]
        if keep_models:
            Path(keep_models).mkdir(parents=True, exist_ok=True)
            model.save(Path(keep_models) / f"blood_seed{seed}.keras")
    return out


def summary(runs: list) -> dict:
    """Median, minimum, maximum and spread (max - min) of each accuracy over the runs."""
    out = {}
    for key in ("test_accuracy", "test_simple_accuracy", "val_accuracy", "test_accuracy_tta",
                "test_simple_accuracy_tta", "test_accuracy_tta8", "test_simple_accuracy_tta8"):
        values = [r[key] for r in runs if key in r]
        if not values:
            continue
        out[key] = {"median": statistics.median(values), "min": min(values), "max": max(values),
                    "spread": max(values) - min(values)}
    return out


def markdown(study: dict) -> str:
    """The study as a Markdown report."""
    runs = study["runs"]
    lines = [f"# Notebook 07's recipe over {len(runs)} seed(s)", "",
             f"{study['epochs']} epochs at {study['image_size'][0]}x{study['image_size'][1]}, TRAIN "
             f"{study['train_per_class']} per class (80% trained, a random 20% held out)"
             + (f", {study['passes_before_fit']} pass(es) over the training set before each fit"
                if study.get("passes_before_fit") else "") + f", on {study['cpu']}; "
             f"TensorFlow {study['tensorflow']}, Keras {study['keras']}; {study['date']}.", "",
             "| seed | TEST | TEST, flip TTA | TEST, 8-view TTA | TEST_SIMPLE | TEST_SIMPLE, flip TTA | "
             "TEST_SIMPLE, 8-view TTA | random 20% of TRAIN | fit (s) |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def pct(r, key):
        return f"{r[key]:.1%}" if key in r else "-"
    for r in runs:
        lines.append(f"| {r['seed']} | {pct(r, 'test_accuracy')} | {pct(r, 'test_accuracy_tta')} | "
                     f"{pct(r, 'test_accuracy_tta8')} | {pct(r, 'test_simple_accuracy')} | "
                     f"{pct(r, 'test_simple_accuracy_tta')} | {pct(r, 'test_simple_accuracy_tta8')} | "
                     f"{pct(r, 'val_accuracy')} | {r['fit_seconds']:.0f} |")
    lines.append("")
    for key, label in (("test_accuracy", "TEST"), ("test_accuracy_tta", "TEST, flip TTA"),
                       ("test_accuracy_tta8", "TEST, 8-view TTA"), ("test_simple_accuracy", "TEST_SIMPLE"),
                       ("test_simple_accuracy_tta", "TEST_SIMPLE, flip TTA"),
                       ("test_simple_accuracy_tta8", "TEST_SIMPLE, 8-view TTA"),
                       ("val_accuracy", "random 20% of TRAIN")):
        if key not in study["summary"]:
            continue
        s = study["summary"][key]
        lines.append(f"- {label}: median {s['median']:.1%}, range {s['min']:.1%} to {s['max']:.1%} "
                     f"({100 * s['spread']:.1f} points)")
    return "\n".join(lines) + "\n"


def _child(seed: int, epochs: int, keep_models=None, passes_before_fit: int = 0) -> None:
    print(json.dumps(run_seed(seed, epochs, keep_models, passes_before_fit)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds, 0..N-1 (default 5)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=32)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for blood_seeds.json and .md")
    parser.add_argument("--resume", action="store_true",
                        help="keep the seeds already in --out's blood_seeds.json (same epochs and TRAIN) and run "
                             "only the missing ones")
    parser.add_argument("--keep-models", type=Path, default=None,
                        help="also save each seed's trained model there (blood_seed<N>.keras), to study later")
    parser.add_argument("--passes-before-fit", type=int, default=0,
                        help="iterate the training set this many times before each fit, as a timing pass would "
                             "(default 0: the notebook's recipe)")
    parser.add_argument("--child-seed", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    if args.child_seed is not None:
        _child(args.child_seed, args.epochs, args.keep_models, args.passes_before_fit)
        return 0
    if args.seeds < 1 or args.epochs < 1:
        parser.error("--seeds and --epochs must be at least 1")
    if args.passes_before_fit < 0:
        parser.error("--passes-before-fit must be 0 or more")
    if args.passes_before_fit and args.out.resolve() == RESULTS.resolve():
        parser.error("--passes-before-fit changes the recipe: give --out DIR, so that "
                     "bench/results/blood_seeds.json keeps the study notebook 07 reads")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    from cnnlib import report
    study = {"recipe": "notebooks/07_blood_cells.ipynb section 5", "epochs": args.epochs,
             "image_size": list(IMAGE_SIZE), "crop": CROP, "model": {k: list(v) if isinstance(v, tuple) else v
                                                                    for k, v in MODEL.items()},
             "train_per_class": TRAIN_PER_CLASS, "passes_before_fit": args.passes_before_fit,
             "cpu": report.platform_summary(),
             "tensorflow": tf.__version__, "keras": keras.__version__, "date": time.strftime("%Y-%m-%d"),
             "runs": []}
    args.out.mkdir(parents=True, exist_ok=True)
    previous = args.out / "blood_seeds.json"
    if args.resume and previous.is_file():
        old = json.loads(previous.read_text())
        if (old.get("epochs"), old.get("train_per_class"), old.get("passes_before_fit", 0)) == \
                (args.epochs, TRAIN_PER_CLASS, args.passes_before_fit):
            study["runs"] = old["runs"]
    done = {r["seed"] for r in study["runs"]}
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3")
    env.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    env.setdefault("MALLOC_ARENA_MAX", "2")
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        if seed in done:
            continue
        t0 = time.perf_counter()
        child = [sys.executable, str(Path(__file__).resolve()), "--child-seed", str(seed),
                 "--epochs", str(args.epochs), "--passes-before-fit", str(args.passes_before_fit)]
        if args.keep_models:
            child += ["--keep-models", str(args.keep_models.resolve())]
        res = subprocess.run(child, capture_output=True, text=True, env=env, cwd=REPO)
        if res.returncode != 0:
            print(f"seed {seed} failed:\n{res.stderr[-3000:]}", file=sys.stderr)
            return 1
        r = json.loads(res.stdout.strip().splitlines()[-1])
        study["runs"].append(r)
        study["runs"].sort(key=lambda r: r["seed"])
        study["summary"] = summary(study["runs"])
        (args.out / "blood_seeds.json").write_text(json.dumps(study, indent=1) + "\n")
        (args.out / "blood_seeds.md").write_text(markdown(study))
        print(f"seed {seed}: TEST {r['test_accuracy']:.1%}, TEST_SIMPLE {r['test_simple_accuracy']:.1%}, "
              f"validation {r['val_accuracy']:.1%} ({time.perf_counter() - t0:.0f} s)", flush=True)
    if not study["runs"]:
        return 0
    study["summary"] = summary(study["runs"])
    print(markdown(study))
    return 0


if __name__ == "__main__":
    sys.exit(main())
