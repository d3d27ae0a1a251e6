"""Transfer learning without downloads: the backbone, its cache keys (never a hit for a
backbone built another way), the cache files, pretraining on a tiny fake CIFAR-10, and the
ImageNet weights path (found, verified, never downloaded)."""
from __future__ import annotations

import hashlib

import keras
import numpy as np
import pytest
from keras import layers

from cnnlib import datasets, transfer

from .conftest import REAL_DATA, write_cifar_npz

SETTINGS = {"widths": [4, 4, 4], "n_per_class": 20, "epochs": 1, "batch_size": 32,
            "peak_lr": 1e-3, "seed": 0}
MOBILENET = "MobileNetV3Small"


def page_style_backbone(widths=(32, 64, 128), input_shape=(None, None, 3), act="relu"):
    """The backbone as a notebook page might write it: same layers, Keras's automatic names."""
    inputs = keras.Input(shape=input_shape)
    x = layers.Rescaling(1 / 255)(inputs)
    for w in widths[:2]:
        for _ in range(2):
            x = layers.Conv2D(w, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x) if act == "relu" else layers.Activation(act)(x)
        x = layers.MaxPooling2D(2)(x)
    for _ in range(2):
        x = layers.Conv2D(widths[2], 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x) if act == "relu" else layers.Activation(act)(x)
    return keras.Model(inputs, layers.GlobalAveragePooling2D()(x), name="backbone")


# --------------------------------------------------------------------------- the backbone
def test_cifar_backbone_layout_and_names():
    model = transfer.cifar_backbone()
    assert model.name == "backbone"
    names = [layer.name for layer in model.layers]
    assert names[:3] == ["image", "rescale", "b1_conv1"] and names[-1] == "features"
    assert [n for n in names if n.startswith("top_")] == [
        "top_conv1", "top_bn1", "top_relu1", "top_conv2", "top_bn2", "top_relu2"]
    assert len(set(names)) == len(names)
    assert model.output.shape == (None, 128)
    # 2 convs per block, no biases; 4 BN parameters per channel
    convs = 3 * 3 * (3 * 32 + 32 * 32 + 32 * 64 + 64 * 64 + 64 * 128 + 128 * 128)
    assert model.count_params() == convs + 4 * 2 * (32 + 64 + 128)


def test_cifar_backbone_runs_on_any_image_size_and_takes_0_255_pixels():
    model = transfer.cifar_backbone((4, 4, 4))
    assert model.get_layer("rescale").scale == pytest.approx(1 / 255)
    for size in (32, 40):
        assert model(np.zeros((2, size, size, 3), "float32")).shape == (2, 4)
    with pytest.raises(ValueError, match="widths"):
        transfer.cifar_backbone((4, 4))


def test_the_model_json_is_deterministic():
    assert transfer.cifar_backbone((4, 8, 8)).to_json() == transfer.cifar_backbone((4, 8, 8)).to_json()


# --------------------------------------------------------------------------- digests and keys
def test_architecture_digest_ignores_names_but_sees_every_change():
    digest = transfer.architecture_digest(transfer.cifar_backbone())
    assert transfer.architecture_digest(transfer.cifar_backbone()) == digest
    assert transfer.architecture_digest(page_style_backbone()) == digest
    others = [transfer.cifar_backbone((32, 64, 96)), transfer.cifar_backbone(input_shape=(32, 32, 3)),
              page_style_backbone(act="elu")]
    # one layer more: a dropout before the pooling
    m = page_style_backbone()
    x = layers.Dropout(0.1)(m.layers[-2].output)
    others.append(keras.Model(m.input, layers.GlobalAveragePooling2D()(x)))
    digests = {transfer.architecture_digest(o) for o in others}
    assert digest not in digests and len(digests) == len(others)


