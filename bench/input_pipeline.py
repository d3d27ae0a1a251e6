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
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


# notebook 06's 4-class model, so the training throughput is the one the pipeline must outrun;
# its StainCrop cuts a 128-pixel window of a 320-pixel-wide image down to 96x96
NOTEBOOK_MODEL = dict(widths=(32, 64, 128, 256), patch=2, rotate=True, shift=0.05, dropout=0.5)
NOTEBOOK_CROP = dict(box_fraction=128 / 320, size=96)


# --------------------------------------------------------------------------- what not to do
def tutorial_load(paths, image_size, seed=4):
    """The tutorial's loader (recipe R4), kept as a warning. Each image is read as uint8
    (the tutorial uses ``cv2.imread``; PIL does the same here without an OpenCV
    dependency), resized and appended to a Python list with its label; the list is
    shuffled, ``np.array`` copies it into one uint8 array, which becomes float32 and is
    divided by 255 (one more float32 copy), and ``train_test_split`` copies it once more
    into a train and a test part. Memory grows with the dataset, about 30 bytes per pixel
    at the peak, and nothing can start before everything is loaded.
    Returns ``(x_train, x_test, y_train, y_test)``, ``x`` float32 ``(n, H, W, 3)`` in 0..1."""
    import random

    import numpy as np
    from PIL import Image
    from sklearn.model_selection import train_test_split
    h, w = image_size
    data = []
    for p in paths:
        with Image.open(p) as img:
            data.append([np.asarray(img.convert("RGB").resize((w, h))), Path(p).parent.name])
    random.Random(seed).shuffle(data)
    X = np.array([a for a, _ in data]).reshape(-1, h, w, 3).astype("float32") / 255
    y = [label for _, label in data]
    return train_test_split(X, y, test_size=0.2, random_state=seed)


def _files(root, per_class):
    """The first ``per_class`` image files of each class folder, listed the tutorial's way
    (no scan, no checks)."""
    files = []
    for cls in sorted(d for d in Path(root).iterdir() if d.is_dir()):
        mine = sorted(str(f) for f in cls.iterdir() if f.is_file())
        files += mine if per_class is None else mine[:per_class]
    return files


def peak_rss_mib() -> float:
    """Peak resident memory of this process image, in MiB: ``VmHWM`` from /proc (unlike
    ``ru_maxrss`` it restarts at exec, so a child does not inherit its parent's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: KiB or bytes


def _rss_mib() -> float:
    import psutil
    return psutil.Process().memory_info().rss / 2**20


def _child(mode, root, image_size, per_class, batch_size, steps):
    """Run one measurement in this (fresh) process; print one JSON line."""
    if mode == "tutorial":
        files = _files(root, per_class)
        import keras  # noqa: F401 - the tutorial imports Keras first, so its baseline holds it
        import numpy as np  # noqa: F401
        import sklearn.model_selection  # noqa: F401
        from PIL import Image  # noqa: F401
        base = _rss_mib()
        t0 = time.perf_counter()
        x_train, x_test, _, _ = tutorial_load(files, image_size)
        seconds = time.perf_counter() - t0
        out = {"images": len(x_train) + len(x_test), "seconds": seconds}
    elif mode == "stream":
        import tensorflow as tf  # noqa: F401
        from cnnlib import folders
        base = _rss_mib()
        ds = folders.image_dataset(root, image_size=image_size, batch_size=batch_size,
                                   shuffle=False, cache=False, max_per_class=per_class)
        t0 = time.perf_counter()
        n = sum(int(x.shape[0]) for x, _ in ds)
        seconds = time.perf_counter() - t0
        out = {"images": n, "seconds": seconds}
    elif mode == "train":
        import keras
        import numpy as np
        import tensorflow as tf
        from cnnlib import models, training
        base = _rss_mib()
        training.set_seed(0)
        crop = models.StainCrop(box=max(1, round(NOTEBOOK_CROP["box_fraction"] * image_size[1])),
                                size=NOTEBOOK_CROP["size"])
        model = models.folder_classifier(image_size, 4, crop=crop, **NOTEBOOK_MODEL)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        rng = np.random.default_rng(0)
        x = tf.constant(rng.uniform(0, 255, (batch_size, *image_size, 3)).astype("float32"))
        y = tf.constant(rng.integers(0, 4, batch_size).astype("int32"))
        ds = tf.data.Dataset.from_tensors((x, y)).repeat(steps + 2)
        model.fit(ds.take(2), epochs=1, verbose=0)          # build and trace the step first
        t0 = time.perf_counter()
        model.fit(ds.take(steps), epochs=1, verbose=0)
        seconds = time.perf_counter() - t0
        out = {"images": steps * batch_size, "seconds": seconds}
        del keras
    else:
        raise ValueError(f"unknown mode {mode!r}")
    out.update(mode=mode, peak_mib=peak_rss_mib(), baseline_mib=base)
    print(json.dumps(out))


def measure(mode, root, image_size=(240, 320), per_class=None, batch_size=32, steps=20) -> dict:
    """Run one measurement in a fresh Python process and return its record: ``images``,
    ``seconds``, ``images_per_second``, ``peak_mib`` (peak resident memory of that
    process), ``baseline_mib`` (resident memory after its imports, before loading)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--root", str(root),
           "--image-size", str(image_size[0]), str(image_size[1]), "--batch-size", str(batch_size),
           "--steps", str(steps)]
    if per_class is not None:
        cmd += ["--per-class", str(per_class)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    if res.returncode != 0:
        raise RuntimeError(f"{mode} measurement failed:\n{res.stderr[-2000:]}")
    rec = json.loads(res.stdout.strip().splitlines()[-1])
    rec["images_per_second"] = rec["images"] / rec["seconds"]
    return rec


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", nargs=2, type=int, default=[240, 320], metavar=("H", "W"))
    parser.add_argument("--per-class", type=int, default=None,
                        help="images per class (default: the whole TRAIN folder)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="training steps timed")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--root", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    size = tuple(args.image_size)
    sys.path.insert(0, str(REPO))
    from cnnlib.cpu import enable_onednn
    enable_onednn()  # TF_ENABLE_ONEDNN_OPTS=1 unless set, before TensorFlow is imported; children inherit it
    if args.child:
        _child(args.child, args.root, size, args.per_class, args.batch_size, args.steps)
        return 0

    from cnnlib import datasets
    root = datasets.blood_cells_dir().train
    runs = {m: [] for m in ("stream", "tutorial", "train")}
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
