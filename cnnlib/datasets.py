"""Find, verify and load the course's datasets: MNIST, CIFAR-10 and the blood-cell images.

Where a loader looks, in order:

1. the folder named by the ``CNNLIB_DATA_DIR`` environment variable;
2. the repository's ``data/`` folder (the default download cache);
3. Keras's cache, ``~/.keras/datasets`` (or ``$KERAS_HOME/datasets``);
4. a download from upstream (sha256-verified, atomic), into ``download_dir()``.

Inside each of those folders a dataset may sit a few folders down, in any of the
formats users actually have:

- MNIST: Keras's ``mnist.npz``, or the four official IDX files (``*-ubyte.gz``);
- CIFAR-10: ``cifar10.npz`` (keys ``x_train, y_train, x_test, y_test``), the official
  ``cifar-10-python.tar.gz``, or its extracted ``cifar-10-batches-py/`` folder;
- blood cells: the Kaggle ``dataset2-master/images`` tree (``TRAIN/``, ``TEST/`` and
  ``TEST_SIMPLE/``, each with one folder per class).

Pickled formats (the CIFAR-10 python batches) are only unpickled after their
checksum matches cnnlib's manifest, and then only with an unpickler that accepts
NumPy arrays and nothing else. ``np.load`` is always called with ``allow_pickle=False``.
"""
from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
import zlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import download as _download
from .errors import (ChecksumMismatchError, DatasetCorruptError, DatasetFormatError,
                     DatasetNotFoundError, DownloadError)

REPO_ROOT = Path(__file__).resolve().parents[1]

MNIST_CLASSES = tuple(str(d) for d in range(10))
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
BLOOD_CELL_CLASSES = ("EOSINOPHIL", "LYMPHOCYTE", "MONOCYTE", "NEUTROPHIL")
BLOOD_CELL_SPLITS = ("TRAIN", "TEST", "TEST_SIMPLE")
BLOOD_CELL_TRAIN_PER_CLASS = 800
"""The course's blood-cell TRAIN: of Kaggle's ~2,490 TRAIN images per class, the 800 whose
SHA-256 content digest sorts lowest (lowercase hex); TEST and TEST_SIMPLE are complete. Scan a
full Kaggle download with ``folders.scan_image_folder(tree.train, per_class=800)`` to get the
same images; a tree that holds only the course's 800 per class scans the same either way."""

MNIST_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
CIFAR10_BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3",
                   "data_batch_4", "data_batch_5", "test_batch")

