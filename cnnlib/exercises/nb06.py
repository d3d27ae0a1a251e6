"""Checkers for the exercises of ``06_transfer_learning.ipynb``.

Each checker returns the praise for a right answer and raises ``Wrong`` with a specific
explanation for a wrong one. The typical mistakes each get their own message: a frozen
model whose layers are unfrozen one by one (the model's own flag still freezes them all),
the lower blocks unfrozen too, batch-norm moving statistics counted as trainable, the
best transfer method mixed up with one of them, gradients summed instead of averaged
(or multiplied in place, or no ReLU) in Grad-CAM, and occlusion drops added up or
overwritten instead of averaged.
"""
from __future__ import annotations

import numbers

import numpy as np

from cnnlib.exercises import Wrong, exercise

TOP_PREFIX = "top_"
TOP_WEIGHTED = ("top_conv1", "top_bn1", "top_conv2", "top_bn2")


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


# --------------------------------------------------------------------------- 06.1
def trainable_layers(model) -> list[str]:
    """The names of the layers of ``model`` that own at least one weight the optimizer would
    change (``model.trainable_weights``), in layer order."""
    owners = {id(w) for w in model.trainable_weights}
    return [layer.name for layer in model.layers if any(id(w) in owners for w in layer.weights)]


def _backbone(frozen: bool):
    from cnnlib import transfer
    backbone = transfer.cifar_backbone()
    backbone.trainable = not frozen
    return backbone


@exercise("06.1", "Unfreeze the top block", stars=2,
          mistake="setting layer.trainable = True on the top layers of a model whose own "
                  "trainable flag is still False (nothing trains), or unfreezing the whole "
                  "backbone, or leaving the top block's batch norms out")
def check_06_1(answer) -> str:
    if not callable(answer):
        raise Wrong(f"answer_06_1 should be your function unfreeze_top(backbone), got "
                    f"{type(answer).__name__}.")
    want = list(TOP_WEIGHTED)
    for frozen in (True, False):
        backbone = _backbone(frozen)
        returned = answer(backbone)
        if returned is not None and returned is not backbone:
            raise Wrong("unfreeze_top should change the backbone it is given (set the flags in place) "
                        "and return nothing; yours returned another object, so the model being "
                        "fine-tuned would not change.")
        got = trainable_layers(backbone)
        start = "a frozen backbone" if frozen else "a backbone with every layer trainable"
        if got == want:
            continue
        if not got:
            top_flags = [layer.trainable for layer in backbone.layers if layer.name.startswith(TOP_PREFIX)]
            if not backbone.trainable and any(top_flags):
                raise Wrong("nothing would train: the top layers' own flags are True, but the backbone "
                            "itself still has trainable = False, and a frozen model freezes every layer "
                            "inside it whatever their flags. Set backbone.trainable = True first, then "
                            "freeze the layers to keep frozen.")
            raise Wrong(f"starting from {start}, no layer would train: set trainable = True on the "
                        "layers whose names start with 'top_'.")
        lower = [name for name in got if not name.startswith(TOP_PREFIX)]
        if lower:
            raise Wrong(f"starting from {start}, blocks 1 and 2 would train too ({', '.join(lower)}): "
                        "backbone.trainable = True unfreezes every layer, so each layer outside the top "
                        "block must then be set back to trainable = False. With few photos their general "
                        "features are best left as they are.")
        missing = [name for name in want if name not in got]
        if missing and all("bn" in name for name in missing):
            raise Wrong(f"the top block's batch norms stay frozen ({', '.join(missing)}): they belong to "
                        "the top block, so make every layer whose name starts with 'top_' trainable. "
                        "Their scale and offset (γ, β) may learn; what must not change is their moving "
                        "statistics, and calling the backbone with training=False takes care of that.")
        raise Wrong(f"starting from {start}, expected the layers {want} to train, got {got}: make "
                    "trainable exactly the layers whose names start with 'top_'.")
    return ("backbone.trainable = True lifts the model-wide freeze, then each layer's own flag "
            "decides: only top_conv1, top_bn1, top_conv2 and top_bn2 have weights that will train. "
            "The moving statistics of the two batch norms never train; training=False keeps them "
            "fixed during fine-tuning as well.")


