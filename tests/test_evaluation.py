"""Evaluation helpers on hand-worked inputs."""
import numpy as np
import pytest

from cnnlib import evaluation


def test_confusion_matrix_known_input():
    y_true = [0, 0, 1, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 1, 2, 0, 2]
    ev = evaluation.classification_summary(y_true, y_pred, ["a", "b", "c"])
    np.testing.assert_array_equal(ev.confusion, [[1, 1, 0],
                                                 [0, 2, 0],
                                                 [1, 0, 2]])
    assert ev.accuracy == pytest.approx(5 / 7)
    assert list(ev.per_class.index) == ["a", "b", "c"]
    assert list(ev.per_class.columns) == ["precision", "recall", "f1", "support"]
    np.testing.assert_allclose(ev.per_class["recall"], [1 / 2, 1.0, 2 / 3])
    np.testing.assert_allclose(ev.per_class["precision"], [1 / 2, 2 / 3, 1.0])
    np.testing.assert_array_equal(ev.per_class["support"], [2, 2, 3])
    np.testing.assert_array_equal(ev.errors, [1, 5])


def test_one_hot_and_column_labels_are_accepted():
    y_true = np.array([[0], [1], [1]])
    y_pred = np.eye(2)[[0, 0, 1]]
    ev = evaluation.classification_summary(y_true, y_pred, ["x", "y"])
    np.testing.assert_array_equal(ev.confusion, [[1, 0], [1, 1]])


def test_class_never_predicted_gets_zero_precision_without_warning(recwarn):
    ev = evaluation.classification_summary([0, 1, 2], [0, 0, 0], ["a", "b", "c"])
    np.testing.assert_array_equal(ev.confusion.sum(axis=0), [3, 0, 0])
    assert ev.per_class.loc["b", "precision"] == 0
    assert not [w for w in recwarn if "precision" in str(w.message).lower()]


def test_most_confused():
    ev = evaluation.classification_summary([0, 0, 0, 1, 1, 2], [1, 1, 0, 0, 1, 2], ["cat", "dog", "car"])
    top = ev.most_confused(2)
    assert top.iloc[0].tolist() == ["cat", "dog", 2]
    assert top.iloc[1].tolist() == ["dog", "cat", 1]


@pytest.mark.parametrize("y_true, y_pred, names, match", [
    ([0, 1], [0], ["a", "b"], "same samples"),
    ([0, 3], [0, 1], ["a", "b"], "class names"),
    ([], [], ["a", "b"], "no samples"),
    ([0, 1], [0, 1], ["a"], "at least 2"),
])
def test_bad_inputs_are_explained(y_true, y_pred, names, match):
    with pytest.raises(ValueError, match=match):
        evaluation.classification_summary(y_true, y_pred, names)


class _Fixed:
    """A stand-in model returning fixed outputs."""
    def __init__(self, out):
        self.out = np.asarray(out, dtype="float32")

    def predict(self, x, batch_size=None, verbose=0):
        return self.out[: len(x)]

    def __call__(self, x, training=False):
        return self.out[: len(x)]