#: The checksum manifest. URLs and sha256 values are the ones Keras uses; the
#: IDX sha256 values are TensorFlow Datasets'; the CIFAR-10 batch md5 values are
#: the ones published with the dataset (and checked by torchvision).
MANIFEST: dict = {
    "mnist.npz": {
        "url": "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
        "sha256": "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    },
    "cifar-10-python.tar.gz": {
        "url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "sha256": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    },
    "mnist_idx_sha256": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "cifar10_batches_md5": {
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
    },
    "blood_cells": {
        "kaggle_handle": "paultimothymooney/blood-cells",
        "page": "https://www.kaggle.com/datasets/paultimothymooney/blood-cells",
    },
}

_SEARCH_DEPTH = 5


# --------------------------------------------------------------------------- where to look
def data_roots() -> list[tuple[str, Path]]:
    """The folders searched for datasets, in order, as ``(label, path)`` pairs."""
    roots = []
    env = os.environ.get("CNNLIB_DATA_DIR")
    if env:
        roots.append(("CNNLIB_DATA_DIR", Path(env).expanduser().resolve()))
    roots.append(("repo data/", REPO_ROOT / "data"))
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()
    roots.append(("Keras cache", keras_home / "datasets"))
    return roots


def download_dir() -> Path:
    """Where downloads go: ``CNNLIB_DATA_DIR`` if set, else the repo's ``data/`` folder."""
    env = os.environ.get("CNNLIB_DATA_DIR")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / "data"


def display_path(path: str | os.PathLike) -> str:
    """A path as it is safe to show in a notebook or report: machine-specific prefixes
    are replaced by ``$CNNLIB_DATA_DIR``, ``<repo>`` or ``~``."""
    p = Path(path).resolve()
    env = os.environ.get("CNNLIB_DATA_DIR")
    prefixes = []
    if env:
        prefixes.append((Path(env).expanduser().resolve(), "$CNNLIB_DATA_DIR"))
    prefixes += [(REPO_ROOT, "<repo>"), (Path.home().resolve(), "~")]
    for prefix, label in prefixes:
        try:
            rel = p.relative_to(prefix)
        except ValueError:
            continue
        return label if str(rel) == "." else f"{label}/{rel.as_posix()}"
    return p.name


def _walk_dirs(root: Path, max_depth: int = _SEARCH_DEPTH):
    """Breadth-first walk of ``root`` and its sub-folders, ``max_depth`` levels down."""
    if not root.is_dir():
        return
    level = [root]
    for _ in range(max_depth + 1):
        nxt = []
        for d in sorted(level):
            yield d
            try:
                nxt += [Path(e.path) for e in os.scandir(d)
                        if e.is_dir() and not e.name.startswith(".")]
            except OSError:
                continue
        level = nxt


def _search(match) -> tuple[object, Path] | None:
    """First ``(found, root)`` for which ``match(folder)`` returns something, in root order."""
    for _, root in data_roots():
        for d in _walk_dirs(root):
            found = match(d)
            if found is not None:
                return found, root
    return None


def _searched() -> str:
    return "; ".join(f"{label} ({display_path(p)}{'' if p.is_dir() else ', missing'})"
                     for label, p in data_roots())


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class ImageDataset:
    """An in-memory image-classification dataset in the Keras layout.

    ``x_train``: ``(n_train, H, W)`` or ``(n_train, H, W, C)`` uint8;
    ``y_train``: ``(n_train,)`` or ``(n_train, 1)`` uint8 class indices
    (likewise for the test split); ``class_names[i]`` names class ``i``;
    ``source`` is the file or folder the arrays came from.
    """
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple
    source: Path

    def __repr__(self) -> str:
        return (f"ImageDataset(x_train={self.x_train.shape}, x_test={self.x_test.shape}, "
                f"classes={len(self.class_names)}, source={display_path(self.source)!r})")


@dataclass(frozen=True)
class BloodCellTree:
    """The blood-cell image tree: one folder per split, one sub-folder per class."""
    root: Path
    train: Path
    test: Path
    test_simple: Path
    class_names: tuple = BLOOD_CELL_CLASSES

    def split(self, name: str) -> Path:
        """The folder of split ``name`` ('TRAIN', 'TEST' or 'TEST_SIMPLE')."""
        return {"TRAIN": self.train, "TEST": self.test, "TEST_SIMPLE": self.test_simple}[name.upper()]

    def __repr__(self) -> str:
        return f"BloodCellTree(root={display_path(self.root)!r}, classes={list(self.class_names)})"


def _check_arrays(name: str, source: Path, arrays: dict, image_shape: tuple, n_classes: int):
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        problems = []
        if x.dtype != np.uint8 or y.dtype != np.uint8:
            problems.append(f"dtypes x={x.dtype}, y={y.dtype} (expected uint8)")
        if x.shape[1:] != image_shape:
            problems.append(f"x_{split} images are {x.shape[1:]} (expected {image_shape})")
        if len(x) != len(y):
            problems.append(f"{len(x)} images but {len(y)} labels")
        if y.size and (int(y.max()) >= n_classes):
            problems.append(f"labels up to {int(y.max())} (expected 0..{n_classes - 1})")
        if problems:
            raise DatasetFormatError(
                f"{name} at {display_path(source)} is not in the expected layout: "
                + "; ".join(problems) + ". Replace it with an official copy.")


# --------------------------------------------------------------------------- MNIST
def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzip-compressed or not) into a uint8 array.

    Raises DatasetCorruptError when the file is truncated or its header is wrong.
    """
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            data = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise DatasetCorruptError(
            f"{path.name} cannot be read ({exc}); it is truncated or not a gzip file. "
            f"Delete it and copy or download it again.") from exc
    if len(data) < 8 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DatasetCorruptError(f"{path.name} is not an IDX uint8 file (bad magic number). "
                                  f"Replace it with the official file.")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape))
    if len(data) - offset != expected:
        raise DatasetCorruptError(
            f"{path.name} holds {len(data) - offset:,} bytes of data, but its header promises "
            f"{expected:,} for shape {shape}: the file is truncated. Copy or download it again.")
    return np.frombuffer(data, np.uint8, offset=offset).reshape(shape)


def _idx_set(folder: Path) -> dict | None:
    files = {}
    for key, stem in MNIST_IDX_FILES.items():
        for cand in (folder / f"{stem}.gz", folder / stem):
            if cand.is_file():
                files[key] = cand
                break
    return files if len(files) == 4 else None


def _match_mnist(folder: Path):
    if (folder / "mnist.npz").is_file():
        return folder / "mnist.npz"
    if _idx_set(folder):
        return folder
    return None


def _load_npz(path: Path, name: str) -> dict:
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in keys if k not in f.files]
            if missing:
                raise DatasetFormatError(
                    f"{display_path(path)} has keys {sorted(f.files)}, but {name} needs "
                    f"{list(keys)} (missing {missing}). Re-create it with those keys, or use an "
                    f"official copy.")
            return {k: f[k] for k in keys}
    except DatasetFormatError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as exc:
        raise DatasetCorruptError(
            f"{display_path(path)} cannot be read as a .npz file ({exc}). It is truncated or "
            f"corrupt: delete it and copy or download it again.") from exc


def load_mnist(*, download: bool = True) -> ImageDataset:
    """Load MNIST: 60,000 train and 10,000 test 28x28 greyscale digits.

    Returns an ImageDataset with ``x_*`` of shape ``(n, 28, 28)`` uint8 (0 = background,
    255 = ink) and ``y_*`` of shape ``(n,)`` uint8 in 0..9, exactly as
    ``keras.datasets.mnist.load_data()``.
    """
    hit = _search(_match_mnist)
    if hit is None:
        source = _download_or_fail("MNIST", "mnist.npz", download,
                                   "mnist.npz, or the four *-ubyte.gz IDX files")
    else:
        source = hit[0]
    if source.is_file():
        arrays = _load_npz(source, "MNIST")
    else:
        arrays = {k: read_idx(p) for k, p in _idx_set(source).items()}
    _check_arrays("MNIST", source, arrays, (28, 28), 10)
    return ImageDataset(class_names=MNIST_CLASSES, source=source, **arrays)


# --------------------------------------------------------------------------- CIFAR-10
class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain containers and NumPy arrays; refuses every other global."""
    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
                ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file")
        if module == "_codecs":  # protocol-2 pickles made by Python 3 store bytes this way
            import codecs
            return codecs.encode
        if name == "_reconstruct":
            return np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's own _reconstruct
        return getattr(np, name)


def _parse_cifar_batch(raw: bytes, name: str, source: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = _NumpyOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
        batch = {(k.decode() if isinstance(k, bytes) else k): v for k, v in batch.items()}
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch["labels"], dtype=np.uint8)
        x = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    except Exception as exc:  # noqa: BLE001 - any failure here means a bad file
        raise DatasetCorruptError(
            f"CIFAR-10 batch {name} in {display_path(source)} cannot be read ({exc}). "
            f"Replace it with the official file.") from exc
    return np.ascontiguousarray(x), labels.reshape(-1, 1)


def _assemble_cifar(batches: dict, source: Path) -> dict:
    xs, ys = zip(*(batches[f"data_batch_{i}"] for i in range(1, 6)))
    return {"x_train": np.concatenate(xs), "y_train": np.concatenate(ys),
            "x_test": batches["test_batch"][0], "y_test": batches["test_batch"][1]}


def _load_cifar_tar(path: Path) -> dict:
    _download.verify_file(path, MANIFEST["cifar-10-python.tar.gz"]["sha256"])
    batches = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar.getmembers():
                base = Path(member.name).name
                if member.isfile() and base in CIFAR10_BATCHES:
                    batches[base] = _parse_cifar_batch(tar.extractfile(member).read(), base, path)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise DatasetCorruptError(f"{display_path(path)} cannot be read as a .tar.gz ({exc}). "
                                  f"Delete it and download it again.") from exc
    missing = [b for b in CIFAR10_BATCHES if b not in batches]
    if missing:
        raise DatasetFormatError(f"{display_path(path)} lacks the batches {missing}.")
    return _assemble_cifar(batches, path)


def _load_cifar_batches_dir(folder: Path) -> dict:
    batches = {}
    for name in CIFAR10_BATCHES:
        path = folder / name
        if not path.is_file():
            raise DatasetFormatError(f"{display_path(folder)} lacks {name}. Re-extract the "
                                     f"official cifar-10-python.tar.gz.")
        _download.verify_file(path, MANIFEST["cifar10_batches_md5"][name], "md5")
        batches[name] = _parse_cifar_batch(path.read_bytes(), name, folder)
    return _assemble_cifar(batches, folder)


def _match_cifar(folder: Path):
    for name in ("cifar10.npz", "cifar-10.npz", "cifar-10-python.tar.gz"):
        if (folder / name).is_file():
            return folder / name
    if folder.name == "cifar-10-batches-py" and (folder / "data_batch_1").is_file():
        return folder
    return None


def load_cifar10(*, download: bool = True) -> ImageDataset:
    """Load CIFAR-10: 50,000 train and 10,000 test 32x32 RGB photos in 10 classes.

    Returns an ImageDataset with ``x_*`` of shape ``(n, 32, 32, 3)`` uint8 (channels last)
    and ``y_*`` of shape ``(n, 1)`` uint8, exactly as ``keras.datasets.cifar10.load_data()``.
    """
    hit = _search(_match_cifar)
    if hit is None:
        source = _download_or_fail(
            "CIFAR-10", "cifar-10-python.tar.gz", download,
            "cifar10.npz, cifar-10-python.tar.gz or a cifar-10-batches-py/ folder")
    else:
        source = hit[0]
    if source.is_dir():
        arrays = _load_cifar_batches_dir(source)
    elif source.name.endswith(".tar.gz"):
        arrays = _load_cifar_tar(source)
    else:
        arrays = _load_npz(source, "CIFAR-10")
    _check_arrays("CIFAR-10", source, arrays, (32, 32, 3), 10)
    return ImageDataset(class_names=CIFAR10_CLASSES, source=source, **arrays)


# --------------------------------------------------------------------------- downloads
def _download_or_fail(name: str, manifest_key: str, download: bool, formats: str) -> Path:
    entry = MANIFEST[manifest_key]
    fix = (f"Fix: set CNNLIB_DATA_DIR to a folder holding {formats}, or put it under the "
           f"repo's data/ folder, or run once with internet access to download it from {entry['url']}.")
    if not download:
        raise DatasetNotFoundError(f"{name} not found. Looked in: {_searched()}. {fix}")
    dest = download_dir() / manifest_key
    print(f"{name} not found locally; downloading {entry['url']} to {display_path(dest)}", flush=True)
    try:
        return _download.fetch(entry["url"], dest, entry["sha256"])
    except DownloadError as exc:
        raise DatasetNotFoundError(
            f"{name} not found (looked in: {_searched()}) and the download failed: {exc} {fix}"
        ) from exc


# --------------------------------------------------------------------------- blood cells
def _match_blood(folder: Path):
    if not all((folder / s).is_dir() for s in ("TRAIN", "TEST")):
        return None
    for split in BLOOD_CELL_SPLITS:
        sdir = folder / split
        if not sdir.is_dir():
            raise DatasetFormatError(
                f"The blood-cell tree at {display_path(folder)} has no {split}/ folder. It needs "
                f"TRAIN/, TEST/ and TEST_SIMPLE/, as in Kaggle's dataset2-master/images.")
        missing = [c for c in BLOOD_CELL_CLASSES if not (sdir / c).is_dir()]
        if missing:
            raise DatasetFormatError(
                f"{display_path(sdir)} lacks the class folders {missing}; each split needs one "
                f"folder per class: {list(BLOOD_CELL_CLASSES)}.")
    return BloodCellTree(root=folder, train=folder / "TRAIN", test=folder / "TEST",
                         test_simple=folder / "TEST_SIMPLE")


def _kaggle_credentials() -> bool:
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return True
    if os.environ.get("KAGGLE_API_TOKEN"):
        return True
    return any(p.is_file() for p in (Path.home() / ".kaggle" / "kaggle.json",
                                      Path.home() / ".config" / "kaggle" / "kaggle.json"))


def blood_cells_dir(*, download: bool = True) -> BloodCellTree:
    """Locate the blood-cell image tree (TRAIN, TEST and TEST_SIMPLE, 4 class folders each).

    Searches the data roots for Kaggle's ``dataset2-master/images`` layout wherever it
    sits; if absent and Kaggle credentials exist, downloads it through kagglehub.
    A full download's TRAIN holds ~2,490 images per class; the course uses 800 of them
    (``BLOOD_CELL_TRAIN_PER_CLASS``, the lowest SHA-256 rule of ``scan_image_folder``).
    """
    hit = _search(_match_blood)
    if hit is not None:
        return hit[0]
    page = MANIFEST["blood_cells"]["page"]
    fix = (f"Fix: download the Kaggle dataset 'Blood Cell Images' ({page}), unzip it under "
           f"the repo's data/ folder or the folder named by CNNLIB_DATA_DIR (the loader finds "
           f"dataset2-master/images wherever it sits), or install kagglehub "
           f"(pip install 'cnnlib[kaggle]') and put your Kaggle API token in ~/.kaggle/kaggle.json "
           f"or the KAGGLE_USERNAME/KAGGLE_KEY variables.")
    base = f"Blood-cell images not found. Looked in: {_searched()}."
    if not download or not _kaggle_credentials():
        raise DatasetNotFoundError(f"{base} {fix}")
    try:
        import kagglehub
    except ImportError as exc:
        raise DatasetNotFoundError(f"{base} Kaggle credentials exist but kagglehub is not "
                                   f"installed. {fix}") from exc
    try:
        path = Path(kagglehub.dataset_download(MANIFEST["blood_cells"]["kaggle_handle"]))
    except Exception as exc:  # noqa: BLE001 - kagglehub raises many kinds
        raise DatasetNotFoundError(f"{base} The kagglehub download failed: {exc}. {fix}") from exc
    for d in _walk_dirs(path):
        tree = _match_blood(d)
        if tree is not None:
            return tree
    raise DatasetFormatError(f"kagglehub downloaded {display_path(path)}, but it holds no "
                             f"TRAIN/TEST/TEST_SIMPLE image tree. {fix}")


# --------------------------------------------------------------------------- summaries
def locate(name: str):
    """Where dataset ``name`` ('mnist', 'cifar10' or 'blood_cells') is, without loading or
    downloading it: a Path (or BloodCellTree), or None when it is not found."""
    matcher = {"mnist": _match_mnist, "cifar10": _match_cifar, "blood_cells": _match_blood}[name]
    hit = _search(matcher)
    return None if hit is None else hit[0]


def fingerprint(name: str) -> dict | None:
    """sha256 of the files behind dataset ``name`` as found locally (None when absent).

    For the blood-cell tree, one sha256 over the sorted ``relative path + file sha256`` lines,
    with the image count.
    """
    found = locate(name)
    if found is None:
        return None
    if isinstance(found, BloodCellTree):
        import hashlib
        lines = []
        for split in BLOOD_CELL_SPLITS:
            for f in sorted(found.split(split).rglob("*")):
                if f.is_file():
                    lines.append(f"{f.relative_to(found.root).as_posix()} {_download.file_digest(f)}")
        digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
        return {"path": display_path(found.root), "files": len(lines), "tree_sha256": digest}
    if not found.is_dir():
        files = [found]
    elif name == "mnist":
        files = sorted(_idx_set(found).values())
    else:
        files = [found / b for b in CIFAR10_BATCHES]
    return {"path": display_path(found),
            "sha256": {f.name: _download.file_digest(f) for f in files}}
