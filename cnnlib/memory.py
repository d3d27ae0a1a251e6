"""Memory and speed of a data loader, each measured in a fresh Python process.

Notebook 07 and ``bench/input_pipeline.py`` compare the blood-cell tutorial's loader (recipe R4:
a Python list of images, one ``np.array``, float32, ``train_test_split``) with the course's
streaming tf.data pipeline. Peak memory has to be measured in a process that did nothing else,
so :func:`measure` runs each measurement as ``python -m cnnlib.memory`` and reads back one JSON
line. The modes:

- ``"tutorial"``: :func:`tutorial_load`, R4's loader, kept as a warning;
- ``"stream"``: :func:`cnnlib.folders.image_dataset`, one pass (decode and resize, no cache);
- ``"train"``: training steps of notebook 07's model on one batch already in memory, for
  context (the pipeline must outrun it).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

MODES = ("stream", "tutorial", "train")

# notebook 07's 4-class model, so the training throughput is the one the pipeline must outrun;
# its StainCrop cuts a 128-pixel window of a 320-pixel-wide image down to 96x96
NOTEBOOK_MODEL = dict(widths=(32, 64, 128, 256), patch=2, rotate=True, shift=0.05, dropout=0.5)
NOTEBOOK_CROP = dict(box_fraction=128 / 320, size=96)


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


def tutorial_files(root, per_class=None) -> list:
    """The first ``per_class`` image files of each class folder under ``root`` (all of them
    when ``per_class`` is None), listed the tutorial's way: no scan, no checks."""
    files = []
    for cls in sorted(d for d in Path(root).iterdir() if d.is_dir()):
        mine = sorted(str(f) for f in cls.iterdir() if f.is_file())
        files += mine if per_class is None else mine[:per_class]
    return files


def peak_rss_mib() -> float:
    """Peak resident memory of this process image, in MiB: ``VmHWM`` from /proc (unlike
    ``ru_maxrss`` it restarts at exec, so a child does not inherit its parent's peak)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024   # bytes on macOS, KiB elsewhere


def rss_mib() -> float:
    """Resident memory of this process now, in MiB."""
    import psutil
    return psutil.Process().memory_info().rss / 2**20


def _run_mode(mode, root, image_size, per_class, batch_size, steps) -> dict:
    """One measurement in this (fresh) process: its record, without the memory fields."""
    if mode == "tutorial":
        files = tutorial_files(root, per_class)
        import keras  # noqa: F401 - the tutorial imports Keras first, so its baseline holds it
        import numpy as np  # noqa: F401
        import sklearn.model_selection  # noqa: F401
        from PIL import Image  # noqa: F401
        base = rss_mib()
        t0 = time.perf_counter()
        x_train, x_test, _, _ = tutorial_load(files, image_size)
        return {"images": len(x_train) + len(x_test), "seconds": time.perf_counter() - t0, "baseline_mib": base}
    if mode == "stream":
        import tensorflow as tf  # noqa: F401
        from cnnlib import folders
        base = rss_mib()
        ds = folders.image_dataset(root, image_size=image_size, batch_size=batch_size,
                                   shuffle=False, cache=False, max_per_class=per_class)
        t0 = time.perf_counter()
        n = sum(int(x.shape[0]) for x, _ in ds)
        return {"images": n, "seconds": time.perf_counter() - t0, "baseline_mib": base}
    # "train"
    import numpy as np
    import tensorflow as tf
    from cnnlib import models, training
    base = rss_mib()
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
    return {"images": steps * batch_size, "seconds": time.perf_counter() - t0, "baseline_mib": base}


def measure(mode, root, image_size=(240, 320), per_class=None, batch_size=32, steps=20) -> dict:
    """Run one measurement in a fresh Python process and return its record.

    ``mode`` is one of :data:`MODES`; ``root`` a folder with one sub-folder per class;
    ``image_size`` ``(height, width)``. The record holds ``images``, ``seconds``,
    ``images_per_second``, ``peak_mib`` (peak resident memory of that process) and
    ``baseline_mib`` (its resident memory after the imports, before loading)."""
    if mode not in MODES:
        raise ValueError(f"unknown measurement mode {mode!r}: use one of {', '.join(MODES)}")
    if not Path(root).is_dir():
        raise FileNotFoundError(f"no folder {root}: pass a folder with one sub-folder per class")
    cmd = [sys.executable, "-m", "cnnlib.memory", mode, str(root),
           "--image-size", str(image_size[0]), str(image_size[1]), "--batch-size", str(batch_size),
           "--steps", str(steps)]
    if per_class is not None:
        cmd += ["--per-class", str(per_class)]
    package_parent = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=path)
    env.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"the {mode} measurement failed in its child process:\n{res.stderr[-2000:]}")
    rec = json.loads(res.stdout.strip().splitlines()[-1])
    rec["images_per_second"] = rec["images"] / rec["seconds"]
    return rec


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnlib.memory",
                                     description="One loader measurement in this process (used by measure()).")
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("root")
    parser.add_argument("--image-size", nargs=2, type=int, default=[240, 320], metavar=("H", "W"))
    parser.add_argument("--per-class", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    rec = _run_mode(args.mode, args.root, tuple(args.image_size), args.per_class, args.batch_size, args.steps)
    rec.update(mode=args.mode, peak_mib=peak_rss_mib())
    print(json.dumps(rec))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