# --------------------------------------------------------------------------- 06.2
def _nested_backbone(model):
    for layer in model.layers:
        if layer.name == "backbone" and hasattr(layer, "layers"):
            return layer
    raise ValueError("the model has no nested layer named 'backbone'.")


def _size(weights) -> int:
    return int(sum(int(np.prod(w.shape)) for w in weights))


def parameter_counts(model) -> dict:
    """The counts a learner might give for the fine-tuning model (top block unfrozen, head
    on top): the right one (``trainable``) and the typical wrong ones."""
    backbone = _nested_backbone(model)
    top = [layer for layer in backbone.layers if layer.name.startswith(TOP_PREFIX)]
    convs = [layer for layer in top if "conv" in layer.name]
    bns = [layer for layer in top if "bn" in layer.name]
    head = _size(model.get_layer("dog_logit").weights)
    conv = _size([w for layer in convs for w in layer.weights])
    bn_trained = _size([w for layer in bns for w in layer.weights if "moving" not in w.path])
    bn_moving = _size([w for layer in bns for w in layer.weights if "moving" in w.path])
    all_trained = _size([w for layer in backbone.layers for w in layer.weights if "moving" not in w.path])
    return {"trainable": _size(model.trainable_weights), "total": int(model.count_params()),
            "with moving statistics": conv + bn_trained + bn_moving + head, "head only": head,
            "no head": conv + bn_trained, "no batch norm": conv + head,
            "with conv biases": conv + sum(layer.filters for layer in convs) + bn_trained + head,
            "whole backbone": all_trained + head, "conv": conv, "bn": bn_trained, "head": head}


@exercise("06.2", "Trainable parameters after freezing", stars=1,
          mistake="counting all the parameters (count_params), or the batch norms' moving mean "
                  "and variance, which no optimizer changes")
def check_06_2(answer, model=None) -> str:
    if model is None:
        raise Wrong("the check needs the fine-tuning model: exercises.check(\"06.2\", answer_06_2, "
                    "model=tuned_example).")
    counts = parameter_counts(model)
    want = counts["trainable"]
    if isinstance(answer, float) and answer.is_integer():
        answer = int(answer)
    if not _is_int(answer):
        raise Wrong(f"answer_06_2 should be one whole number (an int), got {type(answer).__name__}.")
    if answer == want:
        return (f"{want:,}: the two 3×3 convolutions ({counts['conv']:,}, no bias), the batch norms' "
                f"γ and β ({counts['bn']}) and the head ({counts['head']}). The rest of the "
                f"{counts['total']:,} parameters are frozen weights and the moving statistics, which "
                "batch norm updates itself and no optimizer touches.")
    if answer == counts["total"]:
        raise Wrong(f"{answer:,} is every parameter of the model (count_params()); the frozen blocks "
                    "and the batch norms' moving statistics do not train. Count only the top block's "
                    "weights that the optimizer changes, and the head's.")
    if answer == counts["with moving statistics"]:
        raise Wrong(f"expected {want:,}, got {answer:,}: you counted the batch norms' moving mean and "
                    f"variance ({counts['with moving statistics'] - want}). Batch norm updates them "
                    "itself from the batches; the optimizer never trains them, and with training=False "
                    "they do not change at all.")
    if answer == counts["head only"]:
        raise Wrong(f"{answer} is the head alone: that is feature extraction. Fine-tuning trains the top "
                    "block's convolutions and batch norms as well.")
    if answer == counts["no head"]:
        raise Wrong(f"expected {want:,}, got {answer:,}: add the head, Dense(1) on 128 features "
                    f"({counts['head']} parameters), which trains too.")
    if answer == counts["no batch norm"]:
        raise Wrong(f"expected {want:,}, got {answer:,}: the top block's two batch norms train their "
                    f"scale γ and offset β, 2 × 128 each ({counts['bn']} in all).")
    if answer == counts["with conv biases"]:
        raise Wrong(f"expected {want:,}, got {answer:,}: the convolutions have no bias "
                    "(use_bias=False, since the batch norm after each one adds its own offset).")
    if answer == counts["whole backbone"]:
        raise Wrong(f"{answer:,} would train if the whole backbone were unfrozen; blocks 1 and 2 stay "
                    "frozen. Count the top block and the head only.")
    raise Wrong(f"expected {want:,}, got {answer:,}. Count kernel sizes: top_conv1 is 3·3·64·128 "
                "(64 channels in, 128 out), top_conv2 is 3·3·128·128; each batch norm trains 2·128; "
                "the head has 128 weights and a bias.")


