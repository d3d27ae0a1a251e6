"""CIFAR-10 recipe trials: what buys accuracy in a fixed CPU time budget (issue 21, part 4).

Each trial trains one variant of notebook 04's modern recipe for a wall-clock budget
(``training.TimeBudget``) in a fresh process, then measures test accuracy plain, with flip
test-time augmentation (2 views) and with flip x translation TTA (6 views). Results are
appended to ``bench/results/cifar10_trials.json``; ``--table`` prints the Markdown table of
everything recorded (``bench/results/cifar10.md`` is written from it).

    CNNLIB_DATA_DIR=... flock /tmp/fullrun.lock .venv/bin/python bench/cifar_trials.py \\
        --trials baseline data-aug whiten --minutes 4
    .venv/bin/python bench/cifar_trials.py --table

Variants (each adds to or changes the ``baseline``, notebook 04's recipe before this study):

- ``baseline``: augmentation as Keras layers in the model (RandomFlip, RandomTranslation);
- ``data-aug``: the same flips and 2-pixel translations as random crops of reflect-padded
  images in tf.data (``training.crop_flip_batches``), off the model;
- ``whiten``: and a frozen 2x2 patch-whitening first layer instead of the 3x3 stem (airbench);
- ``whiten-b1024``: and batches of 1,024 (peak learning rate x 1.4);
- ``whiten-wide``: and widths (48, 128, 256) instead of (32, 96, 192);
- ``whiten-narrow``: and widths (32, 64, 128);
- ``whiten-ema``: and an exponential moving average of the weights (Keras ``use_ema``);
- ``whiten-kerasbn``: and ``keras.layers.BatchNormalization`` instead of ``models.FusedBatchNorm``
  (with oneDNN on, the profile found Keras's unfused ops faster);
- ``course``: the winning recipe, as notebook 04 now trains it.

``--all-train`` trains on all 50,000 training images (no validation), as a final model does
once the recipe has been chosen on the validation split.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results" / "cifar10_trials.json"

VARIANTS = {
    "baseline": dict(model_aug=True, whiten=False),
    "data-aug": dict(model_aug=False, whiten=False),
    "whiten": dict(model_aug=False, whiten=True),
    "whiten-b1024": dict(model_aug=False, whiten=True, batch=1024, peak_lr=0.4 * 2 ** 0.5),
    "whiten-wide": dict(model_aug=False, whiten=True, widths=(48, 128, 256)),
    "whiten-narrow": dict(model_aug=False, whiten=True, widths=(32, 64, 128)),
    "whiten-ema": dict(model_aug=False, whiten=True, ema=True),
    "whiten-kerasbn": dict(model_aug=False, whiten=True, keras_bn=True),
    "course": dict(model_aug=False, whiten=True),      # the winner, "whiten", as notebook 04 trains it
}


def _worker(name: str, minutes: float, seed: int, all_train: bool) -> dict:
    from cnnlib.cpu import enable_onednn
    enable_onednn()
    import keras
    import numpy as np
    from keras import layers

    from cnnlib import cpu, datasets, evaluation, models, report, training

    v = {"widths": (32, 96, 192), "batch": 512, "peak_lr": 0.4, "ema": False, **VARIANTS[name]}
    ds = datasets.load_cifar10()
    x = (ds.x_train / np.float32(255)).astype("float32")
    y = ds.y_train[:, 0].astype("int64")
    xt = (ds.x_test / np.float32(255)).astype("float32")
    yt = ds.y_test[:, 0].astype("int64")
    if all_train:
        x_tr, y_tr, val = x, y, None
    else:
        x_tr, y_tr = x[:-10000], y[:-10000]
        val = (x[-10000:], keras.utils.to_categorical(y[-10000:], 10))

    if v.get("keras_bn"):
        models.FusedBatchNorm = layers.BatchNormalization       # this process only
    training.set_seed(seed)
    batch, peak = v["batch"], v["peak_lr"]
    model = models.fast_cifar10(widths=v["widths"], augment=v["model_aug"],
                                whitening=models.patch_whitening(x_tr) if v["whiten"] else None)
    data = None if v["model_aug"] else training.crop_flip_batches(
        x_tr, keras.utils.to_categorical(y_tr, 10), batch_size=batch, seed=seed)
    budget = training.TimeBudget(60 * minutes, peak_lr=peak)
    opt = keras.optimizers.SGD(peak, momentum=0.9, nesterov=True, weight_decay=5e-3,
                               use_ema=v.get("ema", False), ema_momentum=0.99)
    model.compile(optimizer=opt, loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.2),
                  metrics=["accuracy"])
    steps = int(np.ceil(len(x_tr) / batch))
    if data is None:
        fit = training.fit(model, x_tr, keras.utils.to_categorical(y_tr, 10), epochs=budget.max_epochs,
                           batch_size=batch, validation_data=val, callbacks=[budget], log_every=0)
    else:
        fit = training.fit(model, data, epochs=budget.max_epochs, steps_per_epoch=steps,
                           validation_data=val, callbacks=[budget], log_every=0)
    t = time.perf_counter()
    acc = {k: float((p.argmax(1) == yt).mean()) for k, p in evaluation.flip_shift_probabilities(model, xt).items()}
    return {"trial": name, "minutes": minutes, "seed": seed, "train_images": len(x_tr),
            "params": model.count_params(), "batch": batch, "fit_seconds": round(fit.seconds, 1),
            "images_per_second": round(budget.steps * batch / fit.seconds, 1), "steps": budget.steps,
            "epochs_seen": round(budget.steps / steps, 2), "budget_used": round(budget.used, 3),
            "test_accuracy": acc["plain"], "test_accuracy_flip": acc["flip"],
            "test_accuracy_tta6": acc["tta6"], "predict_seconds": round(time.perf_counter() - t, 1),
            "machine": f"{report.platform_summary()}, {cpu.vector_summary()}",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def table(rows: list[dict]) -> str:
    lines = ["| trial | train images | budget | seed | epochs | images/s | fit s | test | flip TTA | 6-view TTA | machine |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        lines.append(f"| {r['trial']} | {r['train_images']:,} | {r['minutes']:g} min | {r['seed']} | "
                     f"{r['epochs_seen']:.1f} | {r['images_per_second']:,.0f} | {r['fit_seconds']:.0f} | "
                     f"{r['test_accuracy']:.2%} | {r['test_accuracy_flip']:.2%} | {r['test_accuracy_tta6']:.2%} | "
                     f"{r['machine']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", nargs="*", default=[], choices=list(VARIANTS))
    p.add_argument("--minutes", type=float, default=12.0, help="training budget per trial (default 12)")
    p.add_argument("--seeds", type=int, nargs="*", default=[0])
    p.add_argument("--all-train", action="store_true", help="train on all 50,000 images, no validation")
    p.add_argument("--table", action="store_true", help="print the table of all recorded trials")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker, args.minutes, args.seeds[0], args.all_train)))
        return 0
    rows = json.loads(args.results.read_text()) if args.results.exists() else []
    for seed in args.seeds:
        for name in args.trials:
            cmd = [sys.executable, __file__, "--worker", name, "--minutes", str(args.minutes),
                   "--seeds", str(seed)] + (["--all-train"] if args.all_train else [])
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{name} (seed {seed}) failed:\n{out.stderr[-3000:]}", file=sys.stderr)
                continue
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            args.results.parent.mkdir(parents=True, exist_ok=True)
            args.results.write_text(json.dumps(rows, indent=1) + "\n")
            print(table([row]).splitlines()[-1], flush=True)
    if args.table or not args.trials:
        print(table(rows))
        for trial in dict.fromkeys(r["trial"] for r in rows):
            for minutes in sorted({r["minutes"] for r in rows if r["trial"] == trial}):
                accs = [r["test_accuracy_tta6"] for r in rows if r["trial"] == trial and r["minutes"] == minutes]
                if len(accs) > 1:
                    print(f"{trial}, {minutes:g} min: median 6-view TTA accuracy of {len(accs)} seeds "
                          f"{statistics.median(accs):.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
