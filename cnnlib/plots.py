"""Small, labelled matplotlib figures for the course notebooks.

Every function returns the ``matplotlib.figure.Figure`` it drew (the notebook shows it;
tests check it), with titled, labelled axes and a small ``figsize``; ``overlay_heatmap``
returns the ``Axes`` it drew on, so that several overlays can share one figure.

- data: ``image_grid``, ``class_grid``, ``class_counts``
- training: ``learning_curves``, ``learning_curve_grid``
- evaluation: ``confusion_matrix``, ``misclassified``, ``probability_bars``
- inside the network: ``filters``, ``feature_maps``, ``overlay_heatmap`` (Grad-CAM, saliency,
  occlusion maps over their image)
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["image_grid", "class_grid", "class_counts", "learning_curves", "learning_curve_grid",
           "confusion_matrix",
           "misclassified", "probability_bars", "filters", "feature_maps"]


def _labels(y) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    return y.reshape(-1).astype(int)


def _show_image(ax, img, cmap=None):
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.dtype != np.uint8:
        lo, hi = float(img.min()), float(img.max())
        if lo < 0 or hi > 1:  # standardised or 0..255 floats: rescale for display only
            img = (img - lo) / (hi - lo + 1e-12)
    ax.imshow(img, cmap=cmap if cmap is not None else ("gray" if img.ndim == 2 else None),
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _check_images(images) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"images must be a non-empty (n, H, W) or (n, H, W, C) array; got "
                         f"shape {images.shape}.")
    return images


def image_grid(images, titles=None, ncols: int = 8, cmap=None, title: str | None = None):
    """A grid of images. ``images``: ``(n, H, W)`` or ``(n, H, W, C)``, uint8 or floats;
    ``titles``: n short strings (or None)."""
    images = _check_images(images)
    n = len(images)
    if titles is not None and len(titles) != n:
        raise ValueError(f"{n} images but {len(titles)} titles: give one title per image.")
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(min(1.2 * ncols, 10), min(1.3 * nrows + 0.4, 7)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            _show_image(ax, images[i], cmap)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
        else:
            ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def class_grid(x, y, class_names, per_class: int = 8, cmap=None, seed: int = 0):
    """``per_class`` random examples of each class, one row per class (labelled on the left).
    ``x``: ``(n, H, W[, C])``; ``y``: ``(n,)`` / ``(n, 1)`` indices or one-hot."""
    x = _check_images(x)
    y = _labels(y)
    rng = np.random.default_rng(seed)
    k = len(class_names)
    fig, axes = plt.subplots(k, per_class, figsize=(min(0.9 * per_class, 10), min(0.9 * k + 0.3, 9)),
                             squeeze=False)
    for c in range(k):
        idx = np.flatnonzero(y == c)
        pick = rng.choice(idx, size=min(per_class, len(idx)), replace=False) if len(idx) else []
        for j in range(per_class):
            ax = axes[c, j]
            if j < len(pick):
                _show_image(ax, x[pick[j]], cmap)
            else:
                ax.set_xticks([])
                ax.set_yticks([])
        axes[c, 0].set_ylabel(str(class_names[c]), rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(f"{per_class} random examples per class")
    fig.tight_layout()
    return fig


def class_counts(y, class_names, title: str = "Images per class"):
    """Bar chart of how many labels ``y`` (indices or one-hot) fall in each class."""
    y = _labels(y)
    counts = np.bincount(y, minlength=len(class_names))
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.bar([str(c) for c in class_names], counts, color="tab:blue")
    ax.set_xlabel("class")
    ax.set_ylabel("images")
    ax.set_title(title)
    if len(class_names) > 6:
        ax.tick_params(axis="x", labelrotation=45)
    fig.tight_layout()
    return fig


def learning_curves(histories, metric: str = "accuracy", title: str | None = None):
    """Train (solid) and ``val_`` (dashed) curves of ``metric`` and of the loss, per epoch.

    ``histories``: one history DataFrame (from ``training.fit``: column ``epoch`` plus
    Keras log keys) or a dict ``name -> DataFrame`` to compare variants on the same axes.
    """
    if isinstance(histories, pd.DataFrame):
        histories = {"": histories}
    if not histories:
        raise ValueError("no histories to plot.")
    panels = [metric, "loss"] if metric != "loss" else ["loss"]
    fig, axes = plt.subplots(1, len(panels), figsize=(10 if len(panels) == 2 else 6, 3.5), squeeze=False)
    for ax, key in zip(axes.flat, panels):
        for i, (name, h) in enumerate(histories.items()):
            if key not in h:
                raise KeyError(f"history {name!r} has no {key!r} column; it has {list(h.columns)}.")
            epochs = h["epoch"] if "epoch" in h else np.arange(1, len(h) + 1)
            color = f"C{i}"
            prefix = f"{name} " if name else ""
            ax.plot(epochs, h[key], "-", color=color, label=f"{prefix}train")
            if f"val_{key}" in h:
                ax.plot(epochs, h[f"val_{key}"], "--", color=color, label=f"{prefix}validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def learning_curve_grid(histories, metric: str = "accuracy", ncols: int = 3,
                        title: str | None = None):
    """One small panel per history, all on the same axes (shared x and y), to compare
    many variants at a glance: train ``metric`` solid, ``val_`` dashed, the gap between
    them shaded. ``histories``: dict ``name -> DataFrame`` (from ``training.fit``:
    column ``epoch`` plus Keras log keys, including ``metric`` and ``val_<metric>``)."""
    if not isinstance(histories, dict) or not histories:
        raise ValueError("histories must be a non-empty dict name -> history DataFrame.")
    for name, h in histories.items():
        missing = [k for k in (metric, f"val_{metric}") if k not in h]
        if missing:
            raise KeyError(f"history {name!r} has no {missing} column(s); it has {list(h.columns)}.")
    n = len(histories)
    ncols = max(1, min(int(ncols), n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(10, min(2.2 * nrows + 0.6, 9)),
                             sharex=True, sharey=True, squeeze=False)
    for ax, (name, h) in zip(axes.flat, histories.items()):
        epochs = h["epoch"] if "epoch" in h else np.arange(1, len(h) + 1)
        ax.plot(epochs, h[metric], "-", color="C0", label="train")
        ax.plot(epochs, h[f"val_{metric}"], "--", color="C1", label="validation")
        ax.fill_between(epochs, h[f"val_{metric}"], h[metric], color="C3", alpha=0.12,
                        label="gap")
        ax.set_title(str(name), fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel(metric)
    axes.flat[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(cm, class_names, normalize: bool = False, title: str | None = None):
    """Heat map of a ``(k, k)`` confusion matrix (rows true class, columns predicted),
    each cell annotated. ``normalize=True`` shows each row as fractions of the true class."""
    cm = np.asarray(cm)
    k = len(class_names)
    if cm.shape != (k, k):
        raise ValueError(f"cm must be ({k}, {k}) for {k} class names; got {cm.shape}.")
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    size = min(3 + 0.5 * k, 8)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    im = ax.imshow(shown, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    names = [str(c) for c in class_names]
    ax.set_xticks(range(k), names, rotation=45 if k > 6 else 0, ha="right" if k > 6 else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or ("Confusion matrix (row-normalised)" if normalize else "Confusion matrix"))
    thresh = shown.max() / 2 if shown.size else 0
    for i in range(k):
        for j in range(k):
            txt = f"{shown[i, j]:.2f}" if normalize else f"{int(shown[i, j])}"
            ax.text(j, i, txt, ha="center", va="center", fontsize=7 if k > 6 else 9,
                    color="white" if shown[i, j] > thresh else "black")
    fig.tight_layout()
    return fig


def misclassified(x, y_true, y_pred, class_names, n: int = 16, ncols: int = 8, cmap=None, probs=None):
    """The first ``n`` misclassified images, titled ``true -> predicted`` (with the
    predicted probability when ``probs`` ``(n, k)`` is given)."""
    x = _check_images(x)
    yt, yp = _labels(y_true), _labels(y_pred)
    wrong = np.flatnonzero(yt != yp)[:n]
    if len(wrong) == 0:
        fig, ax = plt.subplots(figsize=(4, 1.5))
        ax.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("")
        ax.set_title("Misclassified images")
        return fig
    titles = []
    for i in wrong:
        t = f"{class_names[yt[i]]}→{class_names[yp[i]]}"
        if probs is not None:
            t += f" {np.asarray(probs)[i, yp[i]]:.0%}"
        titles.append(t)
    return image_grid(x[wrong], titles, ncols=ncols, cmap=cmap,
                      title=f"Misclassified: true → predicted ({len(wrong)} shown)")


def probability_bars(probs, class_names, true_label=None, title: str | None = None):
    """Bar chart of one prediction's class probabilities ``(k,)`` (or ``(1, k)``); the
    predicted class is highlighted, and the true one (index) marked when given."""
    probs = np.asarray(probs).reshape(-1)
    k = len(class_names)
    if probs.shape != (k,):
        raise ValueError(f"probs must hold one probability per class ({k}); got {probs.shape}.")
    colors = ["tab:gray"] * k
    colors[int(probs.argmax())] = "tab:blue"
    if true_label is not None and int(true_label) != int(probs.argmax()):
        colors[int(true_label)] = "tab:red"
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.bar([str(c) for c in class_names], probs, color=colors)
    ax.set_ylim(0, 1)
    ax.set_xlabel("class")
    ax.set_ylabel("predicted probability")
    if title is None:
        title = f"Prediction: {class_names[int(probs.argmax())]} ({probs.max():.1%})"
        if true_label is not None:
            title += f", true: {class_names[int(true_label)]}"
    ax.set_title(title)
    if k > 6:
        ax.tick_params(axis="x", labelrotation=45)
    fig.tight_layout()
    return fig


def filters(conv_kernel_weights, n: int | None = 32, ncols: int = 8, title: str = "First-layer filters"):
    """The filters of a conv layer: ``conv_kernel_weights`` is the kernel ``(kh, kw, c_in,
    c_out)`` (``layer.get_weights()[0]`` or ``layer.kernel``). RGB kernels (c_in = 3) are
    shown in colour, others as the mean over input channels in grey. Each filter is scaled
    to its own range."""
    w = np.asarray(conv_kernel_weights)
    if w.ndim != 4:
        raise ValueError(f"expected a conv kernel (kh, kw, c_in, c_out); got shape {w.shape}. "
                         f"Pass layer.get_weights()[0] of a Conv2D layer.")
    w = np.moveaxis(w, -1, 0)[: n or None]  # (c_out, kh, kw, c_in)
    if w.shape[-1] != 3:
        w = w.mean(axis=-1)
    lo = w.reshape(len(w), -1).min(axis=1).reshape((-1,) + (1,) * (w.ndim - 1))
    hi = w.reshape(len(w), -1).max(axis=1).reshape((-1,) + (1,) * (w.ndim - 1))
    w = (w - lo) / (hi - lo + 1e-12)
    return image_grid(w, [str(i) for i in range(len(w))], ncols=ncols, cmap="gray" if w.ndim == 3 else None,
                      title=title)


def feature_maps(model_or_maps, image=None, layer_name: str | None = None, n: int = 16, ncols: int = 8,
                 title: str | None = None):
    """Feature maps: the activations of one layer for one image.

    Either ``feature_maps(model, image, layer_name)`` (``image``: ``(H, W, C)``; the named
    layer's output is computed through a sub-model), or ``feature_maps(maps)`` with the
    activations themselves, ``(h, w, channels)`` or ``(1, h, w, channels)``.
    """
    if image is not None:
        import keras
        model = model_or_maps
        if layer_name is None:
            convs = [l.name for l in model.layers if isinstance(l, keras.layers.Conv2D)]
            if not convs:
                raise ValueError("the model has no Conv2D layer: pass layer_name.")
            layer_name = convs[0]
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        sub = keras.Model(inputs, model.get_layer(layer_name).output)
        maps = np.asarray(sub(np.asarray(image)[None].astype("float32"), training=False))
        title = title or f"Feature maps of layer {layer_name!r}"
    else:
        maps = np.asarray(model_or_maps)
    if maps.ndim == 4:
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"feature maps must be (h, w, channels); got {maps.shape}.")
    maps = np.moveaxis(maps, -1, 0)[:n]
    return image_grid(maps, [str(i) for i in range(len(maps))], ncols=ncols, cmap="viridis",
                      title=title or "Feature maps")


def overlay_heatmap(image, heat, ax=None, alpha: float = 0.45, cmap: str = "jet",
                    title: str | None = None):
    """A heat map drawn over the image it explains (Grad-CAM, saliency, occlusion).

    ``image``: ``(H, W, C)`` or ``(H, W)``, uint8, or floats in 0..255 or 0..1; ``heat``:
    any non-negative ``(h, w)`` map, bilinearly upsampled to ``(H, W)`` and divided by its
    maximum so that it spans 0..1 (an all-zero map stays 0). Draws on ``ax`` (a new small
    figure if None) and returns the **Axes**, so that several overlays can share a figure.
    """
    from .explain import upsample
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim not in (2, 3) or img.size == 0 or (img.ndim == 3 and img.shape[-1] not in (3, 4)):
        raise ValueError(f"image must be one (H, W), (H, W, 1) or (H, W, 3) image; got shape "
                         f"{img.shape}.")
    heat = np.asarray(heat, dtype=np.float64)
    if heat.ndim == 3 and heat.shape[-1] == 1:
        heat = heat[..., 0]
    if heat.ndim != 2 or heat.size == 0:
        raise ValueError(f"heat must be a (h, w) map; got shape {heat.shape}.")
    if not np.isfinite(heat).all() or (heat < 0).any():
        raise ValueError("heat must be finite and non-negative. Fix: np.maximum(heat, 0) (as "
                         "Grad-CAM's ReLU does) or np.abs(heat) for a saliency map.")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be between 0 and 1; got {alpha!r}.")
    if img.dtype != np.uint8:
        img = img.astype(np.float64)
        img = np.clip(img / 255.0 if img.max() > 1 else img, 0, 1)
    if heat.shape != img.shape[:2]:
        heat = np.maximum(upsample(heat, img.shape[:2]).astype(np.float64), 0)
    top = heat.max()
    heat = heat / top if top > 0 else heat
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest")
    ax.imshow(heat, cmap=cmap, alpha=alpha, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return ax


__all__.append("overlay_heatmap")