def test_architecture_digest_sees_how_the_layers_connect():
    def residual(skip_from_input):
        inputs = keras.Input((4,))
        a = layers.Dense(4)(inputs)
        b = layers.Dense(4)(a)
        return keras.Model(inputs, layers.Add()([inputs if skip_from_input else a, b]))
    assert transfer.architecture_digest(residual(False)) == transfer.architecture_digest(residual(False))
    assert transfer.architecture_digest(residual(False)) != transfer.architecture_digest(residual(True))


def test_architecture_digest_of_a_nested_model_ignores_its_inner_names():
    def wrapped(backbone):
        inputs = keras.Input((32, 32, 3))
        return keras.Model(inputs, layers.Dense(2)(backbone(inputs)))
    assert (transfer.architecture_digest(wrapped(transfer.cifar_backbone((4, 4, 4))))
            == transfer.architecture_digest(wrapped(page_style_backbone((4, 4, 4)))))
    assert (transfer.architecture_digest(wrapped(transfer.cifar_backbone((4, 4, 4))))
            != transfer.architecture_digest(wrapped(transfer.cifar_backbone((4, 4, 8)))))


def test_data_digest_sees_bytes_dtype_and_shape():
    x = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    d = transfer.data_digest(x)
    assert transfer.data_digest(x.copy()) == d
    y = x.copy()
    y[1, 2, 3] += 1
    assert transfer.data_digest(y) != d
    assert transfer.data_digest(x.reshape(6, 4)) != d
    assert transfer.data_digest(x.view(np.int8)) != d
    assert transfer.data_digest(x, x) != d
    assert transfer.data_digest(x[:, :, ::2]) == transfer.data_digest(np.ascontiguousarray(x[:, :, ::2]))


def test_backbone_key_changes_with_every_setting_the_widths_the_data_and_the_recipe(monkeypatch):
    model = transfer.cifar_backbone(SETTINGS["widths"])
    key = transfer.backbone_key(model, SETTINGS, "data-a")
    assert transfer.backbone_key(transfer.cifar_backbone((4, 4, 4)), dict(SETTINGS), "data-a") == key
    changed = {"widths": [4, 4, 8], "n_per_class": None, "epochs": 2, "batch_size": 64,
               "peak_lr": 2e-3, "seed": 1}
    keys = {transfer.backbone_key(model, {**SETTINGS, k: v}, "data-a") for k, v in changed.items()}
    keys.add(transfer.backbone_key(transfer.cifar_backbone((4, 4, 8)), SETTINGS, "data-a"))
    keys.add(transfer.backbone_key(model, SETTINGS, "data-b"))
    monkeypatch.setattr(transfer, "RECIPE_VERSION", transfer.RECIPE_VERSION + 1)
    keys.add(transfer.backbone_key(model, SETTINGS, "data-a"))
    assert key not in keys and len(keys) == len(changed) + 3


def test_backbone_key_refuses_settings_that_are_not_json():
    with pytest.raises(TypeError, match="'epochs'.*int\\(x\\)"):
        transfer.backbone_key(transfer.cifar_backbone((4, 4, 4)), {**SETTINGS, "epochs": np.int64(1)}, "d")


# --------------------------------------------------------------------------- the cache files
@pytest.fixture
def cache(isolated_data, monkeypatch):
    monkeypatch.delenv(transfer.CACHE_ENV, raising=False)
    assert transfer.cache_dir() == datasets.REPO_ROOT / "data" / "backbones"      # the repo's download cache
    return datasets.REPO_ROOT / "data" / "backbones"


def test_the_cache_folder_can_be_moved_and_never_defaults_into_the_data_dir(isolated_data, monkeypatch, tmp_path):
    monkeypatch.delenv(transfer.CACHE_ENV, raising=False)
    assert isolated_data not in transfer.cache_dir().parents        # $CNNLIB_DATA_DIR may be read-only
    monkeypatch.setenv(transfer.CACHE_ENV, str(tmp_path / "elsewhere"))
    assert transfer.cache_dir() == tmp_path / "elsewhere"


