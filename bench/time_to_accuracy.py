"""Time to accuracy: the classic recipe against the improved one, side by side.

For each dataset, trains the classic recipe and the course's improved recipe in one run,
on the same training / validation / test images, on this machine, and prints each one's
test accuracy and fit time, and the ratios between them (medians over ``--repeats``).
The recipes are the ones of notebooks 03 (MNIST) and 04 (CIFAR-10).

    CNNLIB_DATA_DIR=... flock /tmp/cnnlib-cpu.lock python bench/time_to_accuracy.py
    python bench/time_to_accuracy.py --dataset mnist --classic-epochs 2 --improved-epochs 1 --n-train 10000

Defaults are the full-profile settings (about 30 minutes on 2 CPU cores); the flags make
a shorter run. Serialise it with other heavy jobs through the CPU lock.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import types
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnlib.cpu import enable_onednn  # noqa: E402

enable_onednn()  # TF_ENABLE_ONEDNN_OPTS=1 unless set: TensorFlow reads it at import

import keras  # noqa: E402
import numpy as np  # noqa: E402

from cnnlib import datasets, evaluation, models, report, training  # noqa: E402

# improved MNIST: notebook 03's 4 epochs; improved CIFAR-10: notebook 04 trains for a 12-minute
# budget (training.TimeBudget), not for epochs: None here means that budget, --improved-epochs N
# a fixed one-cycle schedule of N epochs instead
DEFAULTS = {"mnist": {"classic": 10, "improved": 4}, "cifar10": {"classic": 15, "improved": None}}
CIFAR_BUDGET_MINUTES = 12


def _mnist_data(n_train):
    ds = datasets.load_mnist()
    x = (ds.x_train.reshape(-1, 28, 28, 1) / np.float32(255)).astype("float32")
    xt = (ds.x_test.reshape(-1, 28, 28, 1) / np.float32(255)).astype("float32")
    x_tr, y_tr, x_va, y_va = x[:-5000], ds.y_train[:-5000], x[-5000:], ds.y_train[-5000:]
    if n_train:
        x_tr, y_tr = x_tr[:n_train], y_tr[:n_train]
    return x_tr, y_tr.astype("int64"), x_va, y_va.astype("int64"), xt, ds.y_test.astype("int64"), ds.class_names


def _cifar_data(n_train):
    ds = datasets.load_cifar10()
    x = (ds.x_train / np.float32(255)).astype("float32")
    xt = (ds.x_test / np.float32(255)).astype("float32")
    y = ds.y_train[:, 0].astype("int64")
    x_tr, y_tr, x_va, y_va = x[:-10000], y[:-10000], x[-10000:], y[-10000:]
    if n_train:
        x_tr, y_tr = x_tr[:n_train], y_tr[:n_train]
    return x_tr, y_tr, x_va, y_va, xt, ds.y_test[:, 0].astype("int64"), ds.class_names


def _mnist_classic(data, epochs, seed):
    x_tr, y_tr, x_va, y_va, xt, yt, names = data
    training.set_seed(seed)
    m = models.classic_mnist()
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    fit = training.fit(m, x_tr, y_tr, epochs=epochs, batch_size=32, validation_data=(x_va, y_va), log_every=0)
    return fit, evaluation.evaluate(m, xt, yt, class_names=names).accuracy


def _mnist_improved(data, epochs, seed):
    x_tr, y_tr, x_va, y_va, xt, yt, names = data
    training.set_seed(seed)
    m = models.improved_mnist(translate=0.1)
    steps = epochs * int(np.ceil(len(x_tr) / 128))
    m.compile(optimizer=keras.optimizers.Adam(training.one_cycle_schedule(3e-3, steps, warmup_fraction=0.25)),
              loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1), metrics=["accuracy"])
    fit = training.fit(m, x_tr, keras.utils.to_categorical(y_tr, 10), epochs=epochs, batch_size=128,
                       validation_data=(x_va, keras.utils.to_categorical(y_va, 10)), log_every=0)
    return fit, evaluation.evaluate(m, xt, yt, class_names=names).accuracy


def _cifar_classic(data, epochs, seed, feed="course"):
    x_tr, y_tr, x_va, y_va, xt, yt, names = data
    training.set_seed(seed)
    m = models.classic_cifar10()
    m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    if feed == "keras":                       # the recipe's own call: Keras's pipeline for NumPy arrays
        t = time.perf_counter()
        m.fit(np.concatenate([x_tr, x_va]), keras.utils.to_categorical(np.concatenate([y_tr, y_va]), 10),
              epochs=epochs, batch_size=64, validation_split=0.2, verbose=0)
        seconds = time.perf_counter() - t
        fit = types.SimpleNamespace(seconds=seconds, images_per_second=epochs * len(x_tr) / seconds, epochs=epochs)
        return fit, evaluation.evaluate(m, xt, yt, class_names=names).accuracy
    # the recipe's validation_split=0.2 on the 50,000 images is exactly this train/validation split
    fit = training.fit(m, x_tr, keras.utils.to_categorical(y_tr, 10), epochs=epochs, batch_size=64,
                       validation_data=(x_va, keras.utils.to_categorical(y_va, 10)), log_every=0)
    return fit, evaluation.evaluate(m, xt, yt, class_names=names).accuracy


def _cifar_improved(data, epochs, seed):
    """Notebook 04's modern recipe: a frozen patch-whitening stem, crops and flips in tf.data,
    a clock-driven one-cycle schedule, label smoothing, 6-view test-time augmentation."""
    x_tr, y_tr, x_va, y_va, xt, yt, names = data
    training.set_seed(seed)
    m = models.fast_cifar10(augment=False, whitening=models.patch_whitening(x_tr))
    steps = len(x_tr) // 512
    if epochs is None:                                      # notebook 04: a time budget
        budget = training.TimeBudget(60 * CIFAR_BUDGET_MINUTES, peak_lr=0.4)
        lr, callbacks, epochs = 0.4, [budget], budget.max_epochs
    else:
        lr = training.one_cycle_schedule(0.4, epochs * steps, warmup_fraction=0.2)
        callbacks = []
    m.compile(optimizer=keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, weight_decay=5e-3),
              loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.2), metrics=["accuracy"])
    batches = training.crop_flip_batches(x_tr, keras.utils.to_categorical(y_tr, 10), batch_size=512, seed=seed)
    fit = training.fit(m, batches, epochs=epochs, steps_per_epoch=steps,
                       validation_data=(x_va, keras.utils.to_categorical(y_va, 10)), log_every=0,
                       callbacks=callbacks)
    probs = evaluation.flip_shift_probabilities(m, xt)["tta6"]
    return fit, float((probs.argmax(1) == yt).mean())      # with 6-view test-time augmentation, as in notebook 04


def table(rows, recipes) -> str:
    """The Markdown table of ``rows`` (dataset, train images, epochs by recipe, medians by recipe, and
    optionally every run's test accuracy by recipe): medians, and the range when there were repeats."""
    lines = ["| dataset | train images | recipe | epochs | test accuracy (median) | lowest - highest | runs "
             "| fit s | images/s |", "| --- | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: |"]
    for name, n, epochs, med, *every in rows:
        for recipe in recipes:
            acc, sec, ips, _ = med[recipe]
            accs = every[0][recipe] if every else [acc]
            lines.append(f"| {name} | {n:,} | {recipe} | {epochs[recipe]} | {acc:.4f} | "
                         f"{min(accs):.4f} - {max(accs):.4f} | {len(accs)} | {sec:.1f} | {ips:,.0f} |")
    return "\n".join(lines)


RECIPES = {"mnist": (_mnist_data, _mnist_classic, _mnist_improved),
           "cifar10": (_cifar_data, _cifar_classic, _cifar_improved)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=["mnist", "cifar10", "both"], default="both")
    p.add_argument("--classic-epochs", type=int, default=None,
                   help="epochs of the classic recipe (default: the recipe's, 10 MNIST / 15 CIFAR-10)")
    p.add_argument("--improved-epochs", type=int, default=None,
                   help="epochs of the improved recipe (default: 4 MNIST; CIFAR-10 trains for "
                        "notebook 04's 12-minute budget unless this is given)")
    p.add_argument("--n-train", type=int, default=None, help="train on only the first N training images")
    p.add_argument("--repeats", type=int, default=1, help="runs per recipe (medians are reported)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first run; run r uses seed + r")
    p.add_argument("--only", choices=["classic", "improved"], default=None,
                   help="train only this recipe (e.g. a seed study of the classic one: --only classic --repeats 5)")
    p.add_argument("--classic-feed", choices=["course", "keras"], default="course",
                   help="CIFAR-10's classic recipe: fed by cnnlib.training.fit (tf.data, autotuner off; default) "
                        "or by model.fit on the NumPy arrays directly with validation_split=0.2 (Keras's own "
                        "pipeline, as the recipe is published)")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    if args.classic_feed == "keras" and args.n_train:
        p.error("--classic-feed keras uses the recipe's validation_split on all 50,000 images: drop --n-train")
    recipes = [args.only] if args.only else ["classic", "improved"]

    names = ["mnist", "cifar10"] if args.dataset == "both" else [args.dataset]
    rows = []
    for name in names:
        load, classic, improved = RECIPES[name]
        data = load(args.n_train)
        epochs = {"classic": args.classic_epochs or DEFAULTS[name]["classic"],
                  "improved": args.improved_epochs or DEFAULTS[name]["improved"]}
        results = {recipe: [] for recipe in recipes}
        for r in range(args.repeats):
            for recipe, fn in (("classic", classic), ("improved", improved)):   # interleaved: same conditions
                if recipe not in recipes:
                    continue
                t = time.perf_counter()
                extra = {"feed": args.classic_feed} if fn is _cifar_classic else {}
                fit, acc = fn(data, epochs[recipe], args.seed + r, **extra)
                results[recipe].append((acc, fit.seconds, fit.images_per_second, fit.epochs))
                print(f"  {name:8s} {recipe:8s} run {r + 1}: test accuracy {acc:.4f}, fit {fit.seconds:.1f} s "
                      f"({time.perf_counter() - t:.0f} s with evaluation)", flush=True)
        med = {k: [statistics.median(v[i] for v in results[k]) for i in range(4)] for k in results}
        ran = {k: statistics.median(v[3] for v in results[k]) for k in results}
        rows.append((name, len(data[0]), ran, med, {k: [v[0] for v in results[k]] for k in results}))

    print(f"\nTime to accuracy: medians of {args.repeats} run(s) (seeds {args.seed} to "
          f"{args.seed + args.repeats - 1}), {report.platform_summary()}, Keras {keras.__version__}"
          + (", CIFAR-10's classic recipe fed by model.fit on NumPy arrays" if args.classic_feed == "keras" else ""))
    print(table(rows, recipes))
    if len(recipes) < 2:
        return 0
    print("\n| dataset | fit time improved / classic | accuracy improved - classic |")
    print("| --- | ---: | ---: |")
    for name, n, epochs, med, _ in rows:
        print(f"| {name} | {med['improved'][1] / med['classic'][1]:.2f} | "
              f"{med['improved'][0] - med['classic'][0]:+.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
