"""Where the time of one training step goes: the modern CIFAR-10 recipe (notebook 04's
``fast_cifar10``, batch 512) on this machine's CPU, with oneDNN on and off.

Ablations timed side by side: each configuration runs in a fresh Python process (TensorFlow
reads ``TF_ENABLE_ONEDNN_OPTS`` at import), the two oneDNN settings interleaved, ``--repeats``
times; the table gives the median milliseconds per step and what each part costs as the
difference from the full step. In the same run NumPy's float32 matrix multiply gives this
machine's practical peak, against which the step's achieved GFLOP/s is set (the model's
FLOPs counted from its layer shapes: 2 x multiply-adds forward, training = 3 x forward).

    CNNLIB_DATA_DIR=... flock /tmp/fullrun.lock .venv/bin/python bench/profile_step.py
    .venv/bin/python bench/profile_step.py --quick          # a smoke test: 1 repeat, few steps

Configurations (all on random 32x32x3 inputs, 10 classes, SGD with Nesterov momentum):

- ``full``: ``model.fit`` on NumPy arrays, augmentation on, as notebook 04 trains;
- ``no augmentation``: the same without the RandomFlip/RandomTranslation layers;
- ``Keras batch norm``: ``keras.layers.BatchNormalization`` instead of the fused kernel;
- ``no batch norm``, ``no activations``: those layers removed (a cost, not a recipe);
- ``tensors in tf.data``: the batches come from a cached ``tf.data`` pipeline of tensors
  instead of NumPy arrays (the cost of feeding from NumPy);
- ``steps_per_execution=16``: Keras runs 16 steps per Python call (per-step overhead);
- ``custom loop``: a ``tf.function`` step with ``GradientTape`` on pre-placed tensors
  (``fit``'s Python and Keras overhead is ``full`` minus this, less feeding);
- ``gradients only``: the same loop without the optimiser update (its cost);
- ``forward only``: inference on a batch (``training=True``, no gradients).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CONFIGS = ["full", "no augmentation", "Keras batch norm", "no batch norm", "no activations",
           "tensors in tf.data", "steps_per_execution=16", "custom loop", "gradients only",
           "forward only"]
BATCH = 512


def build(augment=True, bn="fused", activation="relu", widths=(32, 96, 192), stem=24):
    """notebook 04's fast_cifar10 with switches for the ablations; the defaults build exactly
    ``cnnlib.models.fast_cifar10()`` (tests/test_bench.py checks it)."""
    import keras
    from keras import layers

    from cnnlib import models

    def norm(name):
        if bn == "fused":
            return models.FusedBatchNorm(momentum=0.9, name=name)
        if bn == "keras":
            return layers.BatchNormalization(momentum=0.9, name=name)
        return layers.Identity(name=name)

    def act(name):
        return layers.Activation(activation or "linear", name=name)

    inputs = keras.Input((32, 32, 3))
    x = models.augmentation(flip=True, translate=2 / 32)(inputs) if augment else inputs
    x = layers.Conv2D(stem, 3, padding="same", use_bias=False, name="stem_conv")(x)
    x = act("stem_act")(norm("stem_bn")(x))
    for g, w in enumerate(widths, 1):
        x = layers.Conv2D(w, 3, padding="same", use_bias=False, name=f"group{g}_conv1")(x)
        x = layers.MaxPooling2D(2, name=f"group{g}_pool")(x)
        x = act(f"group{g}_act1")(norm(f"group{g}_bn1")(x))
        x = layers.Conv2D(w, 3, padding="same", use_bias=False, name=f"group{g}_b_conv")(x)
        x = act(f"group{g}_b_act")(norm(f"group{g}_b_bn")(x))
    x = layers.GlobalMaxPooling2D(name="global_pool")(x)
    x = layers.Dense(10, use_bias=False, name="logits")(x)
    x = layers.Rescaling(1 / 8, name="logit_scale")(x)
    return keras.Model(inputs, layers.Activation("softmax", name="probs")(x), name="fast_cifar10")


def forward_flops(model) -> float:
    """Multiply-adds x 2 per image of the model's Conv2D and Dense layers (the rest is small)."""
    import keras
    flops = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            flops += 2.0 * h * w * kh * kw * layer.input.shape[-1] * c_out
        elif isinstance(layer, keras.layers.Dense):
            flops += 2.0 * layer.input.shape[-1] * layer.units
    return flops


