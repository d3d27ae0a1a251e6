"""Scan a folder-per-class image tree before training on it.

``scan_image_folder(root)`` walks ``root/CLASS/...``, opens every file, and sorts
them into usable images and skipped files, each skipped file with its reason.
Nothing is skipped silently: the result counts and lists them, and its
``summary()`` says so in words. Layout mistakes (a flat folder with no class
sub-folders, an empty class folder, a single class) raise ImageFolderError.

``scan_image_folder(root, per_class=N)`` keeps at most N images per class, chosen by a
rule that does not depend on file names or order: the files whose SHA-256 content digest
sorts lowest (the course's blood-cell TRAIN is Kaggle's TRAIN cut this way to 800 per class).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .errors import ImageFolderError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif"}


@dataclass
class FolderScan:
    """What ``scan_image_folder`` found.

    ``files[i]`` is a usable image of class ``labels[i]`` (an index into ``class_names``);
    ``skipped`` lists ``(path, reason)`` for every file left out; ``modes`` counts the
    PIL colour modes seen (e.g. ``{'RGB': 3200}``), so greyscale or RGBA inputs show up.
    ``modes`` and ``sizes`` count the kept images only. ``per_class`` is the cap the scan
    was asked for (None: every image) and ``left_out[class]`` how many files of that class
    the cap left out, unopened (0 when the class had no more than ``per_class`` files).
    """
    root: Path
    class_names: list
    files: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    modes: dict = field(default_factory=dict)
    sizes: dict = field(default_factory=dict)
    per_class: int | None = None
    left_out: dict = field(default_factory=dict)

    @property
    def counts(self) -> dict:
        """Usable images per class, in class order."""
        out = {c: 0 for c in self.class_names}
        for label in self.labels:
            out[self.class_names[label]] += 1
        return out

    def summary(self) -> str:
        """A few lines for a notebook or a terminal: counts, modes, skipped files."""
        lines = [f"{len(self.files)} images in {len(self.class_names)} classes: "
                 + ", ".join(f"{c} {n}" for c, n in self.counts.items())]
        if self.modes:
            lines.append("colour modes: " + ", ".join(f"{m} {n}" for m, n in sorted(self.modes.items())))
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} file(s):")
            lines += [f"  {p.relative_to(self.root).as_posix()}: {why}" for p, why in self.skipped]
        else:
            lines.append("skipped 0 files")
        return "\n".join(lines)


def _check_image(path: Path) -> tuple[str | None, str | None, tuple | None]:
    """(reason it is unusable or None, PIL mode, (width, height))."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return f"not an image file (suffix {path.suffix or 'none'!r})", None, None
    try:
        with Image.open(path) as img:
            mode, size = img.mode, img.size
            img.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))  # fast JPEG decode
            img.load()  # decodes the data: truncated or corrupt files fail here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return f"unreadable image ({exc})", None, None
    return None, mode, size


def lowest_digest_order(paths) -> list:
    """``paths`` sorted by the SHA-256 digest of their bytes (lowercase hex), ties by path:
    the order of the course's subset rule, independent of file names and listing order."""
    from .download import file_digest
    return sorted((Path(p) for p in paths), key=lambda p: (file_digest(p, "sha256"), str(p)))


def _check_per_class(per_class):
    if per_class is None:
        return None
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"per_class must be a positive integer (images kept per class) or None "
                         f"(every image), got {per_class!r}; e.g. per_class=800.")
    return per_class


