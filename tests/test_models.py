"""Model builders: classic parameter counts pinned to the reference recipes, shapes,
input validation, and the fused batch norm matching Keras's own layer."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from cnnlib import models  # noqa: E402


@pytest.mark.parametrize("builder, params", [
    (models.classic_mnist, 607_394),      # R0, classic-recipes.md
    (models.classic_cifar10, 319_178),    # R3 ("GfG"), classic-recipes.md
    (models.classic_cifar10_r2, 315_722),  # R2 with the 64x64 input bug fixed
])
def test_classic_parameter_counts(builder, params):
    assert builder().count_params() == params


def test_classic_mnist_keeps_its_no_activation_quirk():
    conv = models.classic_mnist().get_layer("conv")
    assert conv.get_config()["activation"] == "linear"
    assert conv.filters == 28 and conv.kernel_size == (3, 3)


@pytest.mark.parametrize("builder, shape", [
    (models.classic_mnist, (28, 28, 1)),
    (models.classic_cifar10, (32, 32, 3)),
    (models.classic_cifar10_r2, (32, 32, 3)),
    (models.improved_mnist, (28, 28, 1)),
    (models.fast_cifar10, (32, 32, 3)),
])
def test_outputs_are_probabilities(builder, shape):
    model = builder()
    x = np.random.default_rng(0).random((3, *shape), dtype=np.float32)
    p = np.asarray(model(x, training=False))
    assert p.shape == (3, 10)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert model.compiled is False  # builders return uncompiled models


def test_num_classes_and_input_shape_are_respected():
    m = models.fast_cifar10(input_shape=(24, 24, 3), num_classes=4, widths=(8, 16, 16), stem=8)
    assert m.input_shape == (None, 24, 24, 3) and m.output_shape == (None, 4)


@pytest.mark.parametrize("bad", [(28, 28), (0, 28, 1), "28x28"])
def test_bad_input_shape_is_explained(bad):
    with pytest.raises((ValueError, TypeError)):
        models.classic_mnist(input_shape=bad)


def test_too_few_classes_rejected():
    with pytest.raises(ValueError, match="num_classes"):
        models.classic_cifar10(num_classes=1)


def test_augmentation_is_identity_at_inference():
    aug = models.augmentation(flip=True, translate=0.1, seed=1)
    x = np.random.default_rng(1).random((4, 8, 8, 3), dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(aug(x, training=False)), x)
    assert not np.array_equal(np.asarray(aug(x, training=True)), x)


def test_fused_batch_norm_matches_keras_layer():
    x = (np.random.default_rng(2).standard_normal((8, 5, 5, 3)) * 3 + 1).astype("float32")
    ref, fused = keras.layers.BatchNormalization(), models.FusedBatchNorm()
    for training in (True, False, True):
        np.testing.assert_allclose(np.asarray(fused(x, training=training)),
                                   np.asarray(ref(x, training=training)), atol=1e-4)
    np.testing.assert_allclose(fused.moving_mean.numpy(), ref.moving_mean.numpy(), atol=1e-5)
    np.testing.assert_allclose(fused.moving_variance.numpy(), ref.moving_variance.numpy(), atol=1e-4)


def test_fast_model_saves_and_loads(tmp_path):
    m = models.fast_cifar10(widths=(8, 8, 8), stem=8)
    x = np.random.default_rng(3).random((2, 32, 32, 3), dtype=np.float32)
    path = tmp_path / "m.keras"
    m.save(path)
    back = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(back(x, training=False)), np.asarray(m(x, training=False)), atol=1e-6)
    assert isinstance(back.get_layer("stem_bn"), models.FusedBatchNorm)


def test_layer_table_sums_to_the_parameter_count():
    model = models.classic_cifar10()
    table = models.layer_table(model)
    assert list(table.columns) == ["layer", "type", "output shape", "parameters"]
    assert table["parameters"].sum() == model.count_params()
    assert table.loc[table["layer"] == "flatten", "output shape"].item() == "4096"


def test_patch_stem_shrinks_the_map_and_keeps_the_head():
    plain = models.folder_classifier((64, 64), num_classes=4, widths=(8, 16))
    patched = models.folder_classifier((64, 64), num_classes=4, widths=(8, 16), patch=4)
    stem = patched.get_layer("stem_conv")
    assert stem.kernel_size == (4, 4) and stem.strides == (4, 4)
    assert stem.output.shape[1:] == (16, 16, 8)
    assert patched.get_layer("block2_pool").output.shape[1:] == (4, 4, 16)
    assert plain.get_layer("block2_pool").output.shape[1:] == (16, 16, 16)
    # the stem adds 4*4*3*8 weights and a batch norm (4*8); block 1's 3x3 conv now reads
    # 8 channels instead of 3; nothing else changes
    assert patched.count_params() - plain.count_params() == 4 * 4 * 3 * 8 + 4 * 8 + 3 * 3 * (8 - 3) * 8
    probs = patched.predict(np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)), verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("patch", [1, 0, 2.5, True, "4"])
def test_bad_patch_is_explained(patch):
    with pytest.raises(ValueError, match="patch must be an integer >= 2"):
        models.folder_classifier((64, 64), num_classes=4, widths=(8,), patch=patch)


def test_image_too_small_for_patch_and_blocks_is_explained():
    with pytest.raises(ValueError, match="after a 4x4 patch stem; use at least 32 pixels"):
        models.folder_classifier((24, 64), num_classes=4, widths=(8, 16, 32), patch=4)


def test_rotate_and_shift_augment_in_training_only():
    model = models.folder_classifier((32, 32), num_classes=3, widths=(8,), rotate=True, shift=0.1)
    names = [layer.name for layer in model.layers]
    assert "augment_rotate" in names and "augment_shift" in names
    assert "augment_rotate" not in [layer.name for layer in models.folder_classifier((32, 32), 3, widths=(8,)).layers]
    x = np.random.default_rng(1).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(model(x, training=False), model(x, training=False))   # no randomness
    rotate = model.get_layer("augment_rotate")
    assert not np.allclose(rotate(x, training=True), x)                              # it does rotate
    np.testing.assert_array_equal(rotate(x, training=False), x)


@pytest.mark.parametrize("shift", [-0.1, 1.0, 2])
def test_bad_shift_is_explained(shift):
    with pytest.raises(ValueError, match="shift is a fraction"):
        models.folder_classifier((32, 32), num_classes=3, widths=(8,), shift=shift)


# --------------------------------------------------------------------------- StainCrop
def _smear(h=60, w=80, centre=(20, 55), radius=6):
    """A pale pink 'smear' (blue - green = 20, below the threshold) with one purple disc
    (blue - green = 140) centred at ``centre``: shape (1, h, w, 3), 0..255."""
    img = np.empty((h, w, 3), "float32")
    img[:] = (230, 200, 220)
    rr, cc = np.mgrid[:h, :w]
    disc = (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= radius ** 2
    img[disc] = (120, 60, 200)
    return img[None], disc


def test_stain_centre_is_the_score_weighted_centroid():
    img, disc = _smear()
    layer = models.StainCrop(box=20, size=20)
    score = np.maximum(img[0, ..., 2] - img[0, ..., 1] - 60, 0)          # the formula in the docstring
    rows, cols = np.mgrid[:60, :80]
    expected = [(score * rows).sum() / score.sum(), (score * cols).sum() / score.sum()]
    np.testing.assert_allclose(layer.centres(img)[0], expected, rtol=1e-6)
    np.testing.assert_allclose(expected, (20, 55), atol=1e-6)            # a symmetric disc: its centre
    pale = np.full((2, 60, 80, 3), 200, "float32")                       # nothing stained: the image centre
    np.testing.assert_allclose(layer.centres(pale), [[29.5, 39.5]] * 2)


def test_stain_crop_cuts_the_cell_out_and_pads_with_black():
    img, _ = _smear(centre=(20, 55))
    out = models.StainCrop(box=21, size=21)(img).numpy()
    assert out.shape == (1, 21, 21, 3)
    np.testing.assert_allclose(out[0], img[0, 10:31, 45:66], atol=1e-3)  # 21 pixels around (20, 55), unscaled
    corner, _ = _smear(centre=(3, 3), radius=3)                          # a cell at the corner:
    out = models.StainCrop(box=21, size=21)(corner).numpy()[0]           # the window leaves the image
    assert (out[:5, :5] == 0).all() and out[10, 10, 2] == 200             # black outside, the cell in the middle
    big = models.StainCrop(box=(40, 40), size=(20, 20))(img).numpy()     # a larger box is resized down
    assert big.shape == (1, 20, 20, 3) and big[0, 10, 10, 2] == pytest.approx(200)


def test_stain_crop_model_sees_the_crop_and_round_trips(tmp_path):
    crop = models.StainCrop(box=32, size=(24, 32))
    model = models.folder_classifier((60, 80), num_classes=3, widths=(8, 16), crop=crop)
    assert model.input_shape == (None, 60, 80, 3)
    assert model.get_layer("augment_flip").output.shape[1:] == (24, 32, 3)
    img, _ = _smear()
    path = tmp_path / "crop.keras"
    model.save(path)
    back = keras.models.load_model(path)
    assert back.layers[1].get_config()["box"] == [32, 32] and back.layers[1].size == (24, 32)
    np.testing.assert_allclose(back.predict(img, verbose=0), model.predict(img, verbose=0), rtol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    (dict(box=0), "box must be a positive integer"),
    (dict(size=(10, -1)), "size must be a positive integer"),
    (dict(size="big"), "size must be a positive integer"),
    (dict(threshold=300), "threshold is a level of blue minus green"),
])
def test_bad_stain_crop_is_explained(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.StainCrop(**kwargs)


def test_crop_too_small_and_wrong_crop_type_are_explained():
    with pytest.raises(ValueError, match=r"the crop size \(4, 4\) is too small"):
        models.folder_classifier((64, 64), 3, widths=(8, 16, 32), crop=models.StainCrop(box=32, size=4))
    with pytest.raises(ValueError, match="crop must be a StainCrop layer"):
        models.folder_classifier((64, 64), 3, widths=(8,), crop=160)


# ----------------------------------------------------------------- patch whitening (airbench's first layer)
def test_patch_whitening_whitens_the_training_patches():
    rng = np.random.default_rng(0)
    base = rng.random((200, 10, 10, 1), dtype=np.float32)
    x = np.concatenate([base, 0.5 * base + 0.1 * rng.random((200, 10, 10, 1), dtype=np.float32),
                        rng.random((200, 10, 10, 1), dtype=np.float32)], axis=-1)   # correlated channels
    kernel, bias = models.patch_whitening(x, patch=2, eps=0.0)
    assert kernel.shape == (2, 2, 3, 24) and bias.shape == (24,)
    np.testing.assert_allclose(kernel[..., 12:], -kernel[..., :12])               # (f, -f) pairs
    conv = keras.layers.Conv2D(24, 2, padding="valid")
    out = conv(x)
    conv.set_weights([kernel, bias])
    out = np.asarray(conv(x)).reshape(-1, 24)[:, :12].astype("float64")
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-4)                     # the bias centres
    np.testing.assert_allclose(np.cov(out, rowvar=False), np.eye(12), atol=2e-3)   # unit, uncorrelated
    variances = np.var(np.asarray(x[:, :2, :2]).reshape(len(x), -1) @ kernel.reshape(12, 24)[:, :12], axis=0)
    assert variances[0] > 0  # computed on raw patches, the filters are ordered largest first:
    raw = [np.var(x[:, :2, :2].reshape(len(x), -1) @ kernel.reshape(12, 24)[:, i] * 1.0) for i in range(12)]
    assert raw[0] > 0.5 and raw[-1] > 0.5   # every direction scaled to about unit variance


def test_fast_cifar10_with_whitening_starts_with_the_frozen_layer():
    x = np.random.default_rng(1).random((50, 32, 32, 3), dtype=np.float32)
    kernel, bias = models.patch_whitening(x)
    m = models.fast_cifar10(widths=(8, 8, 8), augment=False, whitening=(kernel, bias))
    whiten = m.get_layer("whiten")
    assert not whiten.trainable and whiten.output.shape[1:] == (31, 31, 24)
    np.testing.assert_array_equal(whiten.get_weights()[0], kernel)
    np.testing.assert_array_equal(whiten.get_weights()[1], bias)
    assert "stem_conv" not in [layer.name for layer in m.layers]
    assert m.predict(x[:4], verbose=0).shape == (4, 10)


@pytest.mark.parametrize("x, kwargs, match", [
    (np.zeros((4, 8, 8)), {}, r"\(n, H, W, C\)"),
    (np.zeros((4, 8, 8, 3)), dict(patch=9), "patch"),
    (np.zeros((4, 8, 8, 3)), dict(patch=0), "patch")])
def test_patch_whitening_bad_input_is_explained(x, kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.patch_whitening(x, **kwargs)
