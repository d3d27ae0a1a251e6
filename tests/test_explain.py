"""What the network looks at: occlusion sweeps, map helpers and the heat-map overlay, on
inputs whose answer is known by hand."""
from __future__ import annotations

import keras
import matplotlib
import numpy as np
import pytest
from keras import layers

from cnnlib import explain, plots

matplotlib.use("Agg")

# bilinear 2 -> 4 with half-pixel centres: output pixel i samples input (i + 0.5) / 2 - 0.5,
# i.e. -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1)
ONE_HOT_2_TO_4 = np.outer([1, 0.75, 0.25, 0], [1, 0.75, 0.25, 0])


def one_hot(shape, at):
    heat = np.zeros(shape)
    heat[at] = 1.0
    return heat


# --------------------------------------------------------------------------- upsample
def test_upsample_of_a_one_hot_map_is_the_known_bilinear_ramp():
    np.testing.assert_allclose(explain.upsample(one_hot((2, 2), (0, 0)), (4, 4)), ONE_HOT_2_TO_4,
                               atol=1e-6)


def test_upsample_keeps_a_constant_map_constant_at_any_size():
    out = explain.upsample(np.full((3, 5), 0.7), (12, 20))
    assert out.shape == (12, 20)
    np.testing.assert_allclose(out, 0.7, atol=1e-6)


def test_upsample_rejects_a_batch():
    with pytest.raises(ValueError, match=r"\(h, w\) map"):
        explain.upsample(np.zeros((2, 3, 3)), (6, 6))


# --------------------------------------------------------------------------- mass_inside
def test_mass_inside_counts_where_the_heat_is():
    mask = np.zeros((4, 4), bool)
    mask[:2, :2] = True
    assert explain.mass_inside(one_hot((4, 4), (1, 1)), mask) == 1.0
    assert explain.mass_inside(one_hot((4, 4), (3, 0)), mask) == 0.0
    assert explain.mass_inside(np.ones((4, 4)), mask) == pytest.approx(0.25)


def test_mass_inside_upsamples_a_coarse_map_first():
    mask = np.zeros((4, 4), bool)
    mask[:2, :2] = True
    # the upsampled one-hot map is ONE_HOT_2_TO_4: its top-left quarter holds 1+.75+.75+.5625
    expected = (1 + 0.75 + 0.75 + 0.5625) / ONE_HOT_2_TO_4.sum()
    assert explain.mass_inside(one_hot((2, 2), (0, 0)), mask) == pytest.approx(expected, abs=1e-6)


def test_mass_inside_of_an_empty_map_is_nan_and_negative_maps_are_refused():
    mask = np.ones((3, 3), bool)
    assert np.isnan(explain.mass_inside(np.zeros((3, 3)), mask))
    with pytest.raises(ValueError, match="np.maximum"):
        explain.mass_inside(-np.ones((3, 3)), mask)
    with pytest.raises(ValueError, match="boolean"):
        explain.mass_inside(np.ones((3, 3)), np.ones((3, 3)))


# --------------------------------------------------------------------------- comparing maps
def test_rank_agreement_of_a_map_with_itself_and_its_negation():
    a = np.random.default_rng(0).random((8, 8))
    assert explain.rank_agreement(a, a) == pytest.approx(1.0)
    assert explain.rank_agreement(a, -a) == pytest.approx(-1.0)
    assert np.isnan(explain.rank_agreement(a, np.ones((8, 8))))
    with pytest.raises(ValueError, match="upsample"):
        explain.rank_agreement(a, np.ones((4, 4)))


def test_top_overlap_is_one_for_the_same_map_zero_for_its_negation_and_chance_otherwise():
    rng = np.random.default_rng(1)
    a = rng.random((32, 32))
    assert explain.top_overlap(a, a, 0.1) == 1.0
    assert explain.top_overlap(a, -a, 0.1) == 0.0
    chance = [explain.top_overlap(rng.random((32, 32)), rng.random((32, 32)), 0.2) for _ in range(40)]
    assert np.mean(chance) == pytest.approx(0.2, abs=0.03)
    with pytest.raises(ValueError, match="fraction"):
        explain.top_overlap(a, a, 0)


# --------------------------------------------------------------------------- occlusion
def tiny_cnn(shape=(16, 16, 3), k=3):
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape)
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(k, activation="softmax")(x))


def corner_model(activation="sigmoid", units=1):
    """Looks only at the 4x4 top-left corner of a (16, 16, 1) image: its output is
    ``activation(sum of the corner's pixels - 8)``."""
    inputs = keras.Input((16, 16, 1))
    x = layers.Cropping2D(((0, 12), (0, 12)))(inputs)
    x = layers.Flatten()(x)
    dense = layers.Dense(units, activation=activation)
    out = dense(x)
    kernel = np.ones((16, units), "float32")
    if units == 2:
        kernel[:, 0] = 0
    dense.set_weights([kernel, np.full(units, -8.0, "float32")])
    return keras.Model(inputs, out)


def test_occlusion_positions_cover_the_last_row():
    assert explain.occlusion_positions(16, 8, 4).tolist() == [0, 4, 8]
    assert explain.occlusion_positions(16, 8, 3).tolist() == [0, 3, 6, 8]
    with pytest.raises(ValueError, match="stride"):
        explain.occlusion_positions(16, 4, 5)
    with pytest.raises(ValueError, match="patch"):
        explain.occlusion_positions(16, 17, 4)


