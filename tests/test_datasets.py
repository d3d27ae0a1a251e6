"""cnnlib.datasets: every supported format on generated fixtures, the search order,
bad inputs, and (when present) the real data's shapes, dtypes and class counts."""
from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest

from cnnlib import datasets
from cnnlib.errors import (ChecksumMismatchError, DatasetCorruptError, DatasetFormatError,
                           DatasetNotFoundError)

from .conftest import (REAL_DATA, write_blood_tree, write_cifar_batches_dir, write_cifar_npz,
                       write_cifar_tar, write_mnist_idx, write_mnist_npz)


def assert_arrays_equal(ds, expected):
    for key, value in expected.items():
        np.testing.assert_array_equal(getattr(ds, key), value, err_msg=key)
        assert getattr(ds, key).dtype == np.uint8


# --------------------------------------------------------------------------- formats
def test_mnist_from_idx_gz(isolated_data):
    expected = write_mnist_idx(isolated_data / "mnist")
    ds = datasets.load_mnist(download=False)
    assert_arrays_equal(ds, expected)
    assert ds.x_train.shape == (30, 28, 28) and ds.y_train.shape == (30,)
    assert ds.class_names == tuple("0123456789")


def test_mnist_from_keras_npz(isolated_data):
    expected = write_mnist_npz(isolated_data / "mnist.npz")
    assert_arrays_equal(datasets.load_mnist(download=False), expected)


def test_cifar_from_npz(isolated_data):
    expected = write_cifar_npz(isolated_data / "cifar10" / "cifar10.npz")
    ds = datasets.load_cifar10(download=False)
    assert_arrays_equal(ds, expected)
    assert ds.y_train.shape == (20, 1)
    assert ds.class_names[3] == "cat"


def test_cifar_from_official_tar(isolated_data, monkeypatch):
    expected = write_cifar_tar(isolated_data / "cifar-10-python.tar.gz", monkeypatch)
    ds = datasets.load_cifar10(download=False)
    assert_arrays_equal(ds, expected)
    assert ds.x_train.shape == (20, 32, 32, 3)


def test_cifar_from_batches_dir_in_keras_cache(isolated_data, tmp_path, monkeypatch):
    # Keras 3 extracts to ~/.keras/datasets/cifar-10-batches-py-target/cifar-10-batches-py
    folder = tmp_path / "keras_home" / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    expected = write_cifar_batches_dir(folder, monkeypatch)
    assert_arrays_equal(datasets.load_cifar10(download=False), expected)


def test_blood_cells_found_wherever_the_kaggle_tree_sits(isolated_data):
    images = write_blood_tree(isolated_data / "downloads")
    tree = datasets.blood_cells_dir(download=False)
    assert tree.root == images
    assert tree.split("TEST_SIMPLE") == images / "TEST_SIMPLE"
    assert [p.name for p in sorted(tree.train.iterdir())] == list(datasets.BLOOD_CELL_CLASSES)


# --------------------------------------------------------------------------- search order
def test_search_order_env_then_repo_data_then_keras(isolated_data, tmp_path):
    repo_data = datasets.REPO_ROOT / "data"
    keras_cache = tmp_path / "keras_home" / "datasets"
    write_mnist_npz(keras_cache / "mnist.npz", n_train=3)
    assert datasets.load_mnist(download=False).x_train.shape[0] == 3
    write_mnist_npz(repo_data / "mnist.npz", n_train=4)
    assert datasets.load_mnist(download=False).x_train.shape[0] == 4
    write_mnist_npz(isolated_data / "mnist.npz", n_train=5)
    assert datasets.load_mnist(download=False).x_train.shape[0] == 5


def test_display_path_hides_machine_paths(isolated_data):
    shown = datasets.display_path(isolated_data / "mnist" / "x.gz")
    assert shown == "$CNNLIB_DATA_DIR/mnist/x.gz"
    assert str(isolated_data) not in shown


# --------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("loader", [datasets.load_mnist, datasets.load_cifar10])
def test_empty_data_dir_names_places_and_fix(isolated_data, loader):
    with pytest.raises(DatasetNotFoundError) as err:
        loader(download=False)
    msg = str(err.value)
    assert "CNNLIB_DATA_DIR" in msg and "Keras cache" in msg and "Fix:" in msg