def scan_image_folder(root: str | os.PathLike, *, class_names: list | None = None,
                      per_class: int | None = None) -> FolderScan:
    """Scan ``root/CLASS/**`` and return a FolderScan.

    ``class_names`` defaults to the sorted names of ``root``'s sub-folders (the
    convention of ``keras.utils.image_dataset_from_directory``). Files directly in
    ``root`` and hidden files are reported as skipped. Raises ImageFolderError when
    ``root`` is missing, has no class sub-folders, has fewer than two classes, or
    a class folder holds no usable image.

    ``per_class``: keep at most this many images of each class (None: all). A class with
    more files keeps those whose SHA-256 content digest sorts lowest (lowercase hex, ties
    broken by path): they are opened in that order, an unusable one is reported in
    ``skipped`` and the next one takes its place, and the rest are counted in
    ``left_out`` without being opened. Kept files are listed in path order, as without
    the cap, so a folder that already holds ``per_class`` images per class scans the same.
    """
    root = Path(root)
    per_class = _check_per_class(per_class)
    if not root.is_dir():
        raise ImageFolderError(f"{root} is not a folder. Give the folder that holds one "
                               f"sub-folder per class, e.g. data/train/cat, data/train/dog.")
    subdirs = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if class_names is None:
        class_names = subdirs
    if not subdirs:
        raise ImageFolderError(
            f"{root} holds no class sub-folders, only files. Put each class's images in a "
            f"folder of its own: {root}/CLASS_A/*.jpg, {root}/CLASS_B/*.jpg.")
    missing = [c for c in class_names if c not in subdirs]
    if missing:
        raise ImageFolderError(f"{root} lacks the class folders {missing} (found {subdirs}).")
    if len(class_names) < 2:
        raise ImageFolderError(
            f"{root} has only one class folder ({class_names[0]!r}); a classifier needs at "
            f"least two. Add a folder per class.")
    scan = FolderScan(root=root, class_names=list(class_names), per_class=per_class)
    for entry in sorted(root.iterdir()):
        if entry.is_file():
            scan.skipped.append((entry, "file outside any class folder"))
    for label, cls in enumerate(class_names):
        candidates = []
        for path in sorted((root / cls).rglob("*")):
            if not path.is_file():
                continue
            if any(part.startswith(".") for part in path.relative_to(root).parts):
                scan.skipped.append((path, "hidden file"))
                continue
            candidates.append(path)
        capped = per_class is not None and len(candidates) > per_class
        order = lowest_digest_order(candidates) if capped else candidates
        kept, opened = [], 0
        for path in order:
            if capped and len(kept) == per_class:
                break
            opened += 1
            reason, mode, size = _check_image(path)
            if reason:
                scan.skipped.append((path, reason))
                continue
            kept.append((path, mode, size))
        scan.left_out[cls] = len(candidates) - opened
        for path, mode, size in sorted(kept):
            scan.files.append(path)
            scan.labels.append(label)
            scan.modes[mode] = scan.modes.get(mode, 0) + 1
            scan.sizes[size] = scan.sizes.get(size, 0) + 1
    empty = [c for c, n in scan.counts.items() if n == 0]
    if empty:
        raise ImageFolderError(
            f"class folder(s) {empty} under {root} hold no usable image"
            + (f" ({len(scan.skipped)} file(s) were skipped: see the scan)" if scan.skipped else "")
            + ". Add images or remove the folder.")
    return scan


# --------------------------------------------------------------------------- streaming pipeline
def _as_scan(source, class_names=None) -> FolderScan:
    if isinstance(source, FolderScan):
        return source
    return scan_image_folder(source, class_names=class_names)


def _check_image_size(image_size) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be a pair (height, width) of positive integers, "
                         f"got {image_size!r}; e.g. image_size=(120, 160).") from None
    if h <= 0 or w <= 0 or (h, w) != tuple(image_size):
        raise ValueError(f"image_size must be a pair (height, width) of positive integers, "
                         f"got {image_size!r}; e.g. image_size=(120, 160).")
    return h, w


