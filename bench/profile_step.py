"""Where the time of one training step goes: the modern CIFAR-10 recipe (notebook 04's
``fast_cifar10``, batch 512) on this machine's CPU, with oneDNN on and off.

Ablations timed side by side. TensorFlow reads ``TF_ENABLE_ONEDNN_OPTS`` at import, so each
oneDNN setting runs in its own fresh Python process (``--repeats`` of each, alternated). Inside
a process every configuration is built once, then timed in ``--rounds`` rounds of ``--steps``
steps, one configuration after the other in an order rotated every round: the course's
machines are shared virtual machines whose speed drifts by up to 2x over minutes, and
interleaving spreads that drift over all configurations alike (timing one configuration per
process, as this script first did, did not: its medians mixed fast and slow periods). The
table gives the median milliseconds per step and what each part costs as the difference from
the full step. In the same run NumPy's float32 matrix multiply gives this machine's practical
peak, against which the step's achieved GFLOP/s is set (the model's FLOPs counted from its
layer shapes: 2 x multiply-adds forward, training = 3 x forward).

    CNNLIB_DATA_DIR=... flock /tmp/fullrun.lock .venv/bin/python bench/profile_step.py
    .venv/bin/python bench/profile_step.py --quick          # a smoke test: 1 process, 1 step

Configurations (all on random 32x32x3 inputs, 10 classes, SGD with Nesterov momentum):

- ``full``: ``model.fit`` on NumPy arrays, augmentation on, as notebook 04 trains;
- ``no augmentation``: the same without the RandomFlip/RandomTranslation layers;
- ``crops in tf.data``: no augmentation layers; the same flips and shifts made by
  ``training.crop_flip_batches`` in tf.data, in parallel with training;
- ``whitened stem``: that, with a frozen 2x2 patch-whitening stem (``models.patch_whitening``)
  instead of the 3x3 stem convolution and its batch norm;
- ``Keras batch norm``: ``keras.layers.BatchNormalization`` instead of the fused kernel;
- ``no batch norm``, ``no activations``: those layers removed (a cost, not a recipe);
- ``tensors in tf.data``: the batches come from a cached ``tf.data`` pipeline of tensors
  instead of NumPy arrays (the cost of feeding from NumPy);
- ``custom loop``: a ``tf.function`` step with ``GradientTape`` on pre-placed tensors
  (``fit``'s Python and Keras overhead is ``full`` minus this, less feeding);
- ``gradients only``: the same loop without the optimiser update (its cost; the gradients
  are summed into the result, or TensorFlow would prune their computation);
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

CONFIGS = ["full", "no augmentation", "crops in tf.data", "whitened stem", "Keras batch norm",
           "no batch norm", "no activations", "tensors in tf.data", "custom loop", "gradients only",
           "forward only"]
BATCH = 512


def build(augment=True, bn="fused", activation="relu", widths=(32, 96, 192), stem=24, whiten=None):
    """notebook 04's fast_cifar10 with switches for the ablations; the defaults build exactly
    ``cnnlib.models.fast_cifar10()`` (tests/test_bench.py checks it). ``whiten``: images
    from which ``models.patch_whitening`` makes a frozen 2x2 whitening stem instead."""
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
    if whiten is None:
        x = layers.Conv2D(stem, 3, padding="same", use_bias=False, name="stem_conv")(x)
        x = act("stem_act")(norm("stem_bn")(x))
    else:
        kernel, bias = models.patch_whitening(whiten)
        conv = layers.Conv2D(kernel.shape[-1], 2, trainable=False, name="whiten")
        x = act("whiten_act")(conv(x))
        conv.set_weights([kernel, bias])
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


def _step_runner(config: str, x, y):
    """Builds ``config`` and returns a function ``run(k) -> seconds per step over k steps``."""
    import keras
    import tensorflow as tf

    from cnnlib import training
    kwargs = {"no augmentation": dict(augment=False), "Keras batch norm": dict(bn="keras"),
              "no batch norm": dict(bn=None), "no activations": dict(activation=None),
              "crops in tf.data": dict(augment=False), "whitened stem": dict(augment=False, whiten=x)}
    model = build(**kwargs.get(config, {}))
    opt = keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True)
    loss_fn = keras.losses.CategoricalCrossentropy(label_smoothing=0.2)
    model.compile(optimizer=opt, loss=loss_fn)
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
            return loss + 0.0 * tf.add_n([tf.reduce_sum(g) for g in grads])   # consumed: not pruned

        def run(k):
            t = time.perf_counter()
            for _ in range(k):
                step().numpy()
            return (time.perf_counter() - t) / k
    elif config in ("tensors in tf.data", "crops in tf.data", "whitened stem"):
        if config == "tensors in tf.data":
            data = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(BATCH).prefetch(2)
        else:                  # the same flips and 2-pixel shifts as the model's layers, in tf.data
            data = training.crop_flip_batches(x, y, batch_size=BATCH, seed=0)

        def run(k):       # a fit call starts its own iterator over the endless stream, as the NumPy one does
            t = time.perf_counter()
            model.fit(data, steps_per_epoch=k, epochs=1, verbose=0)
            return (time.perf_counter() - t) / k
    else:
        def run(k):
            t = time.perf_counter()
            model.fit(x[:BATCH * k], y[:BATCH * k], batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
            return (time.perf_counter() - t) / k
    run(2)                                                           # tracing and warm-up, untimed
    run(2)
    return run, forward_flops(model)


def _worker(configs: list[str], steps: int, rounds: int) -> dict:
    """Runs in a fresh process (one oneDNN setting): every configuration built once, then
    ``rounds`` rounds timing ``steps`` steps of each, in an order rotated every round, so
    that the machine's speed drifting over time touches every configuration alike."""
    import numpy as np
    import keras
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).random((BATCH * steps, 32, 32, 3), dtype=np.float32)
    y = keras.utils.to_categorical(np.arange(len(x)) % 10, 10)
    runners = {c: _step_runner(c, x, y) for c in configs}
    times = {c: [] for c in configs}
    for r in range(rounds):
        order = configs[r % len(configs):] + configs[:r % len(configs)]
        for c in order:
            times[c].append(runners[c][0](steps))
    return {"times": times, "flops": {c: runners[c][1] for c in configs}}


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


