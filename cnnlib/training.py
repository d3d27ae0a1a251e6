"""Train Keras models reproducibly and quietly: seeding, a one-line-per-epoch logger,
and ``fit`` returning the history as a DataFrame with the wall-clock time.

Typical use::

    from cnnlib import training
    training.set_seed(0)
    model = ...                       # a compiled keras.Model
    result = training.fit(model, x_train, y_train, epochs=10, batch_size=32,
                          validation_data=(x_val, y_val))
    result.history                    # one row per epoch: epoch, loss, accuracy, val_loss, ...
    result.seconds, result.images_per_second
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd

__all__ = ["set_seed", "EpochLogger", "FitResult", "fit", "one_cycle_schedule", "count_params",
           "one_cycle_at", "TimeBudget", "images_per_second", "crop_flip_batches", "array_batches",
           "no_autotune"]


def set_seed(seed: int = 0, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy and the backend through ``keras.utils.set_random_seed``.

    With ``deterministic=True`` TensorFlow's op determinism is switched on too
    (``tf.config.experimental.enable_op_determinism``): bit-identical reruns on the
    same machine, at some cost in speed. It stays on for the rest of the process.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    keras.utils.set_random_seed(int(seed))
    if deterministic:
        import tensorflow as tf
        tf.config.experimental.enable_op_determinism()


def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4):
            return f"{v:.2e}"
        return f"{v:.4f}"
    return str(value)


class EpochLogger(keras.callbacks.Callback):
    """Prints one compact line per epoch (or every ``every`` epochs, and always the last):

    ``epoch  3/10  loss 0.1234  accuracy 0.9612  val_loss 0.1010  val_accuracy 0.9688  12.3 s``

    ``keys``: the log keys to show, in order (default: loss, the accuracy-like metrics,
    then their ``val_`` twins). Use with ``model.fit(..., verbose=0)``.
    """

    def __init__(self, every: int = 1, keys: tuple | None = None):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"every must be >= 1, got {every!r}.")
        self.every = int(every)
        self.keys = tuple(keys) if keys else None
        self._epochs = None
        self._t0 = 0.0

    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs") if self.params else None

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def _keys(self, logs):
        if self.keys:
            return [k for k in self.keys if k in logs]
        train = [k for k in logs if not k.startswith("val_") and k != "learning_rate"]
        train.sort(key=lambda k: (k != "loss", k))
        return train + [f"val_{k}" for k in train if f"val_{k}" in logs]

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        n = epoch + 1
        last = self._epochs is not None and n == self._epochs
        if n % self.every and not last and n != 1:
            return
        width = len(str(self._epochs)) if self._epochs else 1
        total = f"/{self._epochs}" if self._epochs else ""
        parts = [f"epoch {n:>{width}}{total}"]
        parts += [f"{k} {_fmt(logs[k])}" for k in self._keys(logs) if k != "budget_used"]
        if "budget_used" in logs:                 # a TimeBudget run: epochs are not fixed
            parts[0] = f"epoch {n}"
            parts.append(f"budget {logs['budget_used']:.0%}")
        parts.append(f"{time.perf_counter() - self._t0:.1f} s")
        print("  ".join(parts), flush=True)


@dataclass
class FitResult:
    """What ``fit`` returns.

    ``history``: DataFrame, one row per epoch, column ``epoch`` (from 1) plus every Keras
    log key (loss, accuracy, val_loss, val_accuracy, learning_rate, ...);
    ``seconds``: wall-clock of the whole fit; ``epochs``: epochs run;
    ``images_per_second``: training images processed / ``seconds`` (validation included
    in the time, not in the count).
    """
    history: pd.DataFrame
    seconds: float
    epochs: int
    images_per_second: float

    def final(self, key: str) -> float:
        """The last epoch's value of ``key`` (e.g. ``'val_accuracy'``)."""
        if key not in self.history:
            raise KeyError(f"{key!r} is not in the history; it has {list(self.history.columns)}.")
        return float(self.history[key].iloc[-1])


def _static_batch_size(x) -> int | None:
    """The batch size of a tf.data.Dataset whose batches all have the same, known size."""
    spec = getattr(x, "element_spec", None)
    spec = spec[0] if isinstance(spec, (tuple, list)) else spec
    shape = getattr(spec, "shape", None)
    dim = shape[0] if shape is not None and shape.rank else None
    return None if dim is None else int(dim)