def split_indices(n: int, validation_split: float, seed: int = 0) -> tuple:
    """Shuffle ``range(n)`` with ``seed`` and cut it into (train, validation) index arrays,
    the validation part holding ``round(n * validation_split)`` items (at least 1)."""
    import numpy as np
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split must be between 0 and 1 (exclusive), got "
                         f"{validation_split!r}; e.g. 0.2 keeps a fifth for validation.")
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(round(n * validation_split)))
    if n_val >= n:
        raise ValueError(f"validation_split={validation_split} leaves no training images "
                         f"out of {n}; use a smaller split or add images.")
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def decode_and_resize(path, image_size: tuple):
    """Read one image file into a ``(H, W, 3)`` uint8 tensor (TensorFlow ops, graph-safe).

    ``tf.io.decode_image(channels=3, expand_animations=False)`` decodes JPEG, PNG, BMP
    and GIF (first frame), and turns greyscale into RGB and drops an alpha channel.
    An image already of ``image_size`` is returned as decoded: the antialiased resize
    would give back the same pixels, and it costs several times the decoding
    (``cnnlib.memory``, ``bench/input_pipeline.py``).
    """
    import tensorflow as tf
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)

    def resized():
        out = tf.image.resize(image, image_size, method="bilinear", antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(out), 0, 255), tf.uint8)

    same_size = tf.reduce_all(tf.equal(tf.shape(image)[:2], tf.constant(image_size, tf.int32)))
    image = tf.cond(same_size, lambda: image, resized)
    image.set_shape((image_size[0], image_size[1], 3))
    return image


SHUFFLE_BUFFER = 256
"""Images held by the per-epoch shuffle when they are not all cached in memory."""

PREFETCH_BATCHES = 2
"""Batches decoded ahead of the model: enough to hide the decoding while a training step
runs, and a fixed amount of memory."""


def _cache_file(cache, files, labels, image_size) -> str:
    """The tf.data cache file for these files at this size: ``cache`` plus a digest of the
    inputs, so a cache left by another run (other images, another size) is never read back."""
    import hashlib
    h = hashlib.sha256(repr((tuple(image_size), [str(f) for f in files],
                             [int(y) for y in labels])).encode()).hexdigest()[:12]
    path = Path(cache)
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path.with_name(f"{path.name}-{h}"))