# --------------------------------------------------------------------------- 06.3
def transfer_columns(accuracy) -> list:
    """The transfer methods of an accuracy table: every column except "from scratch"."""
    return [c for c in accuracy.columns if c != "from scratch"]


def transfer_stops_paying(accuracy, margin: float, columns=None):
    """The smallest training-set size (``accuracy``'s index) at which "from scratch" is
    within ``margin`` of the best of ``columns`` (by default every transfer method in the
    table); None when transfer wins by more than ``margin`` at every size."""
    best = accuracy[list(columns or transfer_columns(accuracy))].max(axis=1)
    close = [int(n) for n in accuracy.index if best[n] - accuracy.loc[n, "from scratch"] <= margin]
    return min(close) if close else None


@exercise("06.3", "When does transfer stop paying?", stars=2,
          mistake="comparing with one transfer method instead of the best of them, or "
                  "reading the margin as points (1) instead of a fraction (0.01)")
def check_06_3(answer, accuracy=None, margin=None) -> str:
    if accuracy is None or margin is None:
        raise Wrong("the check needs the table and the margin: exercises.check(\"06.3\", answer_06_3, "
                    "accuracy=accuracy, margin=MARGIN).")
    sizes = [int(n) for n in accuracy.index]
    want = transfer_stops_paying(accuracy, margin)
    methods = transfer_columns(accuracy)
    if "from scratch" not in accuracy.columns or not methods:
        raise Wrong("accuracy must have a \"from scratch\" column and at least one transfer method: pass the "
                    "table of section 5.")
    best = accuracy[methods].max(axis=1)
    gains = ", ".join(f"{n:,}: {(best[n] - accuracy.loc[n, 'from scratch']) * 100:+.1f}" for n in sizes)
    if isinstance(answer, (np.integer, float)) and float(answer).is_integer():
        answer = int(answer)
    if answer is not None and not _is_int(answer):
        raise Wrong(f"answer_06_3 should be a training-set size (an int from accuracy.index) or None, "
                    f"got {type(answer).__name__}.")
    if answer == want:
        if want is None:
            return (f"None: the best transfer method wins by more than {margin * 100:g} point at every "
                    f"size measured (points ahead of from scratch: {gains}). Where it would stop paying "
                    "lies beyond the largest training set here.")
        return (f"{want:,}: from there on, training from scratch is within {margin * 100:g} point of the "
                f"best transfer method (points ahead of from scratch: {gains}). Below it, the "
                "pretrained features are worth having.")
    if answer is not None and answer not in sizes:
        raise Wrong(f"{answer} is not one of the measured sizes {sizes}: answer one of them, or None.")
    hint = f" (the best transfer method's lead over from scratch, in points: {gains})"
    for column in methods:
        if answer == transfer_stops_paying(accuracy, margin, (column,)) and answer != want:
            raise Wrong(f"that compares from scratch with {column} only; compare with the best of "
                        f"{', '.join(methods)} at each size{hint}.")
    if answer == transfer_stops_paying(accuracy, margin * 100):
        raise Wrong(f"MARGIN is a fraction of the test set: 0.01 is one percentage point, like the "
                    f"accuracies in the table (0.812 = 81.2%). A margin of 1 would accept any gap{hint}.")
    if want is None:
        raise Wrong(f"at every size the best transfer method is ahead by more than {margin * 100:g} "
                    f"point, so the answer is None{hint}.")
    if answer is None:
        raise Wrong(f"at {want:,} photos from scratch comes within {margin * 100:g} point of the best "
                    f"transfer method, so the answer is a size, not None{hint}.")
    raise Wrong(f"expected the smallest size at which best transfer − from scratch ≤ {margin:g}; "
                f"got {answer:,}{hint}.")