def _n_train_images(x, validation_split: float, steps_per_epoch) -> int | None:
    """Training images seen per epoch, when it can be known without a pass over the data."""
    if hasattr(x, "element_spec"):  # a batched tf.data.Dataset
        import tensorflow as tf
        steps = steps_per_epoch or int(tf.data.experimental.cardinality(x))
        if steps < 0:
            return None  # infinite or unknown length: pass train_images= to fit
        batch = _static_batch_size(x)
        if batch is None:                          # batches of unknown size: look at the first
            first = next(iter(x.take(1)))
            batch = int((first[0] if isinstance(first, (tuple, list)) else first).shape[0])
        return int(steps * batch)  # the last batch may be smaller: an upper bound
    if isinstance(x, (list, tuple)) and x and hasattr(x[0], "shape"):
        x = x[0]
    if hasattr(x, "shape"):
        n = int(x.shape[0])
        return n - math.floor(n * validation_split) if validation_split else n
    return None


def one_cycle_schedule(peak_lr: float, total_steps: int, warmup_fraction: float = 0.2,
                       start_fraction: float = 0.1):
    """A one-cycle learning-rate schedule: a linear warm-up from ``start_fraction * peak_lr``
    to ``peak_lr`` over the first ``warmup_fraction`` of ``total_steps``, then a cosine
    decay to zero. A ``keras.optimizers.schedules.CosineDecay`` (pass it as the optimizer's
    ``learning_rate``); ``total_steps`` = epochs x batches per epoch."""
    total_steps = int(total_steps)
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1 (epochs x batches per epoch), got {total_steps}.")
    if not 0 <= warmup_fraction < 1:
        raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction}.")
    if peak_lr <= 0:
        raise ValueError(f"peak_lr must be > 0, got {peak_lr}.")
    warmup = int(round(warmup_fraction * total_steps))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak_lr * start_fraction if warmup else peak_lr,
        decay_steps=max(1, total_steps - warmup), alpha=0.0,
        warmup_target=peak_lr if warmup else None, warmup_steps=warmup)


def one_cycle_at(progress: float, peak_lr: float, warmup_fraction: float = 0.2,
                 start_fraction: float = 0.1) -> float:
    """The one-cycle learning rate at ``progress`` in [0, 1] of training (clipped to it): a
    linear warm-up from ``start_fraction * peak_lr`` to ``peak_lr`` over the first
    ``warmup_fraction``, then a cosine decay to zero at progress 1. The same shape as
    ``one_cycle_schedule``, as a function of progress rather than of steps."""
    if peak_lr <= 0:
        raise ValueError(f"peak_lr must be > 0, got {peak_lr}.")
    if not 0 <= warmup_fraction < 1:
        raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction}.")
    p = min(max(float(progress), 0.0), 1.0)
    if warmup_fraction and p < warmup_fraction:
        start = start_fraction * peak_lr
        return start + (peak_lr - start) * p / warmup_fraction
    q = (p - warmup_fraction) / (1 - warmup_fraction)
    return 0.5 * peak_lr * (1 + math.cos(math.pi * q))