def test_occluding_a_constant_image_with_its_own_mean_changes_nothing():
    model = tiny_cnn()
    image = np.full((16, 16, 3), 0.3, "float32")
    drops = explain.occlusion_sweep(model, image, 1, patch=8, stride=3)
    assert drops.shape == (4, 4)
    assert np.all(drops == 0.0)


def test_occlusion_drops_only_where_the_patch_covers_what_the_model_looks_at():
    model = corner_model()
    image = np.ones((16, 16, 1), "float32")
    drops = explain.occlusion_sweep(model, image, 1, patch=4, stride=2, fill=0.0, batch_size=7)
    ys = explain.occlusion_positions(16, 4, 2)
    covers = (ys[:, None] < 4) & (ys[None, :] < 4)     # patch overlaps rows 0..3 and cols 0..3
    assert drops.shape == (len(ys), len(ys))
    assert np.all(drops[covers] > 0) and np.all(drops[~covers] == 0)
    # label 0 of a sigmoid unit is 1 - p: the drops change sign
    np.testing.assert_allclose(explain.occlusion_sweep(model, image, 0, patch=4, stride=2, fill=0.0),
                               -drops, atol=1e-7)


def test_occlusion_from_logits_matches_the_probability_model():
    image = np.ones((16, 16, 1), "float32")
    kw = dict(patch=4, stride=2, fill=(0.0,))
    for units, act in ((1, "sigmoid"), (2, "softmax")):
        probs = explain.occlusion_sweep(corner_model(act, units), image, 1, **kw)
        logits = explain.occlusion_sweep(corner_model(None, units), image, 1, from_logits=True, **kw)
        np.testing.assert_allclose(logits, probs, atol=1e-6)
        assert probs.max() > 0.1


def test_occlusion_sweep_validates_its_inputs():
    model = tiny_cnn()
    image = np.zeros((16, 16, 3), "float32")
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        explain.occlusion_sweep(model, image[None], 0)
    with pytest.raises(ValueError, match="0..2"):
        explain.occlusion_sweep(model, image, 3)
    with pytest.raises(ValueError, match="per channel"):
        explain.occlusion_sweep(model, image, 0, fill=(1, 2))
    with pytest.raises(ValueError, match="labels 0 and 1"):
        explain.occlusion_sweep(corner_model(), np.zeros((16, 16, 1), "float32"), 2)


def test_occlusion_map_spreads_each_drop_over_the_pixels_it_covered():
    ys = explain.occlusion_positions(16, 4, 2)
    np.testing.assert_allclose(explain.occlusion_map(np.ones((len(ys), len(ys))), (16, 16, 3), 4, 2), 1.0)
    drops = one_hot((len(ys), len(ys)), (0, 0))
    heat = explain.occlusion_map(drops, (16, 16), 4, 2)
    assert heat.shape == (16, 16)
    assert heat[0, 0] == 1.0                 # covered by the (0, 0) patch only
    assert heat[2, 2] == 0.25                # covered by the patches at (0|2, 0|2)
    assert heat[4:, :].sum() == 0 and heat[:, 4:].sum() == 0
    with pytest.raises(ValueError, match="same image_shape"):
        explain.occlusion_map(drops, (16, 16), 4, 4)


def test_occlusion_of_the_corner_model_puts_all_the_mass_in_the_corner():
    image = np.ones((16, 16, 1), "float32")
    drops = explain.occlusion_sweep(corner_model(), image, 1, patch=4, stride=2, fill=0.0)
    heat = explain.occlusion_map(drops, image.shape, 4, 2)
    mask = np.zeros((16, 16), bool)
    mask[:6, :6] = True                      # the corner plus the patches that reach into it
    assert explain.mass_inside(heat, mask) == 1.0


# --------------------------------------------------------------------------- overlay
def test_overlay_heatmap_draws_the_upsampled_normalised_map_over_the_image():
    import matplotlib.pyplot as plt
    image = np.full((4, 4, 3), 255.0)
    ax = plots.overlay_heatmap(image, 3.0 * one_hot((2, 2), (0, 0)), title="Grad-CAM")
    shown, heat = ax.get_images()
    np.testing.assert_allclose(shown.get_array(), np.ones((4, 4, 3)))    # 0..255 floats -> 0..1
    np.testing.assert_allclose(heat.get_array(), ONE_HOT_2_TO_4, atol=1e-6)
    assert heat.get_alpha() == 0.45 and heat.get_clim() == (0, 1)
    assert ax.get_title() == "Grad-CAM"
    plt.close("all")


def test_overlay_heatmap_draws_into_a_given_axes_and_keeps_grey_and_uint8_images():
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2)
    image = np.arange(16, dtype=np.uint8).reshape(4, 4)
    ax = plots.overlay_heatmap(image[..., None], one_hot((4, 4), (3, 3)), ax=axes[1], alpha=0.3)
    assert ax is axes[1]
    shown, heat = ax.get_images()
    np.testing.assert_array_equal(shown.get_array(), image)
    np.testing.assert_array_equal(heat.get_array(), one_hot((4, 4), (3, 3)))
    assert not axes[0].get_images()
    plt.close("all")


def test_overlay_heatmap_refuses_negative_maps_and_batches():
    with pytest.raises(ValueError, match="non-negative"):
        plots.overlay_heatmap(np.zeros((4, 4, 3)), -np.ones((2, 2)))
    with pytest.raises(ValueError, match="one"):
        plots.overlay_heatmap(np.zeros((2, 4, 4, 3)), np.ones((2, 2)))
