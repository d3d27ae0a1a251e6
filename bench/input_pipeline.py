"""Benchmark: streaming tf.data pipeline vs the tutorial's list-of-arrays loader.

On the blood-cell TRAIN folder, each measurement runs in a fresh Python process (so
peak memory is that process's own ``VmHWM``, nothing left over from another):

- ``stream``: ``cnnlib.folders.image_dataset`` (read, decode, resize, batch; no cache),
  one pass over the files;
- ``tutorial``: the tutorial's loader (read each image, resize, append it to a Python
  list, ``np.array`` the list, convert to float32 and divide by 255, ``train_test_split``):
  what NOT to do;
- ``train``: training throughput of ``cnnlib.models.folder_classifier`` on batches
  already in memory, for context (the pipeline must outrun it).

Usage (serialise through the course's CPU lock)::

    flock /tmp/cnnlib-cpu.lock .venv/bin/python bench/input_pipeline.py [--image-size 240 320]
        [--repeats 3] [--per-class N]

Prints a table of medians and the ratios, measured side by side in one run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cnnlib.memory import MODES, measure  # noqa: E402 - the measurements live in cnnlib (notebook 07 uses them)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", nargs=2, type=int, default=[240, 320], metavar=("H", "W"))
    parser.add_argument("--per-class", type=int, default=None,
                        help="images per class (default: the whole TRAIN folder)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="training steps timed")
    args = parser.parse_args(argv)
    size = tuple(args.image_size)
    from cnnlib.cpu import enable_onednn
    enable_onednn()  # TF_ENABLE_ONEDNN_OPTS=1 unless set, before TensorFlow is imported; children inherit it

    from cnnlib import datasets
    root = datasets.blood_cells_dir().train
    runs = {m: [] for m in MODES}
    for r in range(args.repeats):           # interleaved, so drifts in machine load hit all
        for mode in runs:
            runs[mode].append(measure(mode, root, size, args.per_class, args.batch_size, args.steps))
            print(f"  repeat {r + 1}/{args.repeats} {mode:8s} "
                  f"{runs[mode][-1]['images_per_second']:8.1f} images/s", file=sys.stderr, flush=True)

    def med(mode, key):
        return statistics.median(rec[key] for rec in runs[mode])

    n = runs["stream"][0]["images"]
    print(f"\nInput pipeline benchmark: blood-cell TRAIN ({n} images, 320x240 JPEG) -> "
          f"{size[0]}x{size[1]}, {os.cpu_count()} CPUs, median of {args.repeats} fresh processes each\n")
    print("| path | images/s | peak RSS (MiB) | RSS after imports (MiB) | peak - imports (MiB) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    labels = {"stream": "streaming tf.data (decode + resize, no cache)",
              "tutorial": "tutorial: list -> float32 array -> train_test_split",
              "train": f"training step, batch {args.batch_size} (context)"}
    for mode in runs:
        peak, base = med(mode, "peak_mib"), med(mode, "baseline_mib")
        print(f"| {labels[mode]} | {med(mode, 'images_per_second'):.1f} | {peak:.0f} | {base:.0f} | "
              f"{peak - base:.0f} |")
    stream, tut, train = (med(m, "images_per_second") for m in ("stream", "tutorial", "train"))
    grow_s = med("stream", "peak_mib") - med("stream", "baseline_mib")
    grow_t = med("tutorial", "peak_mib") - med("tutorial", "baseline_mib")
    print(f"\nstreaming / tutorial speed: {stream / tut:.2f}x")
    print(f"streaming / training throughput: {stream / train:.2f}x (target >= 3x; with the cache, "
          f"epochs after the first skip decoding altogether)")
    print(f"memory growth while loading, tutorial / streaming: {grow_t / max(grow_s, 1):.1f}x "
          f"(tutorial: {grow_t / n * 1024:.0f} KiB per image, grows with the dataset)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