def test_missing_data_dir_is_reported_as_missing(isolated_data, monkeypatch, tmp_path):
    monkeypatch.setenv("CNNLIB_DATA_DIR", str(tmp_path / "no-such-folder"))
    with pytest.raises(DatasetNotFoundError, match="missing"):
        datasets.load_mnist(download=False)


def test_blood_cells_missing_explains_kaggle(isolated_data, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.delenv("KAGGLE_API_TOKEN", raising=False)
    monkeypatch.setattr(datasets, "_kaggle_credentials", lambda: False)
    with pytest.raises(DatasetNotFoundError, match="kaggle.json"):
        datasets.blood_cells_dir()


def test_blood_cells_through_kagglehub_when_credentials_exist(isolated_data, tmp_path, monkeypatch):
    import sys
    import types
    cache = tmp_path / "kagglehub_cache"
    images = write_blood_tree(cache)
    calls = []
    fake = types.SimpleNamespace(dataset_download=lambda handle: calls.append(handle) or str(cache))
    monkeypatch.setitem(sys.modules, "kagglehub", fake)
    monkeypatch.setattr(datasets, "_kaggle_credentials", lambda: True)
    tree = datasets.blood_cells_dir()
    assert calls == ["paultimothymooney/blood-cells"]
    assert tree.root == images


def test_blood_tree_missing_class_folder(isolated_data):
    images = write_blood_tree(isolated_data)
    for f in (images / "TEST" / "MONOCYTE").iterdir():
        f.unlink()
    (images / "TEST" / "MONOCYTE").rmdir()
    with pytest.raises(DatasetFormatError, match="MONOCYTE"):
        datasets.blood_cells_dir(download=False)


def test_truncated_gz_is_a_clear_corrupt_error(isolated_data):
    write_mnist_idx(isolated_data / "mnist")
    path = isolated_data / "mnist" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(DatasetCorruptError, match="train-images-idx3-ubyte.gz.*truncated"):
        datasets.load_mnist(download=False)


def test_idx_with_short_payload_is_truncated(isolated_data):
    write_mnist_idx(isolated_data / "mnist")
    path = isolated_data / "mnist" / "t10k-labels-idx1-ubyte.gz"
    with gzip.open(path, "rb") as f:
        data = f.read()
    with gzip.open(path, "wb") as f:
        f.write(data[:-3])
    with pytest.raises(DatasetCorruptError, match="truncated"):
        datasets.load_mnist(download=False)


def test_npz_with_wrong_keys(isolated_data):
    np.savez(isolated_data / "cifar10.npz", images=np.zeros((2, 32, 32, 3), np.uint8), labels=np.zeros(2))
    with pytest.raises(DatasetFormatError) as err:
        datasets.load_cifar10(download=False)
    assert "x_train" in str(err.value) and "images" in str(err.value)


def test_npz_with_wrong_shapes(isolated_data):
    np.savez(isolated_data / "mnist.npz", x_train=np.zeros((2, 32, 32), np.uint8), y_train=np.zeros(2, np.uint8),
             x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.zeros(1, np.uint8))
    with pytest.raises(DatasetFormatError, match=r"\(32, 32\)"):
        datasets.load_mnist(download=False)


def test_truncated_npz_is_corrupt(isolated_data):
    write_cifar_npz(isolated_data / "cifar10.npz")
    p = isolated_data / "cifar10.npz"
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(DatasetCorruptError, match="cifar10.npz"):
        datasets.load_cifar10(download=False)


def test_tampered_tar_is_never_unpickled(isolated_data, monkeypatch):
    write_cifar_tar(isolated_data / "cifar-10-python.tar.gz", monkeypatch)
    (isolated_data / "cifar-10-python.tar.gz").write_bytes(b"not the verified archive")
    unpickled = []
    monkeypatch.setattr(datasets, "_parse_cifar_batch", lambda *a: unpickled.append(a))
    with pytest.raises(ChecksumMismatchError, match="Delete it"):
        datasets.load_cifar10(download=False)
    assert unpickled == []


def test_tampered_batch_file_is_rejected_before_unpickling(isolated_data, tmp_path, monkeypatch):
    folder = isolated_data / "cifar-10-batches-py"
    write_cifar_batches_dir(folder, monkeypatch)
    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": 1}))
    with pytest.raises(ChecksumMismatchError, match="data_batch_3"):
        datasets.load_cifar10(download=False)


def test_unpickler_refuses_arbitrary_globals():
    payload = pickle.dumps({b"data": __import__("os").getcwd}, protocol=2)
    with pytest.raises(DatasetCorruptError, match="refusing"):
        datasets._parse_cifar_batch(payload, "data_batch_1", datasets.REPO_ROOT)


# --------------------------------------------------------------------------- real data
real = pytest.mark.skipif(not REAL_DATA, reason="CNNLIB_DATA_DIR not set: real datasets not available")


@real
@pytest.mark.realdata
def test_real_mnist():
    ds = datasets.load_mnist(download=False)
    assert ds.x_train.shape == (60000, 28, 28) and ds.x_test.shape == (10000, 28, 28)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.shape == (60000,)
    assert np.bincount(ds.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(ds.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@real
@pytest.mark.realdata
def test_real_cifar10():
    ds = datasets.load_cifar10(download=False)
    assert ds.x_train.shape == (50000, 32, 32, 3) and ds.x_test.shape == (10000, 32, 32, 3)
    assert ds.y_train.shape == (50000, 1) and ds.y_train.dtype == np.uint8
    assert np.bincount(ds.y_train.ravel()).tolist() == [5000] * 10
    assert np.bincount(ds.y_test.ravel()).tolist() == [1000] * 10
    assert ds.y_train[:10].ravel().tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]


@real
@pytest.mark.realdata
def test_real_blood_cells():
    tree = datasets.blood_cells_dir(download=False)
    for split in datasets.BLOOD_CELL_SPLITS:
        classes = sorted(p.name for p in tree.split(split).iterdir() if p.is_dir())
        assert classes == list(datasets.BLOOD_CELL_CLASSES), split
    assert sum(1 for _ in tree.train.rglob("*.jpeg")) == 3200


@real
@pytest.mark.realdata
def test_real_blood_cell_train_is_already_the_courses_subset():
    """The shared TRAIN holds exactly the 800 per class the subset rule keeps, so the rule keeps
    every file, and those are the TRAIN lines of the dataset's SHA256SUMS."""
    from cnnlib.folders import scan_image_folder
    tree = datasets.blood_cells_dir(download=False)
    plain = scan_image_folder(tree.train)
    capped = scan_image_folder(tree.train, per_class=datasets.BLOOD_CELL_TRAIN_PER_CLASS)
    assert capped.files == plain.files and capped.labels == plain.labels
    assert capped.counts == {c: 800 for c in datasets.BLOOD_CELL_CLASSES}
    assert capped.left_out == {c: 0 for c in datasets.BLOOD_CELL_CLASSES}
    sums = tree.root.parent / "SHA256SUMS"
    if sums.is_file():
        listed = {line.split()[1] for line in sums.read_text().splitlines() if "images/TRAIN/" in line}
        assert {f"images/{p.relative_to(tree.root).as_posix()}" for p in capped.files} == listed


def test_bad_files_in_a_blood_cell_class_folder_are_skipped_and_reported(isolated_data):
    from cnnlib.folders import scan_image_folder
    images = write_blood_tree(isolated_data, per_class=3)
    cls = images / "TRAIN" / "MONOCYTE"
    good = sorted(cls.iterdir())[0].read_bytes()
    (cls / "broken.jpeg").write_bytes(good[: len(good) // 2])   # corrupt (truncated) JPEG
    (cls / "notes.txt").write_text("not an image")
    scan = scan_image_folder(datasets.blood_cells_dir(download=False).train)
    assert scan.counts == {"EOSINOPHIL": 3, "LYMPHOCYTE": 3, "MONOCYTE": 3, "NEUTROPHIL": 3}
    reasons = {p.name: why for p, why in scan.skipped}
    assert set(reasons) == {"broken.jpeg", "notes.txt"}
    assert "unreadable image" in reasons["broken.jpeg"] and "not an image" in reasons["notes.txt"]
    assert "skipped 2 file(s)" in scan.summary() and "MONOCYTE/broken.jpeg" in scan.summary()
