"""Notebook 06 writes the backbone and its pretraining on the page; notebook 07 (and anyone
else) gets the same backbone from ``cnnlib.transfer.pretrained_backbone``. These tests prove
that the two paths meet: the page's builder is the library's, the page's SETTINGS are valid
library settings, and the page's cache key is the one the library computes, so a backbone
cached by either path is found by the other."""
from __future__ import annotations

import re

import numpy as np
import pytest

from cnnlib import profiles, transfer
from tests.exercise_harness import notebook_cells, source
from tests.page_models import page_builders, signature


def cells():
    return [source(c) for c in notebook_cells("06_transfer_learning")]


def one_cell(pattern: str) -> str:
    found = [src for src in cells() if re.search(pattern, src)]
    assert len(found) == 1, f"expected one cell matching {pattern!r}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def page_backbone():
    return page_builders()[("06_transfer_learning", "cifar_backbone")]


def page_settings(profile: str, monkeypatch) -> dict:
    """SETTINGS as the notebook's parameters cell and settings cell make them for ``profile``."""
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    monkeypatch.delenv("CNNLIB_USE_CACHE", raising=False)
    ns: dict = {}
    exec(one_cell(r'^PROFILE = "full"'), ns)
    ns["PROFILE"] = profile
    exec(one_cell(r"^import os\nfrom cnnlib import profiles"), ns)
    return ns["SETTINGS"]


@pytest.mark.parametrize("widths", [(32, 64, 128), (8, 16, 24)])
def test_page_backbone_is_the_library_backbone(page_backbone, widths):
    page, lib = page_backbone(widths), transfer.cifar_backbone(widths)
    assert [layer.name for layer in page.layers] == [layer.name for layer in lib.layers]
    assert signature(page) == signature(lib)
    assert page.name == lib.name == "backbone"
    assert transfer.architecture_digest(page) == transfer.architecture_digest(lib)


@pytest.mark.parametrize("profile", ["smoke", "full"])
def test_page_settings_are_valid_library_settings(profile, monkeypatch):
    settings = page_settings(profile, monkeypatch)
    assert set(settings) == set(transfer.SETTINGS_KEYS)
    transfer._check_settings(settings)                  # raises on anything pretrain would refuse


@pytest.mark.parametrize("profile", ["smoke", "full"])
def test_page_key_is_the_library_key(profile, page_backbone, monkeypatch):
    """The page computes its key in one line; run that line with the page's builder and compare
    it with what transfer.pretrained_backbone computes for the same SETTINGS and data."""
    settings = page_settings(profile, monkeypatch)
    data_line = next(line for line in one_cell(r"transfer\.pretrain_data\(").splitlines()
                     if "transfer.pretrain_data(" in line)
    assert re.match(r'x_pre, y_pre = transfer\.pretrain_data\(SETTINGS\["n_per_class"\]\)', data_line)
    key_line = next(line for line in one_cell(r"transfer\.backbone_key\(").splitlines()
                    if line.startswith("key = "))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)       # stand-ins for pretrain_data's arrays
    y = (np.arange(16) % 8).astype(np.int32)
    ns = {"transfer": transfer, "cifar_backbone": page_backbone, "SETTINGS": settings, "x_pre": x, "y_pre": y}
    exec(key_line, ns)
    library_key = transfer.backbone_key(transfer.cifar_backbone(settings["widths"]), settings,
                                        transfer.data_digest(x, y))
    assert ns["key"] == library_key


def test_page_pretraining_follows_the_library_recipe():
    """The recipe's numbers on the page are pretrain's: head, optimizer, schedule, loss."""
    src = one_cell(r"pretrain_model = with_head\(")
    for needed in ("keras.utils.set_random_seed(SETTINGS[\"seed\"])", "weight_decay=5e-4",
                   "initial_learning_rate=SETTINGS[\"peak_lr\"] * 0.1", "decay_steps=max(1, int(steps * 0.8))",
                   "warmup_steps=int(steps * 0.2)", "SparseCategoricalCrossentropy(from_logits=True)",
                   "transfer.save_backbone(backbone, key, info)"):
        assert needed in src, needed
    head = one_cell(r"def with_head\(")
    assert "layers.Dropout(0.2" in head


def test_page_augmentation_is_the_library_augmentation():
    import keras
    import tensorflow as tf
    ns = {"tf": tf}
    exec(one_cell(r"def augment_batch\(seed\)").split("\n\n\nplots.")[0], ns)
    x = np.random.default_rng(1).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    y = np.arange(6)
    keras.utils.set_random_seed(3)
    page, _ = ns["augment_batch"](3)(tf.constant(x), tf.constant(y))
    keras.utils.set_random_seed(3)
    lib, _ = transfer._augment(3)(tf.constant(x), tf.constant(y))
    assert np.array_equal(page.numpy(), lib.numpy())
    assert page.shape == x.shape and page.dtype == tf.float32
