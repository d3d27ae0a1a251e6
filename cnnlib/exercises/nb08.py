"""Checkers for notebook 08 (overfitting and its remedies)."""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import Wrong, exercise


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise Wrong(f"{what} should be a number, got {type(value).__name__} {value!r}.")
    value = float(value)
    if not math.isfinite(value):
        raise Wrong(f"{what} should be a finite number, got {value}.")
    return value


def _close(a: float, b: float, tol: float = 1e-6) -> bool:
    return abs(a - b) <= tol


# --------------------------------------------------------------------------- 08.1
def _dropout_rates(model) -> list[float]:
    """The rates of every Dropout layer in ``model`` (nested models included)."""
    import keras
    rates = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dropout):
            rates.append(float(layer.rate))
        elif hasattr(layer, "layers"):
            rates += _dropout_rates(layer)
    return rates


def _without_dropout(model) -> list[tuple]:
    import keras
    return [(type(layer).__name__, int(layer.count_params())) for layer in model.layers
            if not isinstance(layer, keras.layers.Dropout)]


@exercise("08.1", "Measure a dropout rate yourself", stars=3,
          mistake="comparing models that differ in more than the one change, or computing the "
                  "gap change backwards (baseline minus remedy) or in points instead of accuracy")
def measure_dropout(answer, *, rate, train, val, epochs):
    from cnnlib import experiments
    if not callable(answer):
        raise Wrong(f"the answer should be your function dropout_experiment (the function itself, "
                    f"not its result), got {type(answer).__name__}.")
    out = answer(rate=rate, train=train, val=val, epochs=epochs)
    if not isinstance(out, tuple) or len(out) != 2:
        raise Wrong(f"expected dropout_experiment to return a pair (results, gap_change), got "
                    f"{type(out).__name__}: end it with `return results, gap_change`.")
    res, gap_change = out
    if not isinstance(res, experiments.Results):
        raise Wrong(f"expected the first item to be what experiments.run_variants returns (a "
                    f"Results), got {type(res).__name__}: return the whole result, not its table "
                    f"or one row.")
    if len(res.names) != 2:
        raise Wrong(f"expected 2 variants (the baseline and the dropout model), got "
                    f"{len(res.names)}: {res.names}.")
    rates = {n: _dropout_rates(res.models[n]) for n in res.names}
    plain = [n for n in res.names if not rates[n]]
    dropped = [n for n in res.names if rates[n]]
    if not dropped:
        raise Wrong(f"neither model has a Dropout layer: build the second variant with "
                    f"make_cnn(dropout=rate).")
    if not plain:
        raise Wrong(f"both models have Dropout layers ({rates}): the first variant is the baseline, "
                    f"make_cnn() with no dropout, so the comparison shows what dropout does.")
    b, d = plain[0], dropped[0]
    if len(rates[d]) != 1 or not _close(rates[d][0], rate):
        raise Wrong(f"expected one Dropout layer with rate {rate}, got rate(s) {rates[d]} in "
                    f"{d!r}: use the rate the function receives (make_cnn(dropout=rate)), not a "
                    f"fixed number.")
    if _without_dropout(res.models[b]) != _without_dropout(res.models[d]):
        raise Wrong(f"{b!r} and {d!r} differ in more than the dropout layer (their other layers "
                    f"or parameter counts differ): change one thing at a time, or the comparison "
                    f"cannot say what dropout did.")
    for n in (b, d):
        if res.n_train[n] != len(train[0]):
            raise Wrong(f"expected {n!r} to train on the {len(train[0]):,} images passed as "
                        f"`train`, got {res.n_train[n]:,}: pass `train` to run_variants as it is.")
        ran = len(res.histories[n])
        if ran != epochs:
            raise Wrong(f"expected {n!r} to train for {epochs} epochs (the `epochs` argument), got "
                        f"{ran}: give both variants the same budget, and no early stopping here.")
    h_b, h_d = res.histories[b], res.histories[d]
    # a real run on the given validation images: the kept model, re-measured, gives the
    # last epoch's logged validation accuracy
    # last epoch's logged validation loss and accuracy
    measured = res.models[d].evaluate(val[0], val[1], batch_size=256, verbose=0, return_dict=True)
    logged = {k: float(h_d[f"val_{k}"].iloc[-1]) for k in ("loss", "accuracy")}
    if not (abs(measured["accuracy"] - logged["accuracy"]) <= 0.5 / len(val[0])
            and math.isclose(measured["loss"], logged["loss"], rel_tol=1e-3)):
        raise Wrong(f"on the validation images passed as `val` the dropout model scores loss "
                    f"{measured['loss']:.4f}, accuracy {measured['accuracy']:.3f}, but its history "
                    f"logged {logged['loss']:.4f}, {logged['accuracy']:.3f} in the last epoch: pass "
                    f"`val` (as it is) as run_variants' validation split.")
    gap_b = float(h_b["accuracy"].iloc[-1] - h_b["val_accuracy"].iloc[-1])
    gap_d = float(h_d["accuracy"].iloc[-1] - h_d["val_accuracy"].iloc[-1])
    expected = gap_d - gap_b
    got = _number(gap_change, "gap_change")
    if not _close(got, expected):
        if _close(got, -expected):
            raise Wrong(f"expected gap_change {expected:+.4f}, got {got:+.4f}: that is the baseline's "
                        f"gap minus dropout's. Take dropout's final_gap minus the baseline's, so a "
                        f"negative number means dropout shrank the gap.")
        if _close(got, 100 * expected, 1e-4):
            raise Wrong(f"expected gap_change {expected:+.4f}, got {got:+.4f}: that is in percentage "
                        f"points; give it as a difference of accuracies (fractions), like final_gap.")
        remeasured = (res.train_accuracy[d] - h_d["val_accuracy"].iloc[-1]) - \
                     (res.train_accuracy[b] - h_b["val_accuracy"].iloc[-1])
        if _close(got, float(remeasured)):
            raise Wrong(f"expected gap_change {expected:+.4f}, got {got:+.4f}: you used train_accuracy "
                        f"(re-measured without dropout); the gap in the table is final_gap, from "
                        f"the last epoch's logged accuracies.")
        raise Wrong(f"expected gap_change {expected:+.4f} (dropout's final_gap {gap_d:+.4f} minus "
                    f"the baseline's {gap_b:+.4f}), got {got:+.4f}: read both from results[name]"
                    f".final_gap.")
    vb, vd = res.val_accuracy[b], res.val_accuracy[d]
    return (f"Dropout {rate} changed the final train–validation gap by {100 * expected:+.1f} points "
            f"({100 * gap_b:+.1f} → {100 * gap_d:+.1f}); validation accuracy of the kept model "
            f"{vd:.1%} against the baseline's {vb:.1%}, on {len(train[0]):,} images and {epochs} "
            f"epoch{'s' if epochs != 1 else ''}.")