class TimeBudget(keras.callbacks.Callback):
    """Train for a wall-clock budget instead of a number of epochs.

    The learning rate follows a schedule of *elapsed time / budget* (by default the one-cycle
    shape of ``one_cycle_at``), set before every batch, so it reaches zero exactly when the
    budget is spent, on a fast machine or a slow one; after the batch that crosses the budget
    training stops (Keras then runs that epoch's validation, if any). An epoch that ends with
    less time left than its own validation pass took also ends the fit: the next epoch would
    validate longer than it trains, at a learning rate already near zero. The fit therefore
    uses its budget, less at most one validation pass, plus at most one batch and one
    validation pass.

    ``seconds``: the budget (> 0). ``peak_lr``: the schedule's peak. ``schedule``: optional
    ``progress -> learning rate`` to use instead of the one-cycle shape. ``clock``: a
    ``() -> seconds`` function (``time.monotonic``; tests pass a fake one).
    Pass ``model.fit`` a generous ``epochs`` (``max_epochs``): the budget ends the run.
    Compile the model with a plain float learning rate; this callback overwrites it.

    After the fit: ``elapsed`` (seconds), ``steps`` (batches trained), ``used`` (elapsed /
    budget). Each epoch's logs get ``budget_used``, the fraction spent so far.
    """

    def __init__(self, seconds: float, *, peak_lr: float | None = None, schedule=None,
                 warmup_fraction: float = 0.2, start_fraction: float = 0.1, max_epochs: int = 1000,
                 clock=time.monotonic):
        super().__init__()
        if not isinstance(seconds, (int, float)) or not seconds > 0 or not math.isfinite(seconds):
            raise ValueError(f"seconds must be a positive number of seconds, got {seconds!r}.")
        if (peak_lr is None) == (schedule is None):
            raise ValueError("give exactly one of peak_lr (a one-cycle schedule) or schedule "
                             "(a function of progress in [0, 1]).")
        self.seconds = float(seconds)
        self.schedule = schedule or (lambda p: one_cycle_at(p, peak_lr, warmup_fraction, start_fraction))
        self.max_epochs = int(max_epochs)
        self.clock = clock
        self.elapsed = 0.0
        self.steps = 0
        self._t0 = None
        self._last_batch_end = 0.0

    @property
    def used(self) -> float:
        return self.elapsed / self.seconds

    def _lr_variable(self):
        lr = getattr(self.model.optimizer, "learning_rate", None)
        if not hasattr(lr, "assign"):
            raise ValueError("TimeBudget sets the learning rate before every batch: compile the "
                             "model with a float learning rate, not a schedule "
                             "(e.g. keras.optimizers.SGD(0.1, ...)).")
        return lr

    def on_train_begin(self, logs=None):
        self._lr_variable()
        self._t0 = self.clock()
        self.elapsed, self.steps, self._last_batch_end = 0.0, 0, 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self.elapsed = self.clock() - self._t0
        self._lr_variable().assign(self.schedule(self.elapsed / self.seconds))

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.elapsed = self.clock() - self._t0
        self._last_batch_end = self.elapsed
        if self.elapsed >= self.seconds:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.elapsed = self.clock() - self._t0
        # the time between the epoch's last batch and its end is its validation pass: if less
        # than that is left, another epoch would spend more time validating than training, at a
        # learning rate already near zero, so stop here
        tail = self.elapsed - self._last_batch_end
        if self.seconds - self.elapsed <= tail:
            self.model.stop_training = True
        if logs is not None:
            logs["budget_used"] = self.used


def images_per_second(build, x, y, *, batch_size: int, steps: int = 20, warmup: int = 3) -> float:
    """Training throughput of a throwaway model from ``build()`` (compiled), on ``steps``
    batches of ``x``/``y`` after ``warmup`` untimed ones (tracing, first-touch allocation).
    ``x``: ``(n, ...)`` arrays with n >= batch_size; batches repeat if n is smaller than
    ``(warmup + steps) * batch_size``. A short probe: the basis of runtime forecasts.

    The clock runs inside one ``fit``, from the end of the last warm-up batch to the end of
    the last batch, so ``fit``'s own start-up cost (about half a second) does not count: a
    fit of many epochs pays it once per call, not once per few batches."""
    if int(steps) < 1 or int(warmup) < 1:
        raise ValueError(f"steps and warmup must be >= 1, got {steps} and {warmup}.")
    n = len(x)
    if n < batch_size:
        raise ValueError(f"need at least one batch ({batch_size}) of images, got {n}.")
    model = build()
    idx = np.arange((warmup + steps) * batch_size) % n
    ends = []

    class _Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            ends.append(time.perf_counter())

    model.fit(array_batches(x[idx], y[idx], batch_size=batch_size, shuffle=False), epochs=1, verbose=0,
              shuffle=False, callbacks=[_Clock()])                  # fed as training.fit feeds (autotune off)
    return steps * batch_size / (ends[-1] - ends[warmup - 1])