def test_evaluate_softmax_outputs():
    model = _Fixed([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    ev = evaluation.evaluate(model, np.zeros((3, 2, 2, 1)), [0, 1, 1], class_names=["n", "p"])
    np.testing.assert_array_equal(ev.y_pred, [0, 1, 0])
    np.testing.assert_array_equal(ev.confusion, [[1, 0], [1, 1]])
    assert ev.probs.shape == (3, 2)


def test_evaluate_sigmoid_outputs():
    model = _Fixed([[0.1], [0.7], [0.4], [0.9]])
    ev = evaluation.evaluate(model, np.zeros((4, 2, 2, 1)), [0, 1, 1, 0], class_names=["cat", "dog"])
    np.testing.assert_array_equal(ev.y_pred, [0, 1, 0, 1])
    np.testing.assert_allclose(ev.probs[:, 1], [0.1, 0.7, 0.4, 0.9], rtol=1e-6)
    np.testing.assert_array_equal(ev.confusion, [[1, 1], [1, 1]])


def test_evaluate_dataset_of_batches():
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(0).random((10, 4, 4, 1), dtype=np.float32)
    y = np.arange(10) % 2
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(10, seed=1).batch(3)
    ev_ds = evaluation.evaluate(model, ds, class_names=["a", "b"])
    ev_arr = evaluation.evaluate(model, x, y, class_names=["a", "b"])
    np.testing.assert_array_equal(ev_ds.confusion, ev_arr.confusion)


def test_evaluate_class_name_count_must_match():
    with pytest.raises(ValueError, match="class names"):
        evaluation.evaluate(_Fixed([[0.5, 0.5]]), np.zeros((1, 2, 2, 1)), [0], class_names=["a", "b", "c"])


def test_flip_shift_probabilities_averages_the_six_views():
    class TopLeft:    # a "model" whose class-0 probability is the top-left pixel: shows which views it saw
        def predict(self, v, batch_size=None, verbose=0):
            return np.stack([v[:, 0, 0, 0], 1 - v[:, 0, 0, 0]], axis=1)
    x = np.zeros((1, 4, 4, 1), np.float32)
    x[0, 0, 0, 0], x[0, 0, 3, 0], x[0, 1, 1, 0], x[0, 1, 2, 0] = 1.0, 0.5, 0.25, 0.125
    p = evaluation.flip_shift_probabilities(TopLeft(), x)
    assert p["plain"][0, 0] == 1.0
    assert p["flip"][0, 0] == (1.0 + 0.5) / 2                  # the mirror's top-left is pixel (0, 3)
    # reflect-padded by 1: both shifted views start at pixel (1, 1), their mirrors at pixel (1, 2)
    assert p["tta6"][0, 0] == pytest.approx(0.75 / 2 + 2 * ((0.25 + 0.125) / 2) / 4)
    assert np.allclose(p["tta6"].sum(axis=1), 1)


def _window_model(head):
    import keras
    from cnnlib import models
    inputs = keras.Input((40, 50, 3))
    x = models.StainCrop(box=20, size=16)(inputs)
    return keras.Model(inputs, head(x))


def _stained_images(n=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 60, (n, 40, 50, 3)).astype("float32")
    for i in range(n):                                   # a purple blob somewhere off-centre
        r, c = rng.integers(8, 30), rng.integers(8, 40)
        x[i, r - 4:r + 4, c - 5:c + 5] = (120, 20, 200)
        x[i, r - 4:r, c - 5:c] += 30                     # not symmetric: turns and mirrors differ
    return x


def test_window_tta_averages_the_eight_turns_and_mirrors_of_the_window():
    import keras
    import tensorflow as tf
    keras.utils.set_random_seed(0)
    model = _window_model(lambda x: keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(x)))
    x = _stained_images()
    p = evaluation.window_tta_probabilities(model, x)
    np.testing.assert_allclose(p["plain"], model.predict(x, verbose=0), atol=1e-6)
    flips = [x, x[:, :, ::-1], x[:, ::-1], x[:, ::-1, ::-1]]
    np.testing.assert_allclose(p["flip4"], np.mean([model.predict(np.ascontiguousarray(v), verbose=0)
                                                    for v in flips], axis=0), atol=1e-6)
    crop = model.layers[1]
    head = keras.Model(crop.output, model.output)
    w = np.asarray(crop(tf.constant(x)))
    views = [np.rot90(v, k, axes=(1, 2)) for v in (w, w[:, :, ::-1]) for k in range(4)]
    want = np.mean([head.predict(np.ascontiguousarray(v), verbose=0) for v in views], axis=0)
    np.testing.assert_allclose(p["dihedral8"], want, atol=1e-6)
    assert np.abs(p["dihedral8"] - p["plain"]).max() > 1e-3             # the views really differ
    np.testing.assert_allclose(p["dihedral8"].sum(axis=1), 1.0, atol=1e-5)


def test_window_tta_changes_nothing_for_a_turn_invariant_model():
    import keras
    keras.utils.set_random_seed(0)
    model = _window_model(lambda x: keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x)))
    p = evaluation.window_tta_probabilities(model, _stained_images())
    np.testing.assert_allclose(p["dihedral8"], p["plain"], atol=1e-5)
    np.testing.assert_allclose(p["flip4"], p["plain"], atol=1e-5)


def test_window_tta_needs_a_square_stain_crop():
    import keras
    from cnnlib import models
    plain = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(ValueError, match="needs a model whose first layer is a models.StainCrop"):
        evaluation.window_tta_probabilities(plain, np.zeros((1, 8, 8, 3)))
    inputs = keras.Input((40, 50, 3))
    x = models.StainCrop(box=(20, 30), size=(16, 24))(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x)))
    with pytest.raises(ValueError, match="need a square window"):
        evaluation.window_tta_probabilities(model, np.zeros((1, 40, 50, 3)))