def run_setting(configs: list[str], onednn: str, steps: int, rounds: int) -> dict:
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, __file__, "--worker", onednn, "--configs", *configs,
                          "--steps", str(steps), "--rounds", str(rounds)],
                         env=env, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"oneDNN {onednn} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(results: dict, flops: float, peak: float) -> str:
    """Markdown table from ``{(config, onednn): [seconds per step, ...]}``."""
    med = {k: statistics.median(v) for k, v in results.items()}
    fastest = {k: min(v) for k, v in results.items()}
    lines = ["| configuration | oneDNN off ms/step | oneDNN on ms/step | on/off speed-up | "
             "cost vs full (on) | images/s (on) | GFLOP/s (on) | fastest round, on | cost vs full, fastest |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    full_on = med[("full", "1")]
    flops = flops if isinstance(flops, dict) else {c: flops for c in CONFIGS}
    for config in CONFIGS:
        if (config, "1") not in med:
            continue
        off, on = med[(config, "0")], med[(config, "1")]
        factor = 1.0 if config == "forward only" else 3.0
        gflops = factor * flops[config] * BATCH / on / 1e9
        cost = "" if config == "full" else f"{(full_on - on) * 1e3:+.0f} ms"
        fast = fastest[(config, "1")]
        fast_cost = "" if config == "full" else f"{(fastest[('full', '1')] - fast) * 1e3:+.0f} ms"
        lines.append(f"| {config} | {off * 1e3:.0f} | {on * 1e3:.0f} | {off / on:.2f}x | {cost} | "
                     f"{BATCH / on:,.0f} | {gflops:.1f} | {fast * 1e3:.0f} | {fast_cost} |")
    lines.append("")
    lines.append(f"Model: {flops['full'] / 1e6:.1f} MFLOP forward per image (training about 3x; "
                 f"{flops.get('whitened stem', flops['full']) / 1e6:.1f} with the whitened stem); "
                 f"NumPy float32 matmul (2048x2048) on this machine: {peak:.0f} GFLOP/s, so the full "
                 f"step with oneDNN on reaches {3 * flops['full'] * BATCH / full_on / 1e9 / peak:.0%} of it.")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1,
                        help="fresh processes per oneDNN setting, alternated (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per process (default 3)")
    parser.add_argument("--steps", type=int, default=5, help="steps per configuration per round (default 5)")
    parser.add_argument("--quick", action="store_true", help="1 process per setting, 1 round of 1 step")
    parser.add_argument("--configs", nargs="*", default=None, help="a subset of the configurations")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    configs = args.configs or CONFIGS
    if args.worker:
        print(json.dumps(_worker(configs, args.steps, args.rounds)))
        return 0
    repeats, rounds, steps = (1, 1, 1) if args.quick else (args.repeats, args.rounds, args.steps)
    from cnnlib import cpu, report
    print(f"# One training step of fast_cifar10 (batch {BATCH})\n\n{report.platform_summary()}, "
          f"{cpu.vector_summary()}; {time.strftime('%Y-%m-%d')}; {repeats} fresh process(es) per oneDNN "
          f"setting, alternated; in each, every configuration built once and timed in {rounds} rounds of "
          f"{steps} steps, interleaved (the order rotated each round); the median over all rounds.\n", flush=True)
    peak = sgemm_gflops()
    results, flops = {}, None
    for r in range(repeats):
        for onednn in ("0", "1") if r % 2 == 0 else ("1", "0"):
            out = run_setting(configs, onednn, steps, rounds)
            flops = out["flops"]
            for config, times in out["times"].items():
                results.setdefault((config, onednn), []).extend(times)
                print(f"  [{r + 1}/{repeats}] oneDNN {onednn} {config:<24} "
                      + " ".join(f"{t * 1e3:.0f}" for t in times) + " ms/step", file=sys.stderr, flush=True)
    print(table(results, flops, peak))
    return 0


if __name__ == "__main__":
    sys.exit(main())