# --------------------------------------------------------------------------- 08.2
def early_stopping_epochs(val_loss, patience: int) -> tuple[int, int]:
    """Where ``keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
    restore_best_weights=True)`` stops on this sequence of per-epoch validation losses, and
    which epoch's weights it keeps: ``(stop_epoch, kept_epoch)``, counted from 1. Keras 3's
    rule: an epoch improves if its loss is strictly below the best so far; training stops at
    the end of the ``patience``-th epoch in a row without improvement; the best weights are
    restored at the end whether or not it stopped early."""
    best, best_i, wait = math.inf, 0, 0
    for i, v in enumerate(val_loss):
        wait += 1
        if v < best:
            best, best_i, wait = v, i, 0
            continue
        if wait >= patience and i > 0:
            return i + 1, best_i + 1
    return len(val_loss), best_i + 1


def _epoch(value, what: str) -> int:
    v = _number(value, what)
    if not v.is_integer():
        raise Wrong(f"{what} should be a whole epoch number, got {value!r}.")
    return int(v)


@exercise("08.2", "Where does early stopping stop?", stars=2,
          mistake="keeping the last epoch's weights, forgetting the patience, or counting epochs "
                  "from 0 (pandas row positions)")
def early_stopping(answer, *, history, patience):
    if "val_loss" not in history or "epoch" not in history:
        raise ValueError("context `history` must be a training history with epoch and val_loss.")
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise Wrong(f"expected a pair (stop_epoch, kept_epoch), got {answer!r}.")
    stop, kept = (_epoch(a, name) for a, name in zip(answer, ("stop_epoch", "kept_epoch")))
    n = len(history)
    exp_stop, exp_kept = early_stopping_epochs(history["val_loss"].to_numpy(), patience)
    if (stop, kept) == (exp_stop, exp_kept):
        how = (f"it stops after epoch {exp_stop}, {patience} epochs without a lower validation loss"
               if exp_stop < n else f"patience never runs out in these {n} epochs")
        return f"The lowest validation loss came in epoch {exp_kept}; {how}, and the model keeps epoch {exp_kept}'s weights."
    if (stop, kept) == (exp_stop - 1, exp_kept - 1):
        raise Wrong(f"expected ({exp_stop}, {exp_kept}), got ({stop}, {kept}): both are one too low. "
                    f"Count epochs from 1, like the history's epoch column; idxmin and argmin give "
                    f"row positions, which start at 0.")
    if kept != exp_kept:
        low_epoch = int(history.loc[history["val_loss"].idxmin(), "epoch"])
        if kept == low_epoch and exp_stop < low_epoch:
            raise Wrong(f"expected ({exp_stop}, {exp_kept}), got ({stop}, {kept}): epoch {kept} has the "
                        f"lowest val_loss of the whole history, but the callback never gets there. "
                        f"After epoch {exp_kept} the loss did not improve for {patience} epochs, so "
                        f"training stops in epoch {exp_stop}; it can only keep an epoch it has seen.")
        acc_epoch = int(history.loc[history["val_accuracy"].idxmax(), "epoch"]) \
            if "val_accuracy" in history else None
        if kept == acc_epoch:
            raise Wrong(f"expected kept_epoch {exp_kept}, got {kept}: epoch {kept} is where validation "
                        f"*accuracy* peaked, but this EarlyStopping monitors val_loss, which was lowest "
                        f"in epoch {exp_kept}.")
        if kept == stop:
            raise Wrong(f"expected kept_epoch {exp_kept}, got {kept}: with restore_best_weights=True "
                        f"the model does not keep the weights of the epoch it stopped in; it rolls "
                        f"back to the epoch with the lowest val_loss.")
        raise Wrong(f"expected kept_epoch {exp_kept} (the epoch with the lowest val_loss among those it ran), got {kept}.")
    if stop == kept and exp_stop != exp_kept:
        raise Wrong(f"expected stop_epoch {exp_stop}, got {stop}: EarlyStopping cannot know epoch "
                    f"{kept} was the best until it has waited {patience} more epochs (patience) "
                    f"without a lower validation loss.")
    if abs(stop - exp_stop) == 1:
        raise Wrong(f"expected stop_epoch {exp_stop}, got {stop}: off by one. Keras stops at the end "
                    f"of the {patience}th epoch in a row without improvement, i.e. epoch "
                    f"{exp_kept} + {patience} here.")
    if stop == n and exp_stop < n:
        raise Wrong(f"expected stop_epoch {exp_stop}, got {stop}: training does not run to the end; "
                    f"after epoch {exp_kept} the validation loss did not go lower for {patience} epochs.")
    raise Wrong(f"expected stop_epoch {exp_stop}, got {stop}: find the epoch with the lowest val_loss, "
                f"then add the patience (unless training ends first).")


