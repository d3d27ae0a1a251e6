"""oneDNN on and off give the same numbers on every model the course trains.

cnnlib turns TensorFlow's oneDNN kernels on where TensorFlow leaves them off (CPUs without
AVX-512 VNNI, AVX-VNNI or AMX: see cnnlib/cpu.py and bench/onednn.py). That is only right if
they compute the same thing. TensorFlow reads ``TF_ENABLE_ONEDNN_OPTS`` once, at import, so
two fresh processes (this file run as a script, with ``=0`` and ``=1``) build each model from
the same seed and write to an .npz file: the initial weights (which must be identical), the
prediction of one batch (eager, and compiled as ``predict`` compiles it), and one SGD step
compiled as ``fit`` compiles it (no XLA on a CPU): its output and loss (``training=True``),
every gradient, and every weight after the step, batch-norm statistics included. Dropout and
augmentation stay in: they draw the same random numbers in both processes (same seed,
stateless random ops). Images are real sizes, in batches of 2 to 8.

The models: the library's builders (what bench/ and the CLI train), notebook 07's blood-cell
model with and without its StainCrop as cnnlib.memory builds it, and every builder
on a notebook page (tests/page_models.py), called with its defaults.

Tolerances, float32 (about 6e-8 relative rounding per operation):

- predictions (``training=False``): ``rtol 1e-4, atol 1e-5`` on probabilities; measured at
  most 1.2e-7.
- the step's output and loss: ``rtol 1e-4, atol 1e-4``; measured at most 1e-5. In training
  mode batch norm normalises with statistics summed over tens of thousands of values per
  channel, which the two libraries sum in different orders: against a float64 computation
  both are off by about 1e-5 of the largest activation (oneDNN up to twice as much as Eigen).
- gradients and weight updates: ``||on - off|| / ||off|| <= 5e-2`` per array, not
  element-wise. Max pooling sends each window's gradient to its largest input; where two
  inputs are within those 1e-5 of each other (or equal, as in the black corners a rotation
  leaves), the two libraries may pick different ones, both valid. In a batch of four
  240x320 images without the crop, that happened in 2 to 11 of up to 614,400 windows per
  pooling layer. Measured over batches of 2 and 4, with one and two threads: gradients
  moved by up to 2.3e-2 in norm in that model, up to 4e-3 in the others. A wrong kernel
  (another image's values or uninitialised memory, like the small-convolution bug in
  test_ops.py) would move them by order 1.

``pytest -s`` prints the measured differences of every model.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
EVAL_TOL = {"rtol": 1e-4, "atol": 1e-5}    # predictions (training=False): probabilities in [0, 1]
TRAIN_TOL = {"rtol": 1e-4, "atol": 1e-4}   # the step's output and loss: batch statistics in batch norm
GRAD_REL_NORM = 5e-2                       # ||on - off|| / ||off|| per gradient and per weight update

#: name -> (builder arguments, input (H, W, C), pixel scale, batch); built in the child
LIBRARY = {
    "classic_mnist": ("classic_mnist", {}, 1, 8),
    "improved_mnist": ("improved_mnist", {}, 1, 8),
    "classic_cifar10": ("classic_cifar10", {}, 1, 8),
    "classic_cifar10_r2": ("classic_cifar10_r2", {}, 1, 8),
    "fast_cifar10": ("fast_cifar10", {}, 1, 8),
    "fast_cifar10 (notebook 04: whitened stem, augmentation in tf.data)": ("fast_cifar10_whitened", {}, 1, 8),
    "folder_classifier (CLI, 120x160, 2 classes)": ("folder_classifier",
                                                    {"image_size": (120, 160), "num_classes": 2}, 255, 4),
    "folder_classifier (notebook 07, StainCrop)": ("notebook07", {"crop": True}, 255, 2),
    "folder_classifier (notebook 07, no crop)": ("notebook07", {"crop": False}, 255, 2),
}


def page_model_names() -> list[str]:
    """The page-model builders' names, read without TensorFlow (collection stays light):
    top-level ``def``s of every cell tagged ``page-model`` (tests/page_models.py runs them)."""
    from cnnlib import report
    from tests.page_models import page_cells
    names = []
    for path in report.list_notebooks():
        for src in page_cells(path):
            try:
                tree = ast.parse(src)
            except SyntaxError:
                names.append(f"page {path.stem}: (cell does not parse)")
                continue
            names += [f"page {path.stem}: {node.name}" for node in tree.body
                      if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")]
    return names


# --------------------------------------------------------------------------- the child process
def _images(rng, n, shape, scale):
    """``n`` float32 images ``shape`` in 0..1, or, for models taking 0..255 pixels, pale
    pink micrographs with one purple stained cell each at a random place (so StainCrop
    crops a different window of each)."""
    if len(shape) != 3:                               # not images: e.g. precomputed features
        return rng.normal(0, 1, (n, *shape)).astype("float32")
    h, w, c = shape
    if scale == 1:
        return rng.uniform(0, 1, (n, h, w, c)).astype("float32")
    x = np.clip(rng.normal([225, 190, 205][:c], 12, (n, h, w, c)), 0, 255)
    rr, cc = np.mgrid[:h, :w]
    for i in range(n):
        r0, c0, rad = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w, min(h, w) / 8
        blob = (rr - r0) ** 2 + (cc - c0) ** 2 < rad ** 2
        x[i][blob] = np.clip(rng.normal([120, 60, 190][:c], 15, (int(blob.sum()), c)), 0, 255)
    return x.astype("float32")


def _library_model(kind, kwargs):
    from cnnlib import models
    if kind == "notebook07":
        from cnnlib import memory as pipeline
        size = (240, 320)            # the blood-cell micrographs, as cnnlib.memory trains them
        crop = (models.StainCrop(box=round(pipeline.NOTEBOOK_CROP["box_fraction"] * size[1]),
                                 size=pipeline.NOTEBOOK_CROP["size"]) if kwargs["crop"] else None)
        return models.folder_classifier(size, 4, crop=crop, **pipeline.NOTEBOOK_MODEL)
    if kind == "fast_cifar10_whitened":     # the whitening computed from CIFAR-sized random images
        x = np.random.default_rng(1).uniform(0, 1, (64, 32, 32, 3)).astype("float32")
        return models.fast_cifar10(augment=False, whitening=models.patch_whitening(x))
    return getattr(models, kind)(**kwargs)


def _takes_0_255(model) -> bool:
    import keras
    from cnnlib import models
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, models.StainCrop):
            return True
        if isinstance(layer, keras.layers.Rescaling) and np.isclose(float(np.ravel(layer.scale)[0]), 1 / 255):
            return True
    return False


#: The height and width a model with an open input size (None) is tested at: CIFAR-10's.
OPEN_SIZE = 32


def _case_shape(model) -> tuple:
    """The input shape a case runs at: the model's, with open image sides set to OPEN_SIZE."""
    shape = tuple(model.input_shape[1:])
    if len(shape) == 3 and shape[-1] is not None:
        shape = tuple(OPEN_SIZE if d is None else d for d in shape[:2]) + shape[2:]
    if None in shape:
        raise ValueError(f"input shape {model.input_shape} is not fully defined")
    return shape