def test_cache_round_trip_gives_identical_predictions(cache):
    keras.utils.set_random_seed(0)
    model = transfer.cifar_backbone((4, 4, 4))
    key = transfer.backbone_key(model, SETTINGS, "d")
    assert transfer.load_backbone(key) is None and transfer.backbone_info(key) is None
    path = transfer.save_backbone(model, key, {"note": "test"})
    assert path == cache / f"{key[:16]}.keras"
    assert sorted(p.name for p in cache.iterdir()) == [f"{key[:16]}.json", f"{key[:16]}.keras"]
    info = transfer.backbone_info(key)
    assert info["key"] == key and info["note"] == "test" and info["date"][:2] == "20"
    loaded = transfer.load_backbone(key)
    x = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    # another key sharing the file name's 16 hex digits is not a hit
    other = key[:16] + ("0" if key[16] != "0" else "1") + key[17:]
    assert transfer.load_backbone(other) is None


def test_a_corrupt_cache_file_gives_a_clear_error(cache):
    model = transfer.cifar_backbone((4, 4, 4))
    key = transfer.backbone_key(model, SETTINGS, "d")
    path = transfer.save_backbone(model, key, {})
    path.write_bytes(b"not a keras file")
    with pytest.raises(transfer.BackboneCacheError, match=rf"<repo>/data/backbones/{key[:16]}"
                       r"\.keras cannot be read.*delete.*rerun"):
        transfer.load_backbone(key)
    path.with_suffix(".json").unlink()
    with pytest.raises(transfer.BackboneCacheError, match=r"\.json record is missing"):
        transfer.load_backbone(key)
    path.with_suffix(".json").write_text("{not json")
    with pytest.raises(transfer.BackboneCacheError, match=r"\.json cannot be read"):
        transfer.load_backbone(key)


def test_no_temporary_files_are_left_behind(cache):
    model = transfer.cifar_backbone((4, 4, 4))
    with pytest.raises(TypeError, match="JSON"):
        transfer.save_backbone(model, "a" * 64, {"bad": object()})
    transfer.save_backbone(model, "b" * 64, {})
    assert sorted(p.name for p in cache.iterdir()) == ["bbbbbbbbbbbbbbbb.json", "bbbbbbbbbbbbbbbb.keras"]
    # a save interrupted between the record and the model is a miss, not an error
    (cache / "bbbbbbbbbbbbbbbb.keras").unlink()
    assert transfer.load_backbone("b" * 64) is None


# --------------------------------------------------------------------------- pretraining
@pytest.fixture
def fake_cifar(isolated_data):
    """A 200-image fake CIFAR-10 (labels 0..9 in turn: 20 per class) in the isolated data dir."""
    write_cifar_npz(isolated_data / "cifar10.npz", n_train=200, n_test=10)
    return isolated_data


def test_pretrain_data_keeps_8_classes_in_index_order_and_relabels_them(fake_cifar):
    x, y = transfer.pretrain_data(3)
    full = datasets.load_cifar10()
    kept = np.flatnonzero(np.isin(full.y_train.reshape(-1), transfer.PRETRAIN_CLASSES))
    expected_idx = np.sort(np.concatenate(
        [kept[full.y_train.reshape(-1)[kept] == c][:3] for c in transfer.PRETRAIN_CLASSES]))
    np.testing.assert_array_equal(x, full.x_train[expected_idx])
    assert x.dtype == np.uint8 and y.dtype == np.int32
    assert np.bincount(y).tolist() == [3] * 8
    old = full.y_train.reshape(-1)[expected_idx]
    np.testing.assert_array_equal(np.asarray(transfer.PRETRAIN_CLASSES)[y], old)
    assert 3 not in old and 5 not in old
    assert len(transfer.pretrain_data(None)[0]) == 160