# --------------------------------------------------------------------------- 08.3
@exercise("08.3", "Compare at equal budgets", stars=2,
          mistake="comparing a model trained longer with ones trained shorter, or an off-by-one "
                  "slice of the history")
def equal_budget(answer, *, history, epochs):
    if "val_accuracy" not in history or "epoch" not in history:
        raise ValueError("context `history` must be a training history with epoch and val_accuracy.")
    got = _number(answer, "the answer")
    acc = history.set_index("epoch")["val_accuracy"]
    expected = float(acc[acc.index <= epochs].max())
    if _close(got, expected):
        return (f"Within the first {epochs} epochs its best validation accuracy was {expected:.1%}; "
                f"that is the number to set beside the other variants' best_val_accuracy.")
    if _close(got, 100 * expected, 1e-4):
        raise Wrong(f"expected {expected:.4f}, got {got:g}: give it as a fraction like the table, "
                    f"not a percentage.")
    if len(acc) > epochs and _close(got, float(acc.max())):
        raise Wrong(f"expected {expected:.4f}, got {got:.4f}: that is its best over all {len(acc)} "
                    f"epochs it ran, including the ones the other variants never got. Look only at "
                    f"epochs 1 to {epochs}.")
    if epochs in acc.index and _close(got, float(acc[epochs])):
        raise Wrong(f"expected {expected:.4f}, got {got:.4f}: that is its accuracy in epoch {epochs} "
                    f"alone; the others' best_val_accuracy is the best of their {epochs} epochs, so "
                    f"take the best of its first {epochs} too.")
    near = {float(acc[acc.index <= e].max()) for e in (epochs - 1, epochs + 1) if e >= 1}
    if any(_close(got, v) for v in near):
        raise Wrong(f"expected {expected:.4f}, got {got:.4f}: off by one epoch. Select by the epoch "
                    f"column (history['epoch'] <= {epochs}), or remember that iloc[:{epochs}] "
                    f"holds epochs 1 to {epochs}.")
    raise Wrong(f"expected {expected:.4f} (the highest val_accuracy among epochs 1 to {epochs}), "
                f"got {got:.4f}.")


