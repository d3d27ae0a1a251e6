"""What the network looks at: the helpers that would otherwise repeat on every page.

The Grad-CAM and saliency maths stays on the notebook page (``tf.GradientTape``); this
module holds what is not the lesson: an occlusion sweep (hide a patch, watch the
probability drop), resizing a coarse map to the image, and ways to compare maps with each
other or with a region of the image.

- occlusion: ``occlusion_sweep``, ``occlusion_map``, ``occlusion_positions``
- maps: ``upsample``, ``mass_inside``, ``rank_agreement``, ``top_overlap``

Shapes: an image is ``(H, W, C)`` as the model takes it; a heat map is ``(h, w)``, often
coarser than the image (a Grad-CAM map has the last conv layer's resolution).
"""
from __future__ import annotations

import numpy as np

__all__ = ["occlusion_positions", "occlusion_sweep", "occlusion_map", "upsample", "mass_inside",
           "rank_agreement", "top_overlap"]


# --------------------------------------------------------------------------- occlusion
def occlusion_positions(size: int, patch: int, stride: int) -> np.ndarray:
    """The top-left coordinates of a patch sliding along one axis of length ``size``:
    ``0, stride, 2*stride, ...`` up to ``size - patch``, with ``size - patch`` itself
    appended when the stride skips it, so the last row/column is always covered."""
    size, patch, stride = int(size), int(patch), int(stride)
    if not 1 <= patch <= size:
        raise ValueError(f"patch must be between 1 and the image size ({size}); got {patch}.")
    if not 1 <= stride <= patch:
        raise ValueError(f"stride must be between 1 and patch ({patch}) so that every pixel is "
                         f"covered; got {stride}.")
    pos = list(range(0, size - patch + 1, stride))
    if pos[-1] != size - patch:
        pos.append(size - patch)
    return np.asarray(pos)


def _fill_value(image: np.ndarray, fill) -> np.ndarray:
    channels = image.shape[-1]
    if fill is None:
        # float64 accumulation: the mean of a constant image is exactly that constant
        return image.astype(np.float64).mean(axis=(0, 1)).astype(image.dtype)
    value = np.asarray(fill, dtype=np.float64).reshape(-1)
    if value.size not in (1, channels):
        raise ValueError(f"fill must be None, a number or one value per channel ({channels}); "
                         f"got {fill!r}.")
    return np.broadcast_to(value, (channels,)).astype(image.dtype)


def _class_probability(out, label: int, from_logits: bool) -> np.ndarray:
    out = np.asarray(out, dtype=np.float64)
    if out.ndim != 2:
        raise ValueError(f"the model must output (n, classes) scores; got shape {out.shape}.")
    k = out.shape[1]
    if k == 1:
        if label not in (0, 1):
            raise ValueError(f"a 1-unit (sigmoid) output has labels 0 and 1; got label {label}.")
        p = 1 / (1 + np.exp(-out[:, 0])) if from_logits else out[:, 0]
        return p if label == 1 else 1 - p
    if not 0 <= label < k:
        raise ValueError(f"label must be a class index in 0..{k - 1}; got {label}.")
    if from_logits:
        z = out - out.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e[:, label] / e.sum(axis=1)
    return out[:, label]


def occlusion_sweep(model, image, label: int, *, patch: int = 8, stride: int = 4, fill=None,
                    batch_size: int = 256, from_logits: bool = False) -> np.ndarray:
    """How much the probability of class ``label`` drops when a square patch hides each
    part of ``image``.

    ``image``: ``(H, W, C)``, as the model takes it (same scale and dtype it was trained
    on). A ``patch`` x ``patch`` square, filled with ``fill`` (None: the image's mean colour
    per channel; or a number; or one value per channel), slides over the image with top-left
    corners ``occlusion_positions(H, patch, stride)`` x ``occlusion_positions(W, patch,
    stride)``. All occluded copies are predicted, ``batch_size`` at a time, with the
    unoccluded image in the first batch as the reference.

    The model outputs probabilities (softmax, or one sigmoid unit: label 1 is ``p``, label 0
    is ``1 - p``) or, with ``from_logits=True``, logits. Returns ``(rows, cols)`` floats:
    the reference probability minus the occluded one (positive: the patch hid evidence for
    ``label``). Spread it over the pixels with ``occlusion_map``.
    """
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"image must be one (H, W, C) image; got shape {image.shape}. For a "
                         f"batch, pass images[i]; for a grey (H, W) image, add image[..., None].")
    if not np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float32)
    if int(batch_size) < 2:
        raise ValueError(f"batch_size must be >= 2; got {batch_size}.")
    label = int(label)
    h, w, _ = image.shape
    ys, xs = occlusion_positions(h, patch, stride), occlusion_positions(w, patch, stride)
    value = _fill_value(image, fill)
    corners = [(y, x) for y in ys for x in xs]

    # the first batch holds the unoccluded reference image, then batch_size - 1 positions
    chunks, i = [], 0
    while i < len(corners):
        n = batch_size - 1 if not chunks else batch_size
        chunks.append(corners[i:i + n])
        i += n
    probs = []
    for c, chunk in enumerate(chunks):
        batch = np.repeat(image[None], len(chunk) + (c == 0), axis=0)
        for j, (y, x) in enumerate(chunk, start=int(c == 0)):
            batch[j, y:y + patch, x:x + patch, :] = value
        probs.append(_class_probability(model(batch, training=False), label, from_logits))
    probs = np.concatenate(probs)
    return (probs[0] - probs[1:]).reshape(len(ys), len(xs))