def test_pretraining_augmentation_makes_exact_flipped_and_shifted_crops():
    import tensorflow as tf
    x = np.random.default_rng(0).integers(0, 256, (48, 32, 32, 3), dtype=np.uint8)
    out, y = transfer._augment(0)(tf.constant(x), tf.range(48))
    out = out.numpy()
    assert out.shape == x.shape and out.dtype == np.float32 and np.array_equal(y, np.arange(48))
    padded = np.pad(x.astype(np.float32), ((0, 0), (4, 4), (4, 4), (0, 0)), mode="reflect")
    seen = set()
    for i in range(len(x)):
        matches = [(flip, dy, dx) for flip in (False, True) for dy in range(9) for dx in range(9)
                   if np.array_equal((padded[i, :, ::-1] if flip else padded[i])[dy:dy + 32, dx:dx + 32],
                                     out[i])]
        assert matches, f"image {i} is not a flipped/shifted crop of its input"
        seen.add(matches[0])
    assert len(seen) > 30 and {m[0] for m in seen} == {False, True}   # per-image, not per-batch


def test_pretrain_settings_are_validated():
    for bad, match in (({**SETTINGS, "widths": [4, 4]}, "widths"),
                       ({**SETTINGS, "n_per_class": 0}, "n_per_class"),
                       ({**SETTINGS, "epochs": 1.0}, "epochs"),
                       ({**SETTINGS, "peak_lr": 3}, "peak_lr"),
                       ({k: v for k, v in SETTINGS.items() if k != "seed"}, "missing \\['seed'\\]"),
                       ({**SETTINGS, "lr": 1e-3}, "unknown \\['lr'\\]")):
        with pytest.raises(ValueError, match=match):
            transfer.pretrain(bad)


def test_pretrain_then_the_cache_hits_and_a_changed_setting_misses(fake_cifar, monkeypatch, capsys):
    backbone, info = transfer.pretrain(SETTINGS, verbose=True)
    assert capsys.readouterr().out.startswith("epoch 1/1  loss ")
    x, y = transfer.pretrain_data(20)
    key = transfer.backbone_key(page_style_backbone((4, 4, 4)), SETTINGS, transfer.data_digest(x, y))
    assert info["key"] == key and info["images"] == 160 == len(x)
    assert 0 <= info["pretrain_train_accuracy"] <= 1 and info["fit_seconds"] > 0
    assert backbone.name == "backbone" and backbone.output.shape == (None, 4)

    first, info1 = transfer.pretrained_backbone(SETTINGS)
    assert info1["cached"] is False and info1["key"] == key
    assert info1["file"] == f"<repo>/data/backbones/{key[:16]}.keras"
    second, info2 = transfer.pretrained_backbone(dict(SETTINGS))
    assert info2["cached"] is True and info2["key"] == key
    assert info2["fit_seconds"] == info1["fit_seconds"]
    images = x[:4].astype("float32")
    np.testing.assert_array_equal(np.asarray(second(images)), np.asarray(first(images)))

    class Pretrains(Exception):
        pass

    def pretrains(settings, x, y, key, verbose):
        raise Pretrains(key)

    monkeypatch.setattr(transfer, "_pretrain", pretrains)
    with pytest.raises(Pretrains) as miss:                     # another seed: not a cache hit
        transfer.pretrained_backbone({**SETTINGS, "seed": 1})
    assert str(miss.value) != key
    assert transfer.pretrained_backbone(SETTINGS)[1]["cached"] is True


@pytest.mark.realdata
@pytest.mark.skipif(not REAL_DATA, reason="CNNLIB_DATA_DIR not set: real CIFAR-10 not available")
def test_pretrain_data_on_the_real_cifar10():
    x, y = transfer.pretrain_data(None)
    assert x.shape == (40_000, 32, 32, 3)
    assert np.bincount(y).tolist() == [5_000] * 8


# --------------------------------------------------------------------------- ImageNet weights
def test_the_published_hash_literal_equals_keras_own():
    file_name, literal = transfer._IMAGENET_WEIGHTS_LITERAL[MOBILENET]
    assert transfer._keras_published_hash(MOBILENET) == literal
    assert transfer.IMAGENET_WEIGHTS[MOBILENET] == (file_name, literal)