# --------------------------------------------------------------------------- 08.4
@exercise("08.4", "Choose by validation, not by test", stars=1,
          mistake="picking the variant with the best test accuracy, which turns the test set "
                  "into a selection set")
def choose(answer, *, table):
    names = [str(n) for n in table.index]
    if not isinstance(answer, str):
        raise Wrong(f"expected a variant's name (a string, one of {names}), got {type(answer).__name__}.")
    if answer not in names:
        raise Wrong(f"expected one of the table's variants {names}, got {answer!r}.")
    expected = str(table["val_accuracy"].idxmax())
    if answer == expected:
        return (f"{expected!r} has the highest validation accuracy "
                f"({table.loc[expected, 'val_accuracy']:.1%}). Its test accuracy is now the one "
                f"honest estimate of how it will do on new images.")
    if "test_accuracy" in table and answer == str(table["test_accuracy"].idxmax()):
        raise Wrong(f"expected {expected!r}, got {answer!r}: {answer!r} has the highest *test* "
                    f"accuracy. Choosing by the test set makes it part of model selection, so the "
                    f"winner's test score is flattered and no longer an honest estimate. Choose by "
                    f"val_accuracy; measure test once, for the chosen model.")
    if "train_accuracy" in table and answer == str(table["train_accuracy"].idxmax()):
        raise Wrong(f"expected {expected!r}, got {answer!r}: {answer!r} has the highest *training* "
                    f"accuracy, which rewards memorising the training images. Choose by val_accuracy.")
    if "train_accuracy" in table:
        gap = table["train_accuracy"] - table["val_accuracy"]
        if answer == str(gap.idxmin()):
            raise Wrong(f"expected {expected!r}, got {answer!r}: {answer!r} has the smallest "
                        f"train–validation gap, but a model can have a small gap because it "
                        f"underfits. Choose by val_accuracy itself.")
    raise Wrong(f"expected {expected!r}, got {answer!r}: pick the row with the highest val_accuracy.")
