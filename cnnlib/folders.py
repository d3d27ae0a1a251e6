"""Scan a folder-per-class image tree before training on it.

``scan_image_folder(root)`` walks ``root/CLASS/...``, opens every file, and sorts
them into usable images and skipped files, each skipped file with its reason.
Nothing is skipped silently: the result counts and lists them, and its
``summary()`` says so in words. Layout mistakes (a flat folder with no class
sub-folders, an empty class folder, a single class) raise ImageFolderError.
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
    """
    root: Path
    class_names: list
    files: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    modes: dict = field(default_factory=dict)
    sizes: dict = field(default_factory=dict)

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


def scan_image_folder(root: str | os.PathLike, *, class_names: list | None = None) -> FolderScan:
    """Scan ``root/CLASS/**`` and return a FolderScan.

    ``class_names`` defaults to the sorted names of ``root``'s sub-folders (the
    convention of ``keras.utils.image_dataset_from_directory``). Files directly in
    ``root`` and hidden files are reported as skipped. Raises ImageFolderError when
    ``root`` is missing, has no class sub-folders, has fewer than two classes, or
    a class folder holds no usable image.
    """
    root = Path(root)
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
    scan = FolderScan(root=root, class_names=list(class_names))
    for entry in sorted(root.iterdir()):
        if entry.is_file():
            scan.skipped.append((entry, "file outside any class folder"))
    for label, cls in enumerate(class_names):
        for path in sorted((root / cls).rglob("*")):
            if not path.is_file():
                continue
            if any(part.startswith(".") for part in path.relative_to(root).parts):
                scan.skipped.append((path, "hidden file"))
                continue
            reason, mode, size = _check_image(path)
            if reason:
                scan.skipped.append((path, reason))
                continue
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