# --------------------------------------------------------------------------- 06.4
def grad_cam_reference(feature_maps, grads) -> np.ndarray:
    """Grad-CAM's map for one image: ReLU(Σ_k α_k A_k) with α_k the mean over positions of
    the gradient. ``feature_maps``, ``grads``: ``(H, W, K)``; returns ``(H, W)``."""
    A = np.asarray(feature_maps, dtype="float64")
    g = np.asarray(grads, dtype="float64")
    return np.maximum((A * g.mean(axis=(0, 1))).sum(axis=-1), 0)


def small_model_maps(seed: int = 0):
    """Feature maps ``(6, 6, 5)`` and the gradient of a score with respect to them, from a
    small conv net whose head (Flatten + Dense) makes the gradient vary by position."""
    import keras
    import tensorflow as tf
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 3))
    maps = keras.layers.Conv2D(5, 3, activation="relu", name="maps")(inputs)       # (6, 6, 5)
    hidden = keras.layers.Dense(4, activation="tanh")(keras.layers.Flatten()(maps))
    score = keras.layers.Dense(1)(hidden)
    model = keras.Model(inputs, [maps, score])
    x = tf.constant(rng.normal(0, 1, (1, 8, 8, 3)), tf.float32)
    with tf.GradientTape() as tape:
        A, s = model(x)
        s = tf.reduce_sum(s)
    g = tape.gradient(s, A)
    return A.numpy()[0], g.numpy()[0]


def _cases():
    A, g = small_model_maps(0)
    rng = np.random.default_rng(1)
    A2 = np.maximum(rng.normal(0, 1, (4, 3, 7)), 0).astype("float32")
    g2 = rng.normal(0, 1, (4, 3, 7)).astype("float32")
    return [(A, g), (A2, g2)]


@exercise("06.4", "The Grad-CAM weighting step", stars=3,
          mistake="multiplying maps and gradients position by position (gradient × activation), "
                  "summing the gradients instead of averaging them, or leaving out the ReLU")
def check_06_4(answer) -> str:
    if not callable(answer):
        raise Wrong(f"answer_06_4 should be your function grad_cam_map(feature_maps, grads), got "
                    f"{type(answer).__name__}.")
    for A, g in _cases():
        h, w, k = A.shape
        want = grad_cam_reference(A, g)
        got = np.asarray(answer(A.copy(), g.copy()), dtype="float64")
        if got.shape == (h, w, k):
            raise Wrong(f"the map has shape {got.shape}, one value per channel too: sum the weighted "
                        f"feature maps over the channel axis (the last) to get ({h}, {w}).")
        if got.shape != (h, w):
            raise Wrong(f"for feature maps of shape {A.shape} the map should be ({h}, {w}), got "
                        f"{got.shape}: average the gradients over the positions (axes 0 and 1), one "
                        "weight per channel, then sum the weighted maps over the channels.")

        def same(x, y):
            return np.allclose(x, y, rtol=1e-4, atol=1e-6 * max(1.0, np.abs(y).max()))

        if same(got, want):
            continue
        raw = (A.astype("float64") * g.astype("float64").mean(axis=(0, 1))).sum(axis=-1)
        if same(got, raw):
            raise Wrong("the map has negative values: keep only the positive part (ReLU, e.g. "
                        "np.maximum(map, 0)). Grad-CAM shows the evidence *for* the class; negative "
                        "values mark evidence against it.")
        if same(got, np.abs(raw)):
            raise Wrong("np.abs turns evidence against the class into evidence for it: use ReLU, "
                        "np.maximum(map, 0), which sets the negative values to 0.")
        if want.max() > 0 and same(got, want * h * w):
            raise Wrong(f"the map is {h}×{w} = {h * w} times too large: you summed the gradients over "
                        "the positions; Grad-CAM averages them (mean over axes 0 and 1).")
        if want.max() > 0 and same(got, want / k):
            raise Wrong(f"the map is {k} times too small: you averaged the weighted maps over the "
                        "channels; Grad-CAM sums them.")
        if want.max() > 0 and same(got, want / want.max()):
            raise Wrong("the map is right up to its scale, but divided by its maximum: return it "
                        "without normalising (the drawing scales it).")
        if same(got, np.maximum((A * g).sum(axis=-1), 0)):
            raise Wrong("you multiplied each position's activations by that position's gradients "
                        "(gradient × activation). Grad-CAM first averages each channel's gradient over "
                        "all positions, giving one weight α_k per channel, then weights whole maps.")
        if same(got, np.maximum(A.astype("float64").sum(axis=-1) * g.mean(axis=-1), 0)) or \
                same(got, np.maximum((A * g.mean(axis=-1, keepdims=True)).sum(axis=-1), 0)):
            raise Wrong("you averaged the gradients over the channels; average them over the positions "
                        "instead (axes 0 and 1), which gives one weight per channel.")
        raise Wrong(f"for feature maps and gradients of shape {A.shape} the map differs from Grad-CAM's "
                    f"(largest difference {np.abs(got - want).max():.3g}): α = grads.mean(axis=(0, 1)), "
                    "then ReLU of (feature_maps · α) summed over the channels.")
    return ("α_k = mean of ∂score/∂A_k over the positions: how much channel k matters overall; "
            "Σ_k α_k A_k: where those channels fire; the ReLU keeps the evidence for the class. On a "
            "head with Flatten the gradients vary by position, so the averaging really does something.")


