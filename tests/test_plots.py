"""Plots: each helper returns a Figure whose axes are titled or labelled."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cnnlib import plots  # noqa: E402

NAMES = ["cat", "dog", "car"]
RNG = np.random.default_rng(0)
X = RNG.integers(0, 256, (12, 8, 8, 3), dtype=np.uint8)
Y = np.arange(12) % 3


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible() and ax.axison and ax.get_label() != "<colorbar>"]


def _assert_xy_labelled(fig):
    axes = [ax for ax in _visible_axes(fig) if ax.get_xlabel() or ax.get_ylabel()]
    assert axes, "no axis carries an x or y label"
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel(), f"axes {ax.get_title()!r} lack a label"


def test_image_grid_titles():
    fig = plots.image_grid(X[:5], titles=list("abcde"), ncols=3)
    assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == list("abcde")


def test_image_grid_greyscale_floats():
    fig = plots.image_grid(RNG.standard_normal((4, 6, 6, 1)))
    assert len([ax for ax in fig.axes if ax.images]) == 4


def test_class_grid_rows_labelled_by_class():
    fig = plots.class_grid(X, Y, NAMES, per_class=3)
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels == NAMES
    assert fig._suptitle is not None


def test_class_counts_bars_and_labels():
    fig = plots.class_counts(Y, NAMES)
    _assert_xy_labelled(fig)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [4, 4, 4]


def test_learning_curves_single_and_compare():
    h = pd.DataFrame({"epoch": [1, 2, 3], "loss": [1.0, 0.5, 0.3], "accuracy": [0.5, 0.7, 0.8],
                      "val_loss": [1.1, 0.7, 0.6], "val_accuracy": [0.4, 0.6, 0.7]})
    fig = plots.learning_curves(h)
    _assert_xy_labelled(fig)
    assert [ax.get_ylabel() for ax in fig.axes] == ["accuracy", "loss"]
    assert len(fig.axes[0].lines) == 2
    fig2 = plots.learning_curves({"classic": h, "improved": h.drop(columns=["val_loss", "val_accuracy"])})
    assert len(fig2.axes[0].lines) == 3
    with pytest.raises(KeyError, match="auc"):
        plots.learning_curves(h, metric="auc")


def test_confusion_matrix_annotated():
    cm = np.array([[3, 1, 0], [0, 2, 2], [1, 0, 4]])
    fig = plots.confusion_matrix(cm, NAMES)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert [t.get_text() for t in ax.texts][:3] == ["3", "1", "0"]
    fig = plots.confusion_matrix(cm, NAMES, normalize=True)
    assert fig.axes[0].texts[0].get_text() == "0.75"
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        plots.confusion_matrix(np.ones((2, 2)), NAMES)


def test_misclassified_gallery():
    y_pred = Y.copy()
    y_pred[[1, 4]] = 0
    fig = plots.misclassified(X, Y, y_pred, NAMES, n=8)
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == ["dog→cat", "dog→cat"]
    fig = plots.misclassified(X, Y, Y, NAMES)
    assert fig.axes[0].get_title()


def test_probability_bars():
    fig = plots.probability_bars(np.array([0.1, 0.7, 0.2]), NAMES, true_label=0)
    _assert_xy_labelled(fig)
    assert "dog" in fig.axes[0].get_title() and "cat" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="one probability per class"):
        plots.probability_bars([0.5, 0.5], NAMES)


def test_filters_from_kernel():
    kernel = RNG.standard_normal((3, 3, 3, 10))
    fig = plots.filters(kernel, n=6)
    assert len([ax for ax in fig.axes if ax.images]) == 6
    assert fig._suptitle.get_text()
    with pytest.raises(ValueError, match="kernel"):
        plots.filters(RNG.standard_normal((3, 3, 10)))


def test_feature_maps_from_arrays_and_model():
    fig = plots.feature_maps(RNG.random((1, 6, 6, 5)))
    assert len([ax for ax in fig.axes if ax.images]) == 5
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="c1"),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    fig = plots.feature_maps(model, X[0].astype("float32") / 255)
    assert len([ax for ax in fig.axes if ax.images]) == 4
    assert "c1" in fig._suptitle.get_text()
