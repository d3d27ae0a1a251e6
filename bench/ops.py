"""Benchmark: cnnlib.ops.conv2d (plain loops, vectorised im2col) against Keras's Conv2D on CPU.

Run (serialised with the other CPU users of a shared machine):

    flock /tmp/cnnlib-cpu.lock .venv/bin/python bench/ops.py

Shapes are the course's own first layers: a batch of 64 CIFAR-10 images (32x32x3) into
32 3x3 filters, the second CIFAR-10 block (64 feature maps of 15x15x32 into 64 filters),
and a batch of 64 MNIST digits (28x28x1) into 28 3x3 filters. Every method is timed side
by side in this one run; the table gives the median of the repeats per batch of 64 and
its ratio to Keras. The plain-loop version is too slow to run on 64 images repeatedly: it
is timed on a few images and scaled to 64 per image (marked "scaled" in the table).
Before timing, each method's output is checked against Keras's.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from cnnlib import cpu

cpu.enable_onednn()  # TF_ENABLE_ONEDNN_OPTS=1 unless set: TensorFlow reads it at import
from cnnlib import ops  # noqa: E402 - first TensorFlow user: quietens its start-up logs
from cnnlib import report  # noqa: E402
import keras  # noqa: E402,I001

BATCH = 64
#: name, input (H, W, C), filters, kernel, stride, padding
SHAPES = [
    ("CIFAR-10 conv1", (32, 32, 3), 32, 3, 1, "valid"),
    ("CIFAR-10 conv2", (15, 15, 32), 64, 3, 1, "valid"),
    ("CIFAR-10 conv1 s2 same", (32, 32, 3), 32, 3, 2, "same"),
    ("MNIST conv1", (28, 28, 1), 28, 3, 1, "valid"),
]


def median_seconds(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_shape(name, hwc, filters, k, stride, padding, repeats, loop_images, rng):
    x = rng.uniform(0, 1, (BATCH, *hwc)).astype("float32")
    w = rng.normal(0, 0.1, (k, k, hwc[2], filters)).astype("float32")
    b = rng.normal(0, 0.1, filters).astype("float32")
    layer = keras.layers.Conv2D(filters, k, strides=stride, padding=padding)
    layer.build((None, *hwc))
    layer.set_weights([w, b])
    x_tensor = keras.ops.convert_to_tensor(x)

    def run_keras():
        return keras.ops.convert_to_numpy(layer(x_tensor))

    def run_vectorized():
        return ops.conv2d(x, w, b, stride=stride, padding=padding, method="vectorized")

    def run_loops():
        return ops.conv2d(x[:loop_images], w, b, stride=stride, padding=padding, method="loops")

    reference = run_keras()
    err_vec = float(np.abs(run_vectorized() - reference).max())
    err_loops = float(np.abs(run_loops() - reference[:loop_images]).max())

    t_keras = median_seconds(run_keras, repeats)
    t_vec = median_seconds(run_vectorized, repeats)
    t_loops = median_seconds(run_loops, max(3, repeats // 5), warmup=0) * BATCH / loop_images
    out_shape = reference.shape[1:]
    rows = []
    for method, t, err, note in (("keras Conv2D", t_keras, None, ""),
                                 ("numpy vectorized", t_vec, err_vec, ""),
                                 ("numpy loops", t_loops, err_loops,
                                  f"scaled from {loop_images} images")):
        rows.append((f"{name}: {hwc} -> {out_shape}", method, t * 1e3, t / t_keras, err, note))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=21, help="timed runs per method (median)")
    parser.add_argument("--loop-images", type=int, default=2,
                        help="images the plain-loop version runs on (scaled to the batch)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)

    print(f"conv2d on CPU, batch {BATCH}, float32, median of {args.repeats} runs "
          f"(loops: {max(3, args.repeats // 5)} runs on {args.loop_images} images, scaled to "
          f"{BATCH})")
    print(f"{report.platform_summary()}, NumPy {np.__version__}, Keras "
          f"{keras.__version__} ({keras.backend.backend()} backend), oneDNN {cpu.onednn_state()}\n")
    header = ("shape (H, W, C) -> output", "method", "median ms / 64", "x Keras", "max |diff|", "")
    rows = []
    for shape in SHAPES:
        rows += bench_shape(*shape, repeats=args.repeats, loop_images=args.loop_images, rng=rng)
    widths = [max(len(header[0]), *(len(r[0]) for r in rows)), 16, 14, 9, 10]
    print(f"| {header[0]:<{widths[0]}} | {header[1]:<{widths[1]}} | {header[2]:>{widths[2]}} | "
          f"{header[3]:>{widths[3]}} | {header[4]:>{widths[4]}} | note |")
    print("|" + "|".join("-" * (wd + 2) for wd in widths) + "|------|")
    for shape, method, ms, ratio, err, note in rows:
        err_text = "reference" if err is None else f"{err:.1e}"
        print(f"| {shape:<{widths[0]}} | {method:<{widths[1]}} | {ms:>{widths[2]}.2f} | "
              f"{ratio:>{widths[3]}.2f} | {err_text:>{widths[4]}} | {note} |")
    worst = max(r[3] for r in rows if r[1] == "numpy vectorized")
    print(f"\nVectorised NumPy vs Keras, worst ratio over these shapes: {worst:.2f}x "
          f"(target: within 5x) -> {'met' if worst <= 5 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