# --------------------------------------------------------------------------- 06.5
def spread_reference(drops, size: int, patch: int, stride: int) -> np.ndarray:
    """Each pixel's mean drop over the patches covering it (stride divides size - patch)."""
    from cnnlib import explain
    return explain.occlusion_map(drops, (size, size), patch, stride)


@exercise("06.5", "From drops to a map", stars=2,
          mistake="adding the overlapping patches' drops without dividing by how many covered "
                  "each pixel, or letting the last patch overwrite the others")
def check_06_5(answer, drops=None) -> str:
    if drops is None:
        raise Wrong("the check needs the drops: exercises.check(\"06.5\", answer_06_5, drops=example_drops).")
    if not callable(answer):
        raise Wrong(f"answer_06_5 should be your function spread_drops(drops, size, patch, stride), got "
                    f"{type(answer).__name__}.")
    rng = np.random.default_rng(0)
    drops = np.asarray(drops, dtype="float64")
    cases = [(drops, 32, 8, 4), (rng.normal(0, 0.2, (3, 3)), 12, 4, 4),
             (rng.normal(0, 0.2, (4, 4)), 10, 4, 2)]
    for d, size, patch, stride in cases:
        want = spread_reference(d, size, patch, stride)
        got = np.asarray(answer(d.copy(), size, patch, stride), dtype="float64")
        where = f"drops {d.shape}, size {size}, patch {patch}, stride {stride}"
        if got.shape != (size, size):
            raise Wrong(f"for {where} the map should be ({size}, {size}), one value per pixel, got "
                        f"{got.shape}: place each drop on the {patch}×{patch} pixels its patch covers "
                        f"(top-left corner at r·stride, c·stride).")
        if np.allclose(got, want, atol=1e-9):
            continue
        total = np.zeros((size, size))
        last = np.zeros((size, size))
        for r in range(d.shape[0]):
            for c in range(d.shape[1]):
                total[r * stride:r * stride + patch, c * stride:c * stride + patch] += d[r, c]
                last[r * stride:r * stride + patch, c * stride:c * stride + patch] = d[r, c]
        if np.allclose(got, total, atol=1e-9):
            raise Wrong(f"for {where} you added up the drops of the patches covering each pixel; divide "
                        "by how many patches covered it (keep a second array of counts), so that a pixel "
                        "covered four times is not worth four times as much.")
        if np.allclose(got, last, atol=1e-9):
            raise Wrong(f"for {where} each patch overwrote the ones before it (=), so a pixel keeps only "
                        "the last patch's drop; accumulate (+=) the drops and the counts, then divide.")
        raise Wrong(f"for {where} the map differs from the mean drop per pixel (largest difference "
                    f"{np.abs(got - want).max():.3g}): patch (r, c) covers rows r·stride to "
                    "r·stride + patch − 1 and the same for columns; average the drops of all the "
                    "patches that cover each pixel.")
    return ("Each pixel holds the mean drop of the patches that hid it: with stride 4 and patch 8 most "
            "pixels are hidden by four patches, so the map is smoother than the 7×7 grid and is "
            "comparable, pixel by pixel, with an upsampled Grad-CAM map.")