def crop_flip_batches(x, y, *, batch_size: int, pad: int = 2, seed: int = 0):
    """An endless ``tf.data.Dataset`` of augmented training batches: shuffled, then each image
    flipped left-right with probability 1/2 and cropped back to its size at a random offset
    from a copy reflect-padded by ``pad`` pixels (a translation of up to ``pad`` pixels).

    ``x``: images ``(n, H, W, C)``; ``y``: labels ``(n,)`` or ``(n, k)``. Yields
    ``(images (batch_size, H, W, C), labels)``, every batch full (the stream runs on across
    epochs: pass ``model.fit`` ``steps_per_epoch``). Pixel values are only moved, never mixed.
    The same ``seed`` gives the same batches: the shuffle is seeded and each batch's flips
    and offsets come from stateless random ops keyed by ``(seed, batch number)``.
    """
    import tensorflow as tf
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 4:
        raise ValueError(f"crop_flip_batches: x must be images (n, H, W, C), got shape {x.shape}.")
    if len(y) != len(x):
        raise ValueError(f"crop_flip_batches: x has {len(x)} images but y has {len(y)} labels.")
    if not (isinstance(batch_size, int) and 1 <= batch_size <= len(x)):
        raise ValueError(f"crop_flip_batches: batch_size must be an integer from 1 to {len(x)}, got {batch_size!r}.")
    if not (isinstance(pad, int) and 0 <= pad < min(x.shape[1:3])):
        raise ValueError(f"crop_flip_batches: pad must be an integer from 0 to {min(x.shape[1:3]) - 1}, got {pad!r}.")
    h, w = x.shape[1:3]

    def augment(i, batch):
        images, labels = batch
        key = tf.stack([tf.constant(seed, tf.int64), i])
        flip_key, crop_key = tf.unstack(tf.random.experimental.stateless_split(key, 2))
        flip = tf.random.stateless_uniform([batch_size], flip_key) < 0.5
        images = tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)
        padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
        offsets = tf.random.stateless_uniform([batch_size, 2], crop_key, minval=0, maxval=2 * pad + 1,
                                              dtype=tf.int32)
        rows = offsets[:, :1] + tf.range(h)[None]                     # (batch, H): rows to keep
        cols = offsets[:, 1:] + tf.range(w)[None]                     # (batch, W): columns to keep
        images = tf.gather(padded, rows, axis=1, batch_dims=1)
        return tf.gather(images, cols, axis=2, batch_dims=1), labels

    data = tf.data.Dataset.from_tensor_slices((x, y))
    data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).repeat()
    data = data.batch(batch_size, drop_remainder=True).enumerate()
    return data.map(augment, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def no_autotune(dataset):
    """``dataset`` with tf.data's autotuner switched off (``Options().autotune.enabled = False``).

    On 2-core CPUs the autotuner's background work competes with TensorFlow's compute
    threads: measured in ``bench/results/fit_speeds.md``, about half of all ``fit`` calls
    ran 1.6x slower with it on, none with it off. Element order and values are unchanged."""
    import tensorflow as tf
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def array_batches(x, y, *, batch_size: int, shuffle: bool = True, seed: int | None = None):
    """A ``tf.data.Dataset`` of ``(x, y)`` batches from in-memory arrays, as ``model.fit``
    makes from arrays, but with tf.data's autotuner off (``no_autotune``).

    ``x``: ``(n, ...)``; ``y``: ``(n,)`` or ``(n, k)``. Yields ``ceil(n / batch_size)``
    batches per pass, the last one possibly smaller; ``shuffle``: a new order of the ``n``
    samples on every pass (every epoch of ``fit``), fixed by ``seed`` (None: drawn from
    NumPy's global generator, so ``set_seed`` makes it reproducible). The arrays are not
    copied per batch: each batch gathers its rows by index.
    """
    import tensorflow as tf
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"array_batches: x has {len(x)} samples but y has {len(y)}.")
    if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise ValueError(f"array_batches: batch_size must be a positive int, got {batch_size!r}.")
    n = len(x)
    if seed is None:
        seed = int(np.random.randint(0, 2**31 - 1))
    indices = tf.data.Dataset.range(n)
    if shuffle:
        indices = indices.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    indices = indices.batch(int(batch_size))
    arrays = tf.data.Dataset.from_tensors((x, y)).repeat()          # one copy, shared by all batches
    data = tf.data.Dataset.zip((indices, arrays)).map(
        lambda i, xy: (tf.gather(xy[0], i), tf.gather(xy[1], i)), num_parallel_calls=2)
    return no_autotune(data.prefetch(2))


def _as_batches(x, y, batch_size, validation_data, fit_kwargs):
    """fit's arrays as ``array_batches`` datasets (training, and validation when it is a pair of
    arrays), with Keras's own semantics: ``validation_split`` holds out the last fraction,
    before any shuffling; ``shuffle`` defaults to True. Returns ``(x, y, validation_data,
    fit_kwargs)``, unchanged where the arrays cannot be converted (sample weights,
    steps_per_epoch, a dict or list of inputs)."""
    if (y is None or not hasattr(x, "shape") or not hasattr(y, "shape") or len(x) != len(y)
            or fit_kwargs.get("sample_weight") is not None or fit_kwargs.get("steps_per_epoch")):
        return x, y, validation_data, fit_kwargs
    kwargs = dict(fit_kwargs)
    batch_size = int(batch_size or 32)                       # Keras's default
    split = kwargs.pop("validation_split", 0.0) or 0.0
    if split:
        if validation_data is not None:
            return x, y, validation_data, fit_kwargs         # Keras ignores the split then: let it
        at = int(math.floor(len(x) * (1.0 - split)))
        if at in (0, len(x)):
            raise ValueError(f"validation_split={split} leaves no training or no validation samples of {len(x)}.")
        validation_data = (x[at:], y[at:])
        x, y = x[:at], y[:at]
    shuffle = kwargs.pop("shuffle", True)
    if (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2
            and all(hasattr(a, "shape") for a in validation_data)):
        validation_data = array_batches(*validation_data, shuffle=False,
                                        batch_size=kwargs.pop("validation_batch_size", None) or batch_size)
    kwargs["shuffle"] = False                                # the dataset shuffles itself
    return array_batches(x, y, batch_size=batch_size, shuffle=bool(shuffle)), None, validation_data, kwargs


