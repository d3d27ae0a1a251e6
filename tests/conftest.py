"""Shared fixtures: small generated datasets in every supported format, and an
isolated data environment so tests never see the real data unless they ask."""
from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cnnlib import datasets  # noqa: E402

REAL_DATA = os.environ.get("CNNLIB_DATA_DIR")


@pytest.fixture
def isolated_data(tmp_path, monkeypatch):
    """An empty data world: CNNLIB_DATA_DIR, the repo's data/ and Keras's cache all
    point into tmp_path. Returns the CNNLIB_DATA_DIR folder."""
    data = tmp_path / "datadir"
    data.mkdir()
    monkeypatch.setenv("CNNLIB_DATA_DIR", str(data))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    fake_repo = tmp_path / "repo"
    (fake_repo / "data").mkdir(parents=True)
    monkeypatch.setattr(datasets, "REPO_ROOT", fake_repo)
    return data


def rng_images(n, shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


def labels(n, k=10):
    return (np.arange(n) % k).astype(np.uint8)


# --------------------------------------------------------------------------- MNIST
def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + arr.tobytes()


def write_mnist_idx(folder: Path, n_train=30, n_test=10) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"x_train": rng_images(n_train, (28, 28)), "y_train": labels(n_train),
              "x_test": rng_images(n_test, (28, 28), 1), "y_test": labels(n_test)}
    for key, stem in datasets.MNIST_IDX_FILES.items():
        with gzip.open(folder / f"{stem}.gz", "wb") as f:
            f.write(idx_bytes(arrays[key]))
    return arrays


def write_mnist_npz(path: Path, n_train=30, n_test=10) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"x_train": rng_images(n_train, (28, 28)), "y_train": labels(n_train),
              "x_test": rng_images(n_test, (28, 28), 1), "y_test": labels(n_test)}
    np.savez_compressed(path, **arrays)
    return arrays


# --------------------------------------------------------------------------- CIFAR-10
def write_cifar_npz(path: Path, n_train=20, n_test=10) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"x_train": rng_images(n_train, (32, 32, 3)), "y_train": labels(n_train).reshape(-1, 1),
              "x_test": rng_images(n_test, (32, 32, 3), 1), "y_test": labels(n_test).reshape(-1, 1)}
    np.savez_compressed(path, **arrays)
    return arrays


def cifar_batches(per_batch=4) -> tuple[dict, dict]:
    """Official-format pickled batches (bytes keys, CHW rows) and the expected arrays."""
    raw, xs, ys = {}, [], []
    for i, name in enumerate(datasets.CIFAR10_BATCHES):
        x = rng_images(per_batch, (32, 32, 3), i)
        y = labels(per_batch)
        rows = x.transpose(0, 3, 1, 2).reshape(per_batch, -1)
        raw[name] = pickle.dumps({b"data": rows, b"labels": [int(v) for v in y],
                                  b"batch_label": name.encode()}, protocol=2)
        xs.append(x)
        ys.append(y.reshape(-1, 1))
    expected = {"x_train": np.concatenate(xs[:5]), "y_train": np.concatenate(ys[:5]),
                "x_test": xs[5], "y_test": ys[5]}
    return raw, expected


def write_cifar_batches_dir(folder: Path, monkeypatch) -> dict:
    raw, expected = cifar_batches()
    folder.mkdir(parents=True, exist_ok=True)
    md5 = {}
    for name, data in raw.items():
        (folder / name).write_bytes(data)
        md5[name] = __import__("hashlib").md5(data).hexdigest()
    monkeypatch.setitem(datasets.MANIFEST, "cifar10_batches_md5", md5)
    return expected


def cifar_tar_bytes() -> tuple[bytes, dict]:
    raw, expected = cifar_batches()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in raw.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue(), expected


def write_cifar_tar(path: Path, monkeypatch) -> dict:
    import hashlib
    data, expected = cifar_tar_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    monkeypatch.setitem(datasets.MANIFEST, "cifar-10-python.tar.gz",
                        {"url": "http://127.0.0.1:9/unused", "sha256": hashlib.sha256(data).hexdigest()})
    return expected


# --------------------------------------------------------------------------- images
def write_jpeg(path: Path, size=(32, 24), color=(200, 50, 50), mode="RGB", fmt="JPEG"):
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, color)
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path, fmt)


def write_blood_tree(root: Path, per_class=2) -> Path:
    """A miniature Kaggle dataset2-master/images tree under ``root``."""
    images = root / "dataset2-master" / "dataset2-master" / "images"
    for split in datasets.BLOOD_CELL_SPLITS:
        for i, cls in enumerate(datasets.BLOOD_CELL_CLASSES):
            for j in range(per_class):
                write_jpeg(images / split / cls / f"_{j}_{i}.jpeg", color=(40 * i, 80, 120))
    return images


@pytest.fixture(autouse=True)
def _exercises_not_strict(monkeypatch):
    """Unit tests see the lenient exercise checks; `make test` sets CNNLIB_EXERCISES_STRICT=1
    for nbval, and tests/test_notebooks.py sets it for the instructor edition itself."""
    monkeypatch.delenv("CNNLIB_EXERCISES_STRICT", raising=False)
