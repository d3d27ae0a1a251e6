"""fit's two speeds on a 2-core machine, and tf.data's autotuner.

``bench/profile_step.py`` found that a ``model.fit`` step of notebook 04's old network takes
either about 620 or about 1,030 ms, switching from one ``fit`` call to the next, while a
custom loop without tf.data never switches. This script times, in one process, the same
model fed five ways, in interleaved rounds (the order rotated every round), and prints
every round's milliseconds per step and the median:

- ``numpy fit``: ``fit`` on NumPy arrays (Keras builds its own tf.data pipeline);
- ``tf.data default``: an endless ``Dataset.from_tensor_slices(...).batch().prefetch(2)``;
- ``tf.data no autotune``: the same with ``Options().autotune.enabled = False``;
- ``tf.data 1 thread``: with ``Options().threading.private_threadpool_size = 1``;
- ``tf.data 1 thread, no autotune``: with both.

    flock /tmp/fullrun.lock .venv/bin/python bench/fit_speeds.py --rounds 8
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnlib.cpu import enable_onednn  # noqa: E402

enable_onednn()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--steps", type=int, default=5, help="steps per fit call (default 5)")
    args = p.parse_args(argv)

    import warnings
    warnings.filterwarnings("ignore", category=UserWarning)
    import keras
    import numpy as np
    import tensorflow as tf

    from cnnlib import cpu, report
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from profile_step import BATCH, build

    k = args.steps
    x = np.random.default_rng(0).random((BATCH * k, 32, 32, 3), dtype=np.float32)
    y = keras.utils.to_categorical(np.arange(len(x)) % 10, 10)

    def model():
        m = build()
        m.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True), loss="categorical_crossentropy")
        return m

    def pipeline(autotune=True, threads=None, prefetch=2):
        options = tf.data.Options()
        options.autotune.enabled = autotune
        if threads:
            options.threading.private_threadpool_size = threads
        return tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(BATCH).prefetch(prefetch).with_options(options)

    keras.utils.set_random_seed(0)
    runs = {}
    m = model()
    runs["numpy fit"] = lambda m=m: m.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    for name, kw in (("tf.data default", {}), ("tf.data no autotune", dict(autotune=False)),
                     ("tf.data 1 thread", dict(threads=1)),
                     ("tf.data 1 thread, no autotune", dict(autotune=False, threads=1))):
        m, data = model(), pipeline(**kw)
        runs[name] = lambda m=m, data=data: m.fit(data, steps_per_epoch=k, epochs=1, verbose=0)
    for run in runs.values():                      # tracing and warm-up, untimed
        run()
        run()
    names = list(runs)
    times = {n: [] for n in names}
    for r in range(args.rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:
            t = time.perf_counter()
            runs[n]()
            times[n].append((time.perf_counter() - t) / k * 1e3)
    print(f"fit's speeds: {report.platform_summary()}, {cpu.vector_summary()}; TensorFlow {tf.__version__}; "
          f"notebook 04's old fast_cifar10, batch {BATCH}, {k} steps per fit call, {args.rounds} interleaved rounds\n")
    print("| feeding | ms per step, each round | median | rounds under 800 ms |")
    print("| --- | --- | ---: | ---: |")
    for n in names:
        v = times[n]
        print(f"| {n} | {' '.join(f'{t:.0f}' for t in v)} | {statistics.median(v):.0f} | "
              f"{sum(t < 800 for t in v)} of {len(v)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
