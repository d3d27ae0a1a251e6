"""Benchmark: training throughput with TensorFlow's oneDNN kernels off and on.

TensorFlow reads ``TF_ENABLE_ONEDNN_OPTS`` once, when it is imported, so every
measurement runs in a fresh Python process with the variable set to 0 or 1 (whatever
your environment says: this script sets it per process). Off and on are interleaved
(off, on, then on, off in the next repeat ...) so that drifts in the machine's load hit
both alike. Each process trains one model on random images held in memory, as
``cnnlib.training.images_per_second`` does (a fresh model, ``model.fit`` on NumPy arrays
as the recipes do, untimed warm-up steps first), and times the wall clock and the
process's CPU time (all its threads). The table gives the medians of the repeats, in
images/s and CPU milliseconds per image, and the ratios. On a machine shared with other
work the images/s follow the load; the CPU time per image much less. The models:

- the classic MNIST CNN (recipe R0: Adam, batch 32),
- the classic CIFAR-10 CNN (recipe R3: Adam, one-hot labels, batch 64),
- ``fast_cifar10`` (notebook 04: SGD with Nesterov momentum, label smoothing, batch 512;
  a constant learning rate here, which costs the same as the one-cycle schedule).

NumPy's float32 matrix product (GFLOP/s, median of repeats) is timed in the same run, to
say how fast the machine was.

    flock /tmp/cnnlib-cpu.lock .venv/bin/python bench/onednn.py [--repeats 3] [--quick]

The equality of the two settings' results is tests/test_onednn.py's job, not this one's.
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

#: name -> (label, batch size, timed steps, input (H, W, C))
MODELS = {
    "classic_mnist": ("classic MNIST CNN (R0)", 32, 150, (28, 28, 1)),
    "classic_cifar10": ("classic CIFAR-10 CNN (R3)", 64, 40, (32, 32, 3)),
    "fast_cifar10": ("fast_cifar10 (notebook 04)", 512, 4, (32, 32, 3)),
}
WARMUP = 2


def _build(name):
    import keras
    from cnnlib import models
    model = getattr(models, name)()
    if name == "classic_mnist":
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    elif name == "classic_cifar10":
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    else:
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=5e-3),
                      loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.2), metrics=["accuracy"])
    return model


def _child(name, steps, warmup) -> None:
    """One measurement in this (fresh) process; prints one JSON line. The timed ``fit`` is
    ``training.images_per_second``'s (a fresh model, ``warmup`` untimed steps first), with
    the process's CPU time measured too: on a machine shared with other work the wall-clock
    throughput follows the load, the CPU time per image much less."""
    import numpy as np
    from tensorflow.python.util import _pywrap_util_port

    from cnnlib import import_tensorflow_quietly, training
    import_tensorflow_quietly()
    _, batch, _, shape = MODELS[name]
    rng = np.random.default_rng(0)
    n = 4 * batch
    x = rng.uniform(0, 1, (n, *shape)).astype("float32")
    labels = rng.integers(0, 10, n)
    y = labels if name == "classic_mnist" else np.eye(10, dtype="float32")[labels]
    training.set_seed(0)
    model = _build(name)
    idx = np.arange((warmup + steps) * batch) % n
    xs, ys, w = x[idx], y[idx], warmup * batch
    model.fit(xs[:w], ys[:w], batch_size=batch, epochs=1, verbose=0, shuffle=False)
    wall, cpu_s = time.perf_counter(), time.process_time()
    model.fit(xs[w:], ys[w:], batch_size=batch, epochs=1, verbose=0, shuffle=False)
    wall, cpu_s = time.perf_counter() - wall, time.process_time() - cpu_s
    print(json.dumps({"model": name, "images_per_second": steps * batch / wall,
                      "cpu_ms_per_image": 1000 * cpu_s / (steps * batch),
                      "onednn": bool(_pywrap_util_port.IsMklEnabled())}))


def measure(name, onednn: bool, steps: int, warmup: int = WARMUP) -> dict:
    """Train ``name`` in a fresh process with ``TF_ENABLE_ONEDNN_OPTS`` 1 or 0; returns
    ``{"model", "images_per_second", "cpu_ms_per_image", "onednn"}`` (``onednn``: what
    TensorFlow reported)."""
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1" if onednn else "0", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--steps", str(steps),
           "--warmup", str(warmup)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    if res.returncode != 0:
        raise RuntimeError(f"{name} (oneDNN {'on' if onednn else 'off'}) failed:\n{res.stderr[-2000:]}")
    rec = json.loads(res.stdout.strip().splitlines()[-1])
    if rec["onednn"] != onednn:
        raise RuntimeError(f"asked TensorFlow for oneDNN {'on' if onednn else 'off'}, it reports "
                           f"{'on' if rec['onednn'] else 'off'}")
    return rec


def matmul_gflops(n: int = 1024, repeats: int = 10) -> float:
    """NumPy float32 ``(n, n) @ (n, n)`` speed in GFLOP/s (2 n^3 operations), median of
    ``repeats`` after one warm-up."""
    import numpy as np
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    a @ b
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per model and setting")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--steps-scale", type=float, default=1.0,
                        help="multiply every model's timed steps (default steps: "
                             + ", ".join(f"{m} {s}" for m, (_, _, s, _) in MODELS.items()) + ")")
    parser.add_argument("--quick", action="store_true",
                        help="one repeat, a few steps: a smoke run, not a measurement")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=int, default=WARMUP, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.steps, args.warmup)
        return 0

    sys.path.insert(0, str(REPO))
    import numpy as np

    from cnnlib import cpu, report
    repeats, warmup = (1, 1) if args.quick else (args.repeats, WARMUP)
    steps = {m: 2 if args.quick else max(1, round(MODELS[m][2] * args.steps_scale)) for m in args.models}
    runs = {(m, on): [] for m in args.models for on in (False, True)}
    gflops = []
    for r in range(repeats):            # interleaved, the order of off / on alternating
        gflops.append(matmul_gflops(repeats=3 if args.quick else 10))
        for m in args.models:
            for on in ((False, True) if r % 2 == 0 else (True, False)):
                rec = measure(m, on, steps[m], warmup)
                runs[(m, on)].append(rec)
                print(f"  repeat {r + 1}/{repeats} {m:16s} oneDNN {'on ' if on else 'off'} "
                      f"{rec['images_per_second']:8.1f} images/s, {rec['cpu_ms_per_image']:.3f} CPU ms/image",
                      file=sys.stderr, flush=True)

    def med(m, on, key):
        return statistics.median(rec[key] for rec in runs[(m, on)])

    print(f"\noneDNN off vs on: training throughput, {report.platform_summary()}")
    print(f"With TF_ENABLE_ONEDNN_OPTS unset, oneDNN is {cpu.onednn_state({})}")
    print(f"Median of {repeats} fresh process(es) per cell, interleaved; random images in memory, "
          f"model.fit on NumPy arrays after {warmup} warm-up step(s). CPU ms/image: the process's "
          f"CPU time (all threads) per image trained. NumPy {np.__version__} float32 1024x1024 "
          f"matmul: {statistics.median(gflops):.1f} GFLOP/s (median; {min(gflops):.1f} to "
          f"{max(gflops):.1f} over the repeats)\n")
    print("| model | batch | timed steps | images/s off | images/s on | on / off | CPU ms/image off "
          "| CPU ms/image on | off / on |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for m in args.models:
        off, on = med(m, False, "images_per_second"), med(m, True, "images_per_second")
        c_off, c_on = med(m, False, "cpu_ms_per_image"), med(m, True, "cpu_ms_per_image")
        print(f"| {MODELS[m][0]} | {MODELS[m][1]} | {steps[m]} | {off:,.0f} | {on:,.0f} | {on / off:.2f}x "
              f"| {c_off:.3f} | {c_on:.3f} | {c_off / c_on:.2f}x |")
    if repeats > 1:
        print("\nEvery repeat, images/s off / on: " + "; ".join(
            f"{m}: " + ", ".join(f"{a['images_per_second']:,.0f} / {b['images_per_second']:,.0f}"
                                 for a, b in zip(runs[(m, False)], runs[(m, True)]))
            for m in args.models))
    return 0


if __name__ == "__main__":
    sys.exit(main())