def _one_case(model, scale, batch, seed=0):
    """Arrays of one model: init weights, eager and compiled prediction, one SGD step."""
    import keras
    import tensorflow as tf
    shape = _case_shape(model)
    rng = np.random.default_rng(seed)
    x = tf.constant(_images(rng, batch, shape, scale))
    arrays = {"init": [np.array(v) for v in model.weights]}
    arrays["eager"] = [keras.ops.convert_to_numpy(model(x, training=False))]
    probs = arrays["eager"][0]
    k = probs.shape[-1]
    is_prob = probs.min() >= 0 and probs.max() <= 1 and (k == 1 or np.allclose(probs.sum(-1), 1, atol=1e-3))
    if k == 1:
        y = tf.constant(rng.integers(0, 2, (batch, 1)).astype("float32"))
        loss_fn = keras.losses.BinaryCrossentropy(from_logits=not is_prob)
    else:
        y = tf.constant(rng.integers(0, k, batch).astype("int32"))
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=not is_prob)
    opt = keras.optimizers.SGD(learning_rate=0.1)
    opt.build(model.trainable_variables)

    @tf.function   # compiled as fit and predict compile (no XLA on a CPU): one trace for both
    def step(x, y):
        pred = model(x, training=False)
        with tf.GradientTape() as tape:
            out = model(x, training=True)
            loss = loss_fn(y, out)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return pred, out, loss, grads

    pred, out, loss, grads = step(x, y)
    arrays["graph"] = [pred.numpy()]
    arrays["train_out"] = [out.numpy()]
    arrays["loss"] = [np.asarray(loss.numpy())]
    arrays["grad"] = [g.numpy() for g in grads]
    arrays["after"] = [np.array(v) for v in model.weights]
    names = {"grad": [v.path for v in model.trainable_variables], "init": [v.path for v in model.weights]}
    names["after"] = names["init"]
    return arrays, names