def image_dataset(source, *, image_size=(120, 160), batch_size: int | None = 32,
                  shuffle: bool = True, seed: int = 0, cache: bool | str = True,
                  validation_split: float | None = None, subset: str | None = None,
                  label_mode: str = "int", class_names: list | None = None,
                  max_per_class: int | None = None):
    """A streaming ``tf.data.Dataset`` of ``(images, labels)`` from a folder-per-class tree.

    ``source`` is a folder (scanned with ``scan_image_folder``, so unreadable and
    non-image files are left out before training starts) or an existing FolderScan.
    Each element is a batch ``images: (batch, H, W, 3) float32`` in 0..255 (as
    ``keras.utils.image_dataset_from_directory``; put ``Rescaling(1/255)`` in the
    model) and ``labels: (batch,) int32`` class indices (``label_mode="int"``) or
    ``(batch, 1) float32`` 0/1 (``label_mode="binary"``, two classes only).

    Steps: list the files -> (optional split) -> decode + resize to ``image_size``
    ``(H, W)`` -> cache (in memory as uint8 when ``cache=True``, in a file when
    ``cache`` is a path, not at all when False) -> shuffle every epoch with
    ``seed`` (reproducible order) -> float32 -> batch -> prefetch ``PREFETCH_BATCHES``
    (a fixed number, so memory stays flat). ``batch_size=None`` yields
    single images. Shuffling permutes the file list once with ``seed``, then reshuffles
    every epoch through a buffer of all images when they are cached in memory, or of
    ``SHUFFLE_BUFFER`` images otherwise, so a file cache or no cache keeps memory flat.
    A file cache's name gets a digest of the files and the size appended
    (``PATH-<digest>``), so a stale cache from another run is never read.

    ``validation_split`` with ``subset="training"`` or ``"validation"`` draws a
    random split of the files (same ``seed`` gives complementary halves).
    ``max_per_class`` keeps only the first N files of each class (quick runs).
    The dataset carries ``class_names`` and ``file_paths`` attributes.
    """
    import numpy as np
    import tensorflow as tf

    scan = _as_scan(source, class_names)
    image_size = _check_image_size(image_size)
    if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}.")
    if label_mode not in ("int", "binary"):
        raise ValueError(f"label_mode must be 'int' or 'binary', got {label_mode!r}.")
    if label_mode == "binary" and len(scan.class_names) != 2:
        raise ValueError(f"label_mode='binary' needs exactly two classes, found "
                         f"{len(scan.class_names)}: {scan.class_names}. Use label_mode='int'.")
    if (validation_split is None) != (subset is None):
        raise ValueError("Give validation_split and subset together (e.g. validation_split=0.2, "
                         "subset='training'), or neither.")
    files = np.array([str(p) for p in scan.files])
    labels = np.array(scan.labels, dtype=np.int32)
    if max_per_class is not None:
        keep = np.concatenate([np.flatnonzero(labels == k)[:max_per_class]
                               for k in range(len(scan.class_names))])
        keep.sort()
        files, labels = files[keep], labels[keep]
    if validation_split is not None:
        if subset not in ("training", "validation"):
            raise ValueError(f"subset must be 'training' or 'validation', got {subset!r}.")
        train_idx, val_idx = split_indices(len(files), validation_split, seed)
        idx = train_idx if subset == "training" else val_idx
        files, labels = files[idx], labels[idx]

    if shuffle:                       # one seeded permutation of the file list up front...
        order = np.random.default_rng(seed).permutation(len(files))
        files, labels = files[order], labels[order]
    ds = tf.data.Dataset.from_tensor_slices((files, labels))
    ds = ds.map(lambda p, y: (decode_and_resize(p, image_size), y),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache is True:
        ds = ds.cache()
    elif cache:
        ds = ds.cache(_cache_file(cache, files, labels, image_size))
    if shuffle:                       # ...then a fresh order every epoch, from a buffer that
        # holds every image only when they are all in memory anyway (cache=True); streamed
        # from disk, a small buffer over the already-permuted list keeps memory flat
        buffer = len(files) if cache is True else min(len(files), SHUFFLE_BUFFER)
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if label_mode == "binary":
        ds = ds.map(lambda x, y: (tf.cast(x, tf.float32), tf.cast(y, tf.float32)[None]))
    else:
        ds = ds.map(lambda x, y: (tf.cast(x, tf.float32), y))
    if batch_size is not None:
        ds = ds.batch(batch_size)
    # A fixed prefetch, not AUTOTUNE: an autotuned buffer keeps growing while the model waits
    # for images (by up to half the RAM), and at 320x240 one float32 batch of 32 is 29 MiB.
    # (tf.data would also inject an AUTOTUNE prefetch after a last step that is not one.)
    ds = ds.prefetch(PREFETCH_BATCHES)
    ds.class_names = list(scan.class_names)
    ds.file_paths = [str(f) for f in files]
    return ds


def load_image(path, image_size) -> "np.ndarray":
    """One image file as a ``(1, H, W, 3)`` float32 batch in 0..255, decoded and resized
    exactly as ``image_dataset`` does (so a trained model sees the same preprocessing).
    Raises ImageFolderError naming the file when it is missing or not a readable image."""
    import numpy as np
    import tensorflow as tf
    path = Path(path)
    if not path.is_file():
        raise ImageFolderError(f"{path} does not exist or is not a file. Give the path of an "
                               f"image (JPEG, PNG, BMP or GIF).")
    reason, _, _ = _check_image(path)
    if reason:
        raise ImageFolderError(f"{path.name}: {reason}. Give a JPEG, PNG, BMP or GIF image.")
    try:
        image = decode_and_resize(tf.constant(str(path)), _check_image_size(image_size))
    except tf.errors.OpError as exc:
        raise ImageFolderError(f"{path.name} could not be decoded ({exc.message}).") from None
    return np.asarray(image, dtype=np.float32)[None]
