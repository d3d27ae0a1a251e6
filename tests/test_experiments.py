"""The variant runner (cnnlib.experiments) on tiny generated data: seconds, no datasets."""
from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlib import evaluation, experiments
from cnnlib.experiments import Variant

K = 3  # classes


def tiny_split(n, seed):
    """Images (n, 8, 8, 3) in [0, 1] whose class is their brightest channel: learnable."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % K).astype(np.int64)
    x = rng.uniform(0, 0.5, size=(n, 8, 8, 3)).astype("float32")
    x[np.arange(n), :, :, y] += 0.5
    return x, y


TRAIN, VAL, TEST = tiny_split(48, 0), tiny_split(24, 1), tiny_split(24, 2)


def tiny_model(width=4, metrics=("accuracy",)):
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(width, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(K, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
                  metrics=list(metrics))
    return model


class StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


@pytest.fixture(scope="module")
def results():
    variants = [Variant("a", tiny_model), Variant("a again", tiny_model),
                Variant("wider", lambda: tiny_model(8), epochs=2, note="8 filters")]
    return experiments.run_variants(variants, TRAIN, VAL, TEST, epochs=3, batch_size=16,
                                    seed=0, class_names=["r", "g", "b"], verbose=False)


# --------------------------------------------------------------------------- reproducibility
def test_seed_is_reset_before_each_variant(results):
    # the same build in two rows must train identically: each starts from the same seed
    np.testing.assert_allclose(results.histories["a"].to_numpy(),
                               results.histories["a again"].to_numpy(), rtol=1e-6)


def test_same_seed_same_results_across_runs(results):
    again = experiments.run_variants([Variant("a", tiny_model)], TRAIN, VAL, TEST, epochs=3,
                                     batch_size=16, seed=0, verbose=False)
    np.testing.assert_allclose(again.histories["a"].to_numpy(),
                               results.histories["a"].to_numpy(), rtol=1e-6)
    assert again.test["a"].accuracy == results.test["a"].accuracy


# --------------------------------------------------------------------------- the table
def test_table_columns_and_rows(results):
    table = results.table()
    assert list(table.columns) == list(experiments.TABLE_COLUMNS)
    assert list(table.index) == ["a", "a again", "wider"] == results.names
    assert table.index.name == "variant"
    assert list(results.table(notes=True)["note"]) == ["", "", "8 filters"]


def test_table_agrees_with_histories_and_models(results):
    table = results.table()
    for name in results.names:
        h, row = results.histories[name], table.loc[name]
        assert row.epochs_run == len(h)
        assert row.best_val_accuracy == pytest.approx(h["val_accuracy"].max())
        assert h.loc[h["epoch"] == row.best_epoch, "val_accuracy"].item() == pytest.approx(h["val_accuracy"].max())
        assert (h.loc[h["epoch"] < row.best_epoch, "val_accuracy"] < row.best_val_accuracy).all()
        assert row.final_train_accuracy == pytest.approx(h["accuracy"].iloc[-1])
        assert row.final_val_accuracy == pytest.approx(h["val_accuracy"].iloc[-1])
        assert row.final_gap == pytest.approx(h["accuracy"].iloc[-1] - h["val_accuracy"].iloc[-1])
        model = results.models[name]
        assert row.params == model.count_params()
        assert row.n_train == len(TRAIN[0])
        assert row.fit_seconds == results.fits[name].seconds > 0
        ev = evaluation.evaluate(model, *TEST)
        assert row.test_accuracy == pytest.approx(ev.accuracy)
        assert row.train_accuracy == pytest.approx(evaluation.evaluate(model, *TRAIN).accuracy)
        assert row.val_accuracy == pytest.approx(evaluation.evaluate(model, *VAL).accuracy)
        # no early stopping: the kept model is the last epoch's, whose validation pass Keras logged
        assert row.val_accuracy == pytest.approx(row.final_val_accuracy, abs=1e-6)
        assert 0 <= row.test_accuracy <= 1
    assert results.test["a"].class_names == ("r", "g", "b")
    row = results["wider"]
    assert row.params == table.loc["wider", "params"] and isinstance(row.best_epoch, int)
    with pytest.raises(KeyError, match="No variant 'nope'"):
        results["nope"]


def test_val_accuracy_is_the_kept_models():
    # with restored best weights the kept model is the best epoch's, not the last one's
    def stop():
        return [keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=2,
                                              restore_best_weights=True)]

    res = experiments.run_variants([Variant("es", lambda: tiny_model(metrics=("accuracy",)),
                                            callbacks=stop)], TRAIN, VAL, epochs=6,
                                   batch_size=16, seed=3, verbose=False)
    row, h = res["es"], res.histories["es"]
    assert row.val_accuracy == pytest.approx(h["val_accuracy"].max(), abs=1e-6)
    assert row.val_accuracy == pytest.approx(evaluation.evaluate(res.models["es"], *VAL).accuracy)


def test_per_variant_epochs_override(results):
    assert results.table()["epochs_run"].tolist() == [3, 3, 2]


def test_callback_factory_runs_fresh_callbacks_and_no_test_split_gives_nan(capsys):
    made = []

    def callbacks():
        made.append(StopAfterFirstEpoch())
        return [made[-1]]

    res = experiments.run_variants([Variant("stop", tiny_model, callbacks=callbacks),
                                    Variant("stop too", tiny_model, callbacks=callbacks)],
                                   TRAIN, VAL, epochs=5, batch_size=16, seed=1)
    lines = capsys.readouterr().out.strip().splitlines()  # verbose: one line per variant
    assert [ln.split("  ")[0].strip() for ln in lines] == ["stop", "stop too"]
    assert all("best val" in ln and "test" not in ln for ln in lines)
    assert len(made) == 2 and made[0] is not made[1]
    assert res.table()["epochs_run"].tolist() == [1, 1]
    assert res.test == {"stop": None, "stop too": None}
    assert res.table()["test_accuracy"].isna().all()


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("variants, error, match", [
    ([], ValueError, "no variants"),
    ([Variant("x", tiny_model), Variant("x", tiny_model)], ValueError, r"unique.*\['x'\]"),
    (Variant("x", tiny_model), TypeError, "list of Variants"),
    (["x"], TypeError, "experiments.Variant"),
])
def test_bad_variant_lists(variants, error, match):
    with pytest.raises(error, match=match):
        experiments.run_variants(variants, TRAIN, VAL, epochs=1)


@pytest.mark.parametrize("kwargs, match", [
    (dict(name=""), "non-empty string"),
    (dict(build="model"), "zero-argument callable"),
    (dict(epochs=0), "epochs must be a positive integer"),
    (dict(batch_size=2.5), "batch_size must be a positive integer"),
])
def test_bad_variants(kwargs, match):
    args = dict(name="v", build=tiny_model) | kwargs
    with pytest.raises((ValueError, TypeError), match=match):
        Variant(**args)


@pytest.mark.parametrize("train, val, match", [
    ((TRAIN[0], TRAIN[1][:-1]), VAL, "48 images but 47 labels"),
    ((TRAIN[0][:0], TRAIN[1][:0]), VAL, "train split is empty"),
    (TRAIN, None, "validation split is required"),
    (TRAIN[0], VAL, "pair"),
    ((TRAIN[0][:, :, :, :, None], TRAIN[1]), VAL, r"\(n, H, W\)"),
])
def test_bad_splits(train, val, match):
    with pytest.raises(ValueError, match=match):
        experiments.run_variants([Variant("v", tiny_model)], train, val, epochs=1)


def test_bad_epochs_and_bad_builds():
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        experiments.run_variants([Variant("v", tiny_model)], TRAIN, VAL, epochs=0)
    with pytest.raises(TypeError, match="not a keras.Model"):
        experiments.run_variants([Variant("v", lambda: "model")], TRAIN, VAL, epochs=1)
    with pytest.raises(ValueError, match="metrics=\\['accuracy'\\]"):
        experiments.run_variants([Variant("v", lambda: tiny_model(metrics=()))], TRAIN, VAL,
                                 epochs=1, verbose=False)


# --------------------------------------------------------------------------- subsets and sizes
@settings(max_examples=25, deadline=None)
@given(counts=st.lists(st.integers(1, 40), min_size=2, max_size=5), seed=st.integers(0, 99),
       data=st.data())
def test_stratified_subsets_are_nested_and_balanced(counts, seed, data):
    y = np.repeat(np.arange(len(counts)), counts)
    np.random.default_rng(seed).shuffle(y)
    m = data.draw(st.integers(1, len(y)))
    n = data.draw(st.integers(1, m))
    small = experiments.stratified_subset(y, n, seed=seed)
    large = experiments.stratified_subset(y, m, seed=seed)
    assert len(small) == n and len(np.unique(small)) == n and np.all(np.diff(small) > 0)
    assert set(small) <= set(large)
    got = np.bincount(y[small], minlength=len(counts))
    expected = n * np.asarray(counts) / len(y)
    assert np.all(np.abs(got - expected) <= 1.0 + 1e-9)


def test_stratified_subset_errors():
    with pytest.raises(ValueError, match="only 5"):
        experiments.stratified_subset(np.arange(5) % 2, 6)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        experiments.stratified_subset(np.arange(5) % 2, 0)


def test_learning_curve_vs_size():
    res = experiments.learning_curve_vs_size(Variant("tiny", tiny_model), TRAIN, VAL, TEST,
                                             sizes=[24, 12], epochs=1, batch_size=16,
                                             verbose=False)
    table = res.table()
    assert list(table.index) == ["tiny n=12", "tiny n=24"]
    assert table["n_train"].tolist() == [12, 24]
    assert table["test_accuracy"].between(0, 1).all()


@pytest.mark.parametrize("sizes, match", [
    ([], "sizes is empty"),
    ([10, 10], "distinct"),
    ([10, 100], r"sizes \[100\] exceed the 48"),
    ([0], "positive integer"),
])
def test_learning_curve_errors(sizes, match):
    with pytest.raises(ValueError, match=match):
        experiments.learning_curve_vs_size(Variant("tiny", tiny_model), TRAIN, VAL,
                                           sizes=sizes, epochs=1)
    with pytest.raises(TypeError, match="must be an experiments.Variant"):
        experiments.learning_curve_vs_size(tiny_model, TRAIN, VAL, sizes=[10], epochs=1)


def test_combine(results):
    other = experiments.run_variants([Variant("b", tiny_model, epochs=1)], TRAIN, VAL, TEST,
                                     epochs=1, batch_size=16, seed=0, verbose=False)
    both = experiments.combine(results, other)
    assert both.names == ["a", "a again", "wider", "b"]
    assert both.table().loc["b"].equals(other.table().loc["b"])
    assert both.table().loc["wider"].equals(results.table().loc["wider"])
    with pytest.raises(ValueError, match=r"repeat across the runs: \['b'\]"):
        experiments.combine(both, other)
    with pytest.raises(ValueError, match="different seeds"):
        experiments.combine(results, experiments.Results(seed=3))
    with pytest.raises(ValueError, match="nothing to combine"):
        experiments.combine()
    with pytest.raises(TypeError, match="Results from run_variants"):
        experiments.combine(results, {})


def test_learning_curve_grid_draws_every_variant_on_shared_axes(results):
    import matplotlib.pyplot as plt

    from cnnlib import plots
    fig = plots.learning_curve_grid(results.histories, ncols=2)
    shown = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title() for ax in shown] == results.names
    assert len({ax.get_ylim() for ax in shown}) == 1 and len({ax.get_xlim() for ax in shown}) == 1
    assert len(fig.axes) == 4 and not fig.axes[3].axison  # 3 panels on a 2x2 grid
    plt.close(fig)
    with pytest.raises(ValueError, match="non-empty dict"):
        plots.learning_curve_grid({})
    with pytest.raises(KeyError, match="val_accuracy"):
        plots.learning_curve_grid({"x": results.histories["a"].drop(columns="val_accuracy")})