def _backbone_arguments(build) -> dict:
    """Arguments for a page builder that wraps a backbone (notebooks 06 and 07): the course's
    CIFAR backbone, and for a whole-image blood-cell model a StainCrop to 32x32 windows."""
    import inspect
    try:
        params = inspect.signature(build).parameters
    except (TypeError, ValueError):
        return {}
    kwargs = {}
    if "backbone" in params and params["backbone"].default is inspect.Parameter.empty:
        from cnnlib import transfer
        kwargs["backbone"] = transfer.cifar_backbone()
        if "crop" in params and params["crop"].default is None:
            from cnnlib import models
            kwargs["crop"] = models.StainCrop(box=128, size=32)
        for key, value in (("units", 8), ("name", "head")):    # 06's with_head(backbone, units, name)
            if key in params and params[key].default is inspect.Parameter.empty:
                kwargs[key] = value
    return kwargs


def child(out_npz: str) -> None:
    """Run every case with this process's oneDNN setting; write ``out_npz`` and a .json."""
    import time
    from tensorflow.python.util import _pywrap_util_port

    from cnnlib import import_tensorflow_quietly, training
    import_tensorflow_quietly().get_logger().setLevel("ERROR")   # no retracing notices per model
    from tests.page_models import page_builders
    cases = {name: (lambda kind=kind, kw=kw: _library_model(kind, kw), scale, batch)
             for name, (kind, kw, scale, batch) in LIBRARY.items()}
    try:
        builders = page_builders()
    except Exception as exc:  # noqa: BLE001 - reported per page model by the test
        builders, page_error = {}, f"page_builders() failed: {type(exc).__name__}: {exc}"
    else:
        page_error = None
    for (stem, name), build in builders.items():
        cases[f"page {stem}: {name}"] = (build, None, None)
    meta = {"onednn": bool(_pywrap_util_port.IsMklEnabled()), "page_error": page_error, "cases": {}}
    store = {}
    for name, (build, scale, batch) in cases.items():
        t0 = time.perf_counter()
        training.set_seed(0)
        try:
            model = build(**_backbone_arguments(build))
        except TypeError as exc:
            meta["cases"][name] = {"skipped": f"the builder needs arguments ({exc})"}
            continue
        except Exception as exc:  # noqa: BLE001 - the test reports it
            meta["cases"][name] = {"error": f"building: {type(exc).__name__}: {exc}"}
            continue
        if not hasattr(model, "input_shape"):
            meta["cases"][name] = {"skipped": f"the builder returns a {type(model).__name__} without an input "
                                              f"shape (a preprocessing block, not a model to train)"}
            continue
        try:
            if scale is None:
                scale = 255 if _takes_0_255(model) else 1
                shape = _case_shape(model)
                batch = 8 if len(shape) != 3 or shape[0] * shape[1] <= 64 * 64 else 2
            arrays, names = _one_case(model, scale, batch)
        except Exception as exc:  # noqa: BLE001 - the test reports it
            meta["cases"][name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        meta["cases"][name] = {"names": names, "batch": batch, "scale": scale,
                               "input": list(_case_shape(model)),
                               "seconds": round(time.perf_counter() - t0, 2),
                               "counts": {kind: len(a) for kind, a in arrays.items()}}
        for kind, arrs in arrays.items():
            for i, a in enumerate(arrs):
                store[f"{name}|{kind}|{i}"] = a
    np.savez(out_npz, **store)
    Path(out_npz).with_suffix(".json").write_text(json.dumps(meta, indent=1))


# --------------------------------------------------------------------------- the test
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("onednn")
    procs = {}
    for flag in ("0", "1"):        # concurrently: each process is single-model sequential anyway
        env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=flag, TF_CPP_MIN_LOG_LEVEL="3",
                   PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
        env.pop("CNNLIB_SET_TF_ENABLE_ONEDNN_OPTS", None)
        procs[flag] = subprocess.Popen([sys.executable, __file__, str(out / f"onednn{flag}.npz")], env=env,
                                       cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result = {}
    for flag, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"child TF_ENABLE_ONEDNN_OPTS={flag} failed:\n{err[-3000:]}"
        meta = json.loads((out / f"onednn{flag}.json").read_text())
        with np.load(out / f"onednn{flag}.npz") as z:
            result[flag] = (meta, {k: z[k] for k in z.files})
    # the premise: the variable took effect in each process
    assert result["0"][0]["onednn"] is False and result["1"][0]["onednn"] is True
    return result


def _rel_norm(ref, other) -> float:
    """``||other - ref|| / ||ref||`` (0 when both are zero), in float64."""
    ref, other = ref.astype("float64"), other.astype("float64")
    scale = np.linalg.norm(ref)
    diff = np.linalg.norm(other - ref)
    return float(diff / scale) if scale else (0.0 if diff == 0 else float("inf"))


def _compare(name, off, on) -> dict:
    """Assert oneDNN's arrays of one case match the default kernels'; return the worst
    difference per kind (absolute for outputs, relative norm for gradients and updates)."""
    meta_off, arr_off = off
    meta_on, arr_on = on
    case_off, case_on = meta_off["cases"].get(name), meta_on["cases"].get(name)
    if case_off is None and name.startswith("page "):
        pytest.fail(f"{name}: not built by the child ({meta_off['page_error'] or 'the notebook changed?'})")
    assert case_off is not None and case_on is not None, f"{name}: missing from a child's results"
    for case in (case_off, case_on):
        if "error" in case:
            pytest.fail(f"{name}: {case['error']}")
    if "skipped" in case_off:
        pytest.skip(f"{name}: {case_off['skipped']}")
    assert case_off["counts"] == case_on["counts"]
    def get(arrays, kind, i):
        return arrays[f"{name}|{kind}|{i}"]
    names = case_off["names"]
    for i in range(case_off["counts"]["init"]):
        np.testing.assert_array_equal(get(arr_on, "init", i), get(arr_off, "init", i),
                                      err_msg=f"{name}: {names['init'][i]}: the two processes built "
                                              f"different weights")
    worst = {}
    for kind, tol in (("eager", EVAL_TOL), ("graph", EVAL_TOL), ("train_out", TRAIN_TOL), ("loss", TRAIN_TOL)):
        a, b = get(arr_off, kind, 0), get(arr_on, kind, 0)
        np.testing.assert_allclose(b, a, **tol, err_msg=f"{name}: {kind}")
        worst[kind] = float(np.abs(b.astype("float64") - a).max())
    for kind in ("grad", "update"):
        src = "after" if kind == "update" else "grad"
        worst[kind] = 0.0
        for i in range(case_off["counts"][src]):
            a, b = get(arr_off, src, i), get(arr_on, src, i)
            label = f"{name}: {kind} of {names[src][i]}"
            if not np.issubdtype(a.dtype, np.floating):         # seed-generator counters
                np.testing.assert_array_equal(b, a, err_msg=label)
                continue
            if kind == "update":                                  # what the step changed
                w0 = get(arr_off, "init", i)
                a, b = a.astype("float64") - w0, b.astype("float64") - w0
            rel = _rel_norm(a, b)
            assert rel <= GRAD_REL_NORM, (f"{label}: ||on - off|| / ||off|| = {rel:.2e} > {GRAD_REL_NORM} "
                                          f"(||off|| = {np.linalg.norm(a):.3e})")
            worst[kind] = max(worst[kind], rel)
    print(f"\n{name} (batch {case_off['batch']}, input {tuple(case_off['input'])}): "
          + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    return worst


@pytest.mark.slow
@pytest.mark.parametrize("name", [*LIBRARY, *page_model_names()])
def test_onednn_matches_default_kernels(runs, name):
    _compare(name, runs["0"], runs["1"])


if __name__ == "__main__":
    child(sys.argv[1])