def count_params(model: keras.Model) -> int:
    """Total parameters of a built model (trainable and not)."""
    return int(model.count_params())


def fit(model: keras.Model, x, y=None, *, epochs: int, batch_size: int | None = None,
        validation_data=None, callbacks=(), log_every: int = 1, train_images: int | None = None,
        **fit_kwargs) -> FitResult:
    """``model.fit`` with quiet progress, timing, and the history as a DataFrame.

    ``x``: arrays (``(n, H, W, C)``, with ``y`` of ``(n,)`` or ``(n, k)``) or a
    ``tf.data.Dataset`` yielding ``(images, labels)`` batches (then ``y`` is None).
    ``log_every``: print one line every that many epochs (0: print nothing).
    ``train_images``: training images per epoch, for ``images_per_second`` when ``x`` is a
    dataset of unknown length (otherwise it is worked out from ``x``).
    Other keyword arguments (``validation_split``, ``shuffle``, ...) go to ``model.fit``.
    The model must be compiled.
    """
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
        raise ValueError("The model is not compiled: call model.compile(optimizer=..., loss=..., "
                         "metrics=[...]) before training.fit.")
    if int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs!r}.")
    if hasattr(x, "element_spec") and y is not None:
        raise ValueError("x is a tf.data.Dataset, so it must yield (images, labels) itself: "
                         "pass y=None.")
    if hasattr(x, "element_spec") and batch_size is not None:
        raise ValueError("x is a tf.data.Dataset, already batched: pass batch_size=None "
                         "and batch the dataset with .batch(n).")
    if fit_kwargs.pop("verbose", 0) not in (0, None):
        raise ValueError("training.fit always runs Keras with verbose=0 and prints one line "
                         "per epoch itself; use log_every to change how often.")
    if hasattr(x, "element_spec"):
        fit_kwargs.setdefault("shuffle", False)  # a dataset shuffles itself (.shuffle(n))
    cbs = list(callbacks)
    if log_every:
        cbs.append(EpochLogger(every=log_every))
    n_images = train_images or _n_train_images(x, fit_kwargs.get("validation_split", 0.0),
                                               fit_kwargs.get("steps_per_epoch"))
    batch = batch_size or _static_batch_size(x)
    # Feed fit through tf.data with the autotuner off (see no_autotune): same data, same
    # epochs, but never the slow speed that the autotuner brings on 2-core machines.
    if hasattr(x, "element_spec"):
        x = no_autotune(x)
    else:
        x, y, validation_data, fit_kwargs = _as_batches(x, y, batch_size, validation_data, fit_kwargs)
        if hasattr(x, "element_spec"):
            batch_size = None                    # x is now batched
    if hasattr(validation_data, "element_spec"):
        validation_data = no_autotune(validation_data)
    t0 = time.perf_counter()
    hist = model.fit(x, y, epochs=int(epochs), batch_size=batch_size,
                     validation_data=validation_data, callbacks=cbs, verbose=0, **fit_kwargs)
    seconds = time.perf_counter() - t0
    budget = next((c for c in cbs if isinstance(c, TimeBudget)), None)
    frame = pd.DataFrame({k: [float(v) for v in vals] for k, vals in hist.history.items()})
    ran = len(frame)
    frame.insert(0, "epoch", np.arange(1, ran + 1))
    if budget is not None and batch:             # the last epoch may have stopped part-way
        ips = budget.steps * int(batch) / seconds if seconds > 0 else float("nan")
    else:
        ips = (n_images * ran / seconds) if (n_images and seconds > 0) else float("nan")
    return FitResult(history=frame, seconds=float(seconds), epochs=ran, images_per_second=float(ips))