def _worker(config: str, steps: int) -> dict:
    """Runs in a fresh process: median seconds per step of ``config``."""
    import numpy as np
    import keras
    import tensorflow as tf
    keras.utils.set_random_seed(0)
    kwargs = {"no augmentation": dict(augment=False), "Keras batch norm": dict(bn="keras"),
              "no batch norm": dict(bn=None), "no activations": dict(activation=None)}.get(config, {})
    model = build(**kwargs)
    x = np.random.default_rng(0).random((BATCH * 4, 32, 32, 3), dtype=np.float32)
    y = keras.utils.to_categorical(np.arange(len(x)) % 10, 10)
    opt = keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True)
    loss_fn = keras.losses.CategoricalCrossentropy(label_smoothing=0.2)
    spe = 16 if config == "steps_per_execution=16" else 1
    model.compile(optimizer=opt, loss=loss_fn, steps_per_execution=spe)
    times = []
    if config in ("custom loop", "gradients only", "forward only"):
        xb, yb = tf.constant(x[:BATCH]), tf.constant(y[:BATCH])
        model.optimizer.build(model.trainable_variables)

        @tf.function
        def step():
            if config == "forward only":
                return tf.reduce_sum(model(xb, training=True))
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, model(xb, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            if config == "custom loop":
                model.optimizer.apply(grads, model.trainable_variables)
            return loss

        for _ in range(3):
            step().numpy()
        for _ in range(steps):
            t = time.perf_counter()
            step().numpy()
            times.append(time.perf_counter() - t)
        per_step = statistics.median(times)
    else:
        n = BATCH * steps
        xs = np.resize(x, (n, 32, 32, 3))
        ys = np.resize(y, (n, 10))
        if config == "tensors in tf.data":
            data = tf.data.Dataset.from_tensor_slices((xs, ys)).batch(BATCH).cache()
            for _ in data:       # fill the cache outside the timing
                pass
            model.fit(data.take(3), epochs=1, verbose=0)
            t = time.perf_counter()
            model.fit(data, epochs=1, verbose=0)
        else:
            model.fit(xs[:BATCH * 3], ys[:BATCH * 3], batch_size=BATCH, epochs=1, verbose=0)
            t = time.perf_counter()
            model.fit(xs, ys, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
        per_step = (time.perf_counter() - t) / steps
    return {"config": config, "seconds_per_step": per_step, "flops": forward_flops(build())}


def sgemm_gflops(n: int = 2048, repeats: int = 5) -> float:
    import numpy as np
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = np.random.default_rng(1).random((n, n), dtype=np.float32)
    a @ b
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def run_config(config: str, onednn: str, steps: int) -> dict:
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, __file__, "--worker", config, "--steps", str(steps)],
                         env=env, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"{config} (oneDNN {onednn}) failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(results: dict, flops: float, peak: float) -> str:
    """Markdown table from ``{(config, onednn): [seconds per step, ...]}``."""
    med = {k: statistics.median(v) for k, v in results.items()}
    lines = ["| configuration | oneDNN off ms/step | oneDNN on ms/step | on/off speed-up | "
             "cost vs full (on) | images/s (on) | GFLOP/s (on) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    full_on = med[("full", "1")]
    for config in CONFIGS:
        if (config, "1") not in med:
            continue
        off, on = med[(config, "0")], med[(config, "1")]
        factor = 1.0 if config == "forward only" else 3.0
        gflops = factor * flops * BATCH / on / 1e9
        cost = "" if config == "full" else f"{(full_on - on) * 1e3:+.0f} ms"
        lines.append(f"| {config} | {off * 1e3:.0f} | {on * 1e3:.0f} | {off / on:.2f}x | {cost} | "
                     f"{BATCH / on:,.0f} | {gflops:.1f} |")
    lines.append("")
    lines.append(f"Model: {flops / 1e6:.1f} MFLOP forward per image (training about 3x); "
                 f"NumPy float32 matmul (2048x2048) on this machine: {peak:.0f} GFLOP/s, so the full "
                 f"step with oneDNN on reaches {3 * flops * BATCH / full_on / 1e9 / peak:.0%} of it.")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per setting (default 3)")
    parser.add_argument("--steps", type=int, default=12, help="timed steps per process (default 12)")
    parser.add_argument("--quick", action="store_true", help="1 repeat, 3 steps: checks it runs")
    parser.add_argument("--configs", nargs="*", default=None, help="a subset of the configurations")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker, args.steps)))
        return 0
    repeats, steps = (1, 3) if args.quick else (args.repeats, args.steps)
    configs = args.configs or CONFIGS
    from cnnlib import cpu, report
    print(f"# One training step of fast_cifar10 (batch {BATCH})\n\n{report.platform_summary()}, "
          f"{cpu.vector_summary()}; {time.strftime('%Y-%m-%d')}; median of {repeats} fresh process(es) "
          f"x {steps} steps per setting.\n", flush=True)
    peak = sgemm_gflops()
    results, flops = {}, None
    for r in range(repeats):
        for config in configs:
            for onednn in ("0", "1") if r % 2 == 0 else ("1", "0"):
                out = run_config(config, onednn, steps)
                flops = out["flops"]
                results.setdefault((config, onednn), []).append(out["seconds_per_step"])
                print(f"  [{r + 1}/{repeats}] {config:<24} oneDNN {onednn}: "
                      f"{out['seconds_per_step'] * 1e3:.0f} ms/step", file=sys.stderr, flush=True)
    print(table(results, flops, peak))
    return 0


if __name__ == "__main__":
    sys.exit(main())