def _weights_file(folder, content=b"fake weights"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / transfer.IMAGENET_WEIGHTS[MOBILENET][0]
    path.write_bytes(content)
    return path


def test_a_wrong_weights_file_is_rejected_naming_the_expected_hash(isolated_data):
    path = _weights_file(isolated_data / "models")
    expected = transfer.IMAGENET_WEIGHTS[MOBILENET][1]
    found = hashlib.md5(b"fake weights").hexdigest()
    with pytest.raises(transfer.WeightsHashMismatch) as err:
        transfer.find_imagenet_weights()
    msg = str(err.value)
    assert f"$CNNLIB_DATA_DIR/models/{path.name}" in msg and found in msg and expected in msg
    assert "delete it" in msg and transfer.KERAS_WEIGHTS_URL + path.name in msg
    assert isinstance(err.value, datasets.ChecksumMismatchError)


def test_verify_weights_accepts_md5_or_sha256(tmp_path):
    path = tmp_path / "w.h5"
    path.write_bytes(b"abc")
    assert transfer.verify_weights(path, hashlib.md5(b"abc").hexdigest()) == path
    assert transfer.verify_weights(path, hashlib.sha256(b"abc").hexdigest().upper()) == path
    with pytest.raises(transfer.WeightsHashMismatch, match="sha256"):
        transfer.verify_weights(path, "0" * 64)
    with pytest.raises(ValueError, match="32 hex"):
        transfer.verify_weights(path, "abc")


def test_weights_are_searched_in_the_data_folders_then_keras_cache(isolated_data, tmp_path, monkeypatch):
    assert transfer.find_imagenet_weights() is None
    right = b"right weights"
    monkeypatch.setitem(transfer.IMAGENET_WEIGHTS, MOBILENET,
                        (transfer.IMAGENET_WEIGHTS[MOBILENET][0], hashlib.md5(right).hexdigest()))
    in_keras = _weights_file(tmp_path / "keras_home" / "models", right)
    assert transfer.find_imagenet_weights() == in_keras
    in_repo = _weights_file(datasets.REPO_ROOT / "data" / "models", right)
    assert transfer.find_imagenet_weights() == in_repo
    in_data = _weights_file(isolated_data, right)
    assert transfer.find_imagenet_weights() == in_data
    _weights_file(isolated_data, b"damaged")          # the first file found is verified, not skipped
    with pytest.raises(transfer.WeightsHashMismatch):
        transfer.find_imagenet_weights()
    with pytest.raises(ValueError, match="known"):
        transfer.find_imagenet_weights("ResNet50")


def test_imagenet_backbone_without_weights_says_so_and_downloads_nothing(isolated_data, tmp_path):
    model, explanation = transfer.imagenet_backbone((32, 32, 3))
    assert model.output.shape[-1] == 576 and model.input.shape[1:] == (32, 32, 3)
    assert "No ImageNet weights" in explanation and "$CNNLIB_DATA_DIR" in explanation
    assert "own CIFAR backbone" in explanation and "Nothing was downloaded" in explanation
    assert not (tmp_path / "keras_home" / "models").exists()


def test_imagenet_backbone_loads_a_verified_local_file(isolated_data, monkeypatch):
    """A Keras-format (legacy HDF5) weights file of MobileNetV3Small, found in the data dir,
    verified and loaded: the model carries exactly its weights."""
    from keras.src.legacy.saving import legacy_h5_format
    import h5py
    keras.utils.set_random_seed(1)
    source = keras.applications.MobileNetV3Small(input_shape=(32, 32, 3), include_top=False,
                                                 weights=None)
    path = isolated_data / transfer.IMAGENET_WEIGHTS[MOBILENET][0]
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, source)
    monkeypatch.setitem(transfer.IMAGENET_WEIGHTS, MOBILENET,
                        (path.name, hashlib.md5(path.read_bytes()).hexdigest()))
    model, explanation = transfer.imagenet_backbone((32, 32, 3))
    assert explanation.startswith(f"MobileNetV3Small uses ImageNet weights from $CNNLIB_DATA_DIR/{path.name}")
    for a, b in zip(model.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)