def occlusion_map(drops, image_shape, patch: int, stride: int) -> np.ndarray:
    """Spread an ``occlusion_sweep`` result ``(rows, cols)`` over the image's pixels:
    each pixel gets the mean drop of all the patch positions that covered it. Returns
    ``(H, W)`` floats, comparable with an upsampled Grad-CAM map. ``image_shape``:
    ``(H, W)`` or ``(H, W, C)``; ``patch`` and ``stride`` as given to the sweep."""
    drops = np.asarray(drops, dtype=np.float64)
    h, w = (int(d) for d in tuple(image_shape)[:2])
    ys, xs = occlusion_positions(h, patch, stride), occlusion_positions(w, patch, stride)
    if drops.shape != (len(ys), len(xs)):
        raise ValueError(f"drops has shape {drops.shape}, but a {patch}-pixel patch at stride "
                         f"{stride} over a {h}x{w} image gives {(len(ys), len(xs))} positions: "
                         f"pass the same image_shape, patch and stride as to occlusion_sweep.")
    total = np.zeros((h, w))
    count = np.zeros((h, w))
    for r, y in enumerate(ys):
        for c, x in enumerate(xs):
            total[y:y + patch, x:x + patch] += drops[r, c]
            count[y:y + patch, x:x + patch] += 1
    return total / count


# --------------------------------------------------------------------------- maps
def _as_map(heat, what: str) -> np.ndarray:
    heat = np.asarray(heat, dtype=np.float64)
    if heat.ndim == 3 and heat.shape[-1] == 1:
        heat = heat[..., 0]
    if heat.ndim != 2 or heat.size == 0:
        raise ValueError(f"{what} must be a non-empty (h, w) map; got shape {heat.shape}.")
    return heat


def upsample(heat, size) -> np.ndarray:
    """Bilinear resize of a ``(h, w)`` map to ``size`` = ``(H, W)`` (TensorFlow's
    ``tf.image.resize``, half-pixel centres, edges clamped). Returns ``(H, W)`` float32."""
    import tensorflow as tf
    heat = _as_map(heat, "heat")
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be (H, W) with both >= 1; got {size!r}.")
    out = tf.image.resize(heat[None, :, :, None].astype(np.float32), size, method="bilinear")
    return out.numpy()[0, :, :, 0]


def mass_inside(heat, mask) -> float:
    """The fraction of a non-negative heat map's total mass that falls inside ``mask``
    (boolean ``(H, W)``). A ``(h, w)`` map of another shape is first upsampled to the
    mask's. 1.0: all attention inside; the mask's share of the pixels is what a uniform map
    scores. An all-zero map returns nan."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype != bool:
        raise ValueError(f"mask must be a boolean (H, W) array; got {mask.dtype} {mask.shape}.")
    heat = _as_map(heat, "heat")
    if (heat < 0).any():
        raise ValueError("heat has negative values: mass_inside needs a non-negative map. Fix: "
                         "np.maximum(heat, 0) (as Grad-CAM's ReLU does) or np.abs(heat).")
    if heat.shape != mask.shape:
        heat = np.maximum(upsample(heat, mask.shape).astype(np.float64), 0)
    total = heat.sum()
    if total == 0:
        return float("nan")
    return float(heat[mask].sum() / total)


def _same_shape(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"the two maps must have the same shape (and 2+ values); got {a.shape} "
                         f"and {b.shape}. Fix: upsample(small, big.shape) first.")
    return a.reshape(-1), b.reshape(-1)


def rank_agreement(a, b) -> float:
    """Spearman rank correlation of two maps of the same shape (flattened): 1 when they
    order the pixels the same way, -1 when in reverse, about 0 when unrelated. nan when
    either map is constant."""
    from scipy.stats import spearmanr
    a, b = _same_shape(a, b)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def top_overlap(a, b, fraction: float = 0.1) -> float:
    """The share of the top ``fraction`` of ``a``'s pixels (highest values) that are also in
    the top ``fraction`` of ``b``'s. Two unrelated maps score about ``fraction`` (chance);
    identical ones 1. Ties are broken by pixel order."""
    a, b = _same_shape(a, b)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction!r}.")
    k = max(1, int(round(fraction * a.size)))
    top_a = np.argsort(-a, kind="stable")[:k]
    top_b = np.argsort(-b, kind="stable")[:k]
    return float(np.intersect1d(top_a, top_b).size / k)
