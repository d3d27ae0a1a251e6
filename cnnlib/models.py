"""Model builders: the classic tutorial recipes, repaired only where they no longer run,
and the course's improved models.

Every builder returns an **uncompiled** ``keras.Model``: compiling (optimizer, loss,
metrics, learning-rate schedule) is part of each lesson and happens in the notebook,
next to the ``fit`` call it configures. Inputs are float images scaled to [0, 1],
channels last: ``(n, H, W, C)``. Outputs are class probabilities (softmax).

Classic recipes (see the course's reference notes for what each measured):

- ``classic_mnist`` (R0): Conv2D(28, 3x3) with *no activation* (a quirk kept on purpose:
  the convolution is then linear and only the max-pool adds a non-linearity), MaxPool,
  Flatten, Dense(128, relu), Dropout(0.2), Dense(10, softmax). 607,394 parameters.
- ``classic_cifar10`` (R3, the common "GfG" version): Conv(32)-Pool-Conv(64)-Pool-Conv(64),
  all 3x3 'same' relu, Flatten, Dense(64, relu), Dense(10, softmax). 319,178 parameters.
- ``classic_cifar10_r2`` (R2) with its input bug fixed (the tutorial declared 64x64
  inputs for 32x32 images). 315,722 parameters.

Improved models:

- ``improved_mnist``: three conv-BN-ReLU blocks with max-pooling, dropout.
- ``fast_cifar10``: an airbench-style network of conv-pool-BN-activation groups, with
  optional flip-and-translate augmentation as Keras preprocessing layers (active only
  in training).
- ``folder_classifier``: conv-BN-ReLU blocks for photos streamed from a folder
  (``cnnlib.folders.image_dataset``); takes raw 0..255 pixels, sigmoid head for two classes;
  optionally starts with ``StainCrop``, which cuts out the stained cell of a micrograph.
"""
from __future__ import annotations

import keras
from keras import layers

__all__ = ["classic_mnist", "classic_cifar10", "classic_cifar10_r2", "improved_mnist",
           "fast_cifar10", "patch_whitening", "augmentation", "folder_classifier",
           "PerImageStandardization", "StainCrop"]


def _check_shape(input_shape, name):
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"{name}: input_shape must be (height, width, channels), e.g. (28, 28, 1); "
                         f"got {input_shape!r}.")
    return shape


def _check_classes(num_classes, name):
    if int(num_classes) < 2:
        raise ValueError(f"{name}: num_classes must be >= 2, got {num_classes!r}.")
    return int(num_classes)


def layer_table(model: keras.Model):
    """A model's layers as a pandas DataFrame (columns ``layer``, ``type``, ``output shape``,
    ``parameters``): ``model.summary()`` as plain data, for notebooks and tests."""
    import pandas as pd
    rows = []
    for layer in model.layers:
        try:
            shape = tuple(layer.output.shape)[1:]
        except (AttributeError, ValueError):
            shape = None
        rows.append({"layer": layer.name, "type": type(layer).__name__,
                     "output shape": "×".join(str(d) for d in shape) if shape else "",
                     "parameters": int(layer.count_params())})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- classic recipes
def classic_mnist(input_shape=(28, 28, 1), num_classes: int = 10) -> keras.Model:
    """R0, the classic Keras MNIST recipe (uncompiled; the recipe compiles it with
    ``adam`` and ``sparse_categorical_crossentropy`` and fits 10 epochs at batch 32).

    Quirk kept on purpose: the Conv2D(28, 3x3) layer has **no activation**.
    Input ``(n, 28, 28, 1)`` in [0, 1]; output ``(n, 10)`` probabilities. 607,394 parameters.
    """
    shape = _check_shape(input_shape, "classic_mnist")
    k = _check_classes(num_classes, "classic_mnist")
    return keras.Sequential([
        keras.Input(shape=shape),
        layers.Conv2D(28, kernel_size=(3, 3), name="conv"),          # no activation: the quirk
        layers.MaxPooling2D(pool_size=(2, 2), name="pool"),
        layers.Flatten(name="flatten"),
        layers.Dense(128, activation="relu", name="dense"),
        layers.Dropout(0.2, name="dropout"),
        layers.Dense(k, activation="softmax", name="probs"),
    ], name="classic_mnist")


def classic_cifar10(input_shape=(32, 32, 3), num_classes: int = 10) -> keras.Model:
    """R3, the common "GfG" CIFAR-10 recipe (uncompiled; the recipe compiles it with
    ``adam`` and ``categorical_crossentropy`` on one-hot labels and fits 15 epochs at
    batch 64 with ``validation_split=0.2``).

    Input ``(n, 32, 32, 3)`` in [0, 1]; output ``(n, 10)`` probabilities. 319,178 parameters.
    """
    shape = _check_shape(input_shape, "classic_cifar10")
    k = _check_classes(num_classes, "classic_cifar10")
    return keras.Sequential([
        keras.Input(shape=shape),
        layers.Conv2D(32, (3, 3), activation="relu", padding="same", name="conv1"),
        layers.MaxPooling2D((2, 2), name="pool1"),
        layers.Conv2D(64, (3, 3), activation="relu", padding="same", name="conv2"),
        layers.MaxPooling2D((2, 2), name="pool2"),
        layers.Conv2D(64, (3, 3), activation="relu", padding="same", name="conv3"),
        layers.Flatten(name="flatten"),
        layers.Dense(64, activation="relu", name="dense"),
        layers.Dense(k, activation="softmax", name="probs"),
    ], name="classic_cifar10")


def classic_cifar10_r2(input_shape=(32, 32, 3), num_classes: int = 10) -> keras.Model:
    """R2, the TF/Keras CIFAR-10 tutorial recipe, with its bug fixed: the tutorial
    declared ``input_shape=(64, 64, 3)`` for 32x32 images. Uncompiled (the recipe uses
    ``adam``, ``categorical_crossentropy``, 10 epochs). 315,722 parameters at 32x32."""
    shape = _check_shape(input_shape, "classic_cifar10_r2")
    k = _check_classes(num_classes, "classic_cifar10_r2")
    return keras.Sequential([
        keras.Input(shape=shape),
        layers.Conv2D(32, (3, 3), activation="relu", name="conv1"),
        layers.MaxPooling2D((2, 2), name="pool1"),
        layers.Conv2D(64, (3, 3), activation="relu", name="conv2"),
        layers.MaxPooling2D((2, 2), name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(128, activation="relu", name="dense"),
        layers.Dense(k, activation="softmax", name="probs"),
    ], name="classic_cifar10_r2")


# --------------------------------------------------------------------------- improved models
def augmentation(flip: bool = True, translate: float = 2 / 32, seed: int | None = None,
                 name: str = "augment") -> keras.Sequential:
    """Random horizontal flips and translations of up to ``translate`` of the image size
    (reflect-padded, nearest pixel), as Keras preprocessing layers. They only act when
    the model is called with ``training=True`` (inside ``fit``); at prediction they pass
    images through unchanged."""
    steps = []
    if flip:
        steps.append(layers.RandomFlip("horizontal", seed=seed, name=f"{name}_flip"))
    if translate:
        steps.append(layers.RandomTranslation(translate, translate, fill_mode="reflect",
                                              interpolation="nearest", seed=seed,
                                              name=f"{name}_translate"))
    return keras.Sequential(steps, name=name)


@keras.saving.register_keras_serializable(package="cnnlib")
class FusedBatchNorm(layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` computed with TensorFlow's fused kernel.

    Same weights, same maths and same saved format as the Keras layer, but on 4-D
    channels-last inputs it calls ``FusedBatchNormV3``: one kernel instead of about ten
    element-wise ops, which makes conv-BN networks train about twice as fast on a CPU
    (Keras 3 itself uses the unfused ops). Other inputs, or other backends, fall back to
    the Keras implementation. Input and output ``(n, H, W, C)``.
    """

    def _fusable(self, inputs, mask):
        return (keras.backend.backend() == "tensorflow" and mask is None and len(inputs.shape) == 4
                and self.axis in (-1, 3) and self.scale and self.center and not self.renorm
                and not self.synchronized and inputs.dtype == "float32")

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf
        if training and self.trainable:
            y, mean, var, *_ = tf.raw_ops.FusedBatchNormV3(
                x=inputs, scale=self.gamma, offset=self.beta, mean=tf.zeros([0]),
                variance=tf.zeros([0]), epsilon=self.epsilon, is_training=True, data_format="NHWC")
            n = tf.cast(tf.reduce_prod(tf.shape(inputs)[:3]), var.dtype)
            var = var * (n - 1.0) / n  # the kernel returns the unbiased variance; Keras keeps the biased one
            m = self.momentum
            self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
            self.moving_variance.assign(self.moving_variance * m + var * (1.0 - m))
            return y
        y, *_ = tf.raw_ops.FusedBatchNormV3(
            x=inputs, scale=self.gamma, offset=self.beta, mean=self.moving_mean,
            variance=self.moving_variance, epsilon=self.epsilon, is_training=False, data_format="NHWC")
        return y


def _conv_bn_act(x, filters, name, activation="relu", kernel_size=3, momentum=0.99,
                 strides=1, padding="same"):
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=False,
                      name=f"{name}_conv")(x)
    x = FusedBatchNorm(momentum=momentum, name=f"{name}_bn")(x)
    return layers.Activation(activation, name=f"{name}_act")(x)


def improved_mnist(input_shape=(28, 28, 1), num_classes: int = 10, widths=(32, 64, 128),
                   dropout: float = 0.3, translate: float = 0.0) -> keras.Model:
    """A small conv-BN-ReLU network built for CPU speed. Uncompiled.

    One convolution per resolution (5x5 on the input, then 3x3), each followed by batch
    norm and ReLU, with a 2x2 max-pool between resolutions (28 -> 14 -> 7 for the default
    three ``widths``), then Flatten, Dropout and a Dense softmax. Most of the work happens
    after the first pooling, which keeps it fast on a CPU.
    ``translate``: if > 0, random shifts of up to that fraction of the image as an
    augmentation layer (no flips: digits are not mirror-symmetric).
    Input ``(n, 28, 28, 1)`` in [0, 1]; output ``(n, num_classes)`` probabilities.
    """
    shape = _check_shape(input_shape, "improved_mnist")
    k = _check_classes(num_classes, "improved_mnist")
    if not widths:
        raise ValueError("improved_mnist: widths must name at least one block's filters.")
    inputs = keras.Input(shape=shape)
    x = inputs
    if translate:
        x = augmentation(flip=False, translate=translate)(x)
    for b, w in enumerate(widths, 1):
        x = _conv_bn_act(x, w, f"block{b}", kernel_size=5 if b == 1 else 3)
        if b < len(widths):
            x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(k, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="improved_mnist")


def patch_whitening(x, patch: int = 2, eps: float = 5e-4, max_images: int = 10_000):
    """Weights of a frozen first convolution that PCA-whitens ``patch`` x ``patch`` patches.

    ``x``: training images ``(n, H, W, C)``, floats (the first ``max_images`` are used).
    Returns ``(kernel, bias)``: kernel ``(patch, patch, C, 2 * d)`` and bias ``(2 * d,)`` with
    ``d = patch * patch * C``. Each of the ``d`` principal directions of the mean-centred
    patches (largest first) becomes a filter scaled by ``1 / sqrt(eigenvalue + eps * mean
    eigenvalue)``, so that its output has about unit variance; the filters come in pairs
    ``(f, -f)`` so that a ReLU after them keeps both signs. The bias subtracts the mean patch.
    As in airbench (Keller Jordan), which freezes this layer.
    """
    import numpy as np
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[0] < 1:
        raise ValueError(f"patch_whitening: x must be images (n, H, W, C), got shape {x.shape}.")
    if not (isinstance(patch, int) and 1 <= patch <= min(x.shape[1:3])):
        raise ValueError(f"patch_whitening: patch must be an integer from 1 to the image size, got {patch!r}.")
    x = x[:max_images].astype("float64")
    c = x.shape[-1]
    windows = np.lib.stride_tricks.sliding_window_view(x, (patch, patch), axis=(1, 2))  # (n, h', w', C, p, p)
    patches = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, patch * patch * c)         # rows (kh, kw, C)
    mean = patches.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(patches, rowvar=False))
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]                 # largest first
    filters = eigenvectors / np.sqrt(eigenvalues + eps * eigenvalues.mean())            # (d, d): a filter per column
    filters = np.concatenate([filters, -filters], axis=1)
    kernel = filters.reshape(patch, patch, c, -1).astype("float32")
    bias = (-mean @ filters).astype("float32")
    return kernel, bias


def fast_cifar10(input_shape=(32, 32, 3), num_classes: int = 10, widths=(32, 96, 192),
                 stem: int = 24, augment: bool = True, translate: float = 2 / 32,
                 activation: str = "relu", head_scale: float = 1 / 8,
                 bn_momentum: float = 0.9, whitening=None) -> keras.Model:
    """An airbench-style fast CIFAR-10 network. Uncompiled.

    Layout: [augmentation] -> stem conv-BN-act (``stem`` filters) -> for each width: a
    group ``conv -> max-pool -> BN -> act -> conv -> BN -> act`` (pooling before the BN
    halves its cost) -> global max-pool -> Dense (no bias) scaled by ``head_scale`` ->
    softmax. Input ``(n, 32, 32, 3)`` in [0, 1]; output ``(n, num_classes)`` probabilities.
    ``whitening``: ``(kernel, bias)`` from ``patch_whitening``; the stem is then that frozen
    patch-whitening convolution ('valid' padding) and an activation, with no batch norm.

    Narrow at full resolution and wide at low resolution, where convolutions are cheap: the
    compute per image stays small for a CPU. ``bn_momentum`` 0.9 lets the batch-norm
    running statistics keep up in a short, few-epoch training. The scaled-down logits
    (``head_scale``, as in fast CIFAR-10 training work) keep early training stable at high
    learning rates.
    """
    shape = _check_shape(input_shape, "fast_cifar10")
    k = _check_classes(num_classes, "fast_cifar10")
    inputs = keras.Input(shape=shape)
    x = inputs
    if augment:
        x = augmentation(flip=True, translate=translate)(x)
    if whitening is None:
        x = _conv_bn_act(x, stem, "stem", activation, momentum=bn_momentum)
    else:
        kernel, bias = whitening
        whiten = layers.Conv2D(kernel.shape[-1], kernel.shape[0], padding="valid", trainable=False,
                               name="whiten")
        x = layers.Activation(activation, name="whiten_act")(whiten(x))
        whiten.set_weights([kernel, bias])
    for g, w in enumerate(widths, 1):
        x = layers.Conv2D(w, 3, padding="same", use_bias=False, name=f"group{g}_conv1")(x)
        x = layers.MaxPooling2D(2, name=f"group{g}_pool")(x)
        x = FusedBatchNorm(momentum=bn_momentum, name=f"group{g}_bn1")(x)
        x = layers.Activation(activation, name=f"group{g}_act1")(x)
        x = _conv_bn_act(x, w, f"group{g}_b", activation, momentum=bn_momentum)
    x = layers.GlobalMaxPooling2D(name="global_pool")(x)
    x = layers.Dense(k, use_bias=False, name="logits")(x)
    x = layers.Rescaling(head_scale, name="logit_scale")(x)
    outputs = layers.Activation("softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="fast_cifar10")


# --------------------------------------------------------------------------- folder-of-images classifier
@keras.saving.register_keras_serializable(package="cnnlib")
class PerImageStandardization(layers.Layer):
    """Shift and scale each image to mean 0 and standard deviation 1 over all its pixels and
    channels (``tf.image.per_image_standardization``). It removes differences of overall
    brightness and contrast between photos (lighting, stain strength); it has no weights
    and acts the same in training and prediction. Input and output ``(n, H, W, C)``."""

    def call(self, x):
        import tensorflow as tf
        return tf.image.per_image_standardization(x)


def _pixel_pair(value, what: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        h, w = pair
        ok = all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (h, w))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"StainCrop: {what} must be a positive integer or a pair (height, width) of them, "
                         f"got {value!r}; e.g. {what}=160.")
    return int(h), int(w)


@keras.saving.register_keras_serializable(package="cnnlib")
class StainCrop(layers.Layer):
    """Cut out the stained object of each micrograph: a ``box`` window centred on it,
    resized to ``size``. Input ``(n, H, W, 3)`` float RGB **in 0..255**; output
    ``(n, size[0], size[1], 3)``, same scale. ``box`` and ``size``: ``(height, width)``
    in pixels, or one integer for a square.

    A pixel's *stain score* is ``max(blue - green - threshold, 0)``: high on the purple
    nucleus of a Wright/Giemsa-stained white cell, zero on pink red cells, on the pale
    background and on black corners. The window is centred on the score-weighted centroid
    of the image (its centre when no pixel scores); any part of the window outside the
    image is black. There are no weights, and training and prediction crop alike, so a
    saved model still takes the whole image.
    """

    def __init__(self, box=160, size=112, threshold: float = 60.0, **kwargs):
        super().__init__(**kwargs)
        self.box = _pixel_pair(box, "box")
        self.size = _pixel_pair(size, "size")
        if not 0 <= float(threshold) < 255:
            raise ValueError(f"StainCrop: threshold is a level of blue minus green in [0, 255), "
                             f"got {threshold!r}; e.g. threshold=60.")
        self.threshold = float(threshold)

    def centres(self, images):
        """Stain centroids ``(n, 2)`` as (row, column) pixel coordinates of ``images``."""
        import tensorflow as tf
        images = tf.convert_to_tensor(images, tf.float32)
        h, w = images.shape[1], images.shape[2]
        score = tf.nn.relu(images[..., 2] - images[..., 1] - self.threshold)       # (n, H, W)
        total = tf.reduce_sum(score, axis=[1, 2])
        rows = tf.reduce_sum(score * tf.range(h, dtype=tf.float32)[:, None], axis=[1, 2])
        cols = tf.reduce_sum(score * tf.range(w, dtype=tf.float32)[None, :], axis=[1, 2])
        stained = total > 0
        safe = tf.where(stained, total, 1.0)
        return tf.stack([tf.where(stained, rows / safe, (h - 1) / 2),
                         tf.where(stained, cols / safe, (w - 1) / 2)], axis=1)

    def call(self, images):
        import tensorflow as tf
        images = tf.cast(images, tf.float32)
        h, w = images.shape[1], images.shape[2]
        centre = self.centres(images)
        # crop_and_resize takes boxes as fractions of (H - 1, W - 1): the first and last pixel
        half_h, half_w = (self.box[0] - 1) / 2, (self.box[1] - 1) / 2
        boxes = tf.stack([(centre[:, 0] - half_h) / (h - 1), (centre[:, 1] - half_w) / (w - 1),
                          (centre[:, 0] + half_h) / (h - 1), (centre[:, 1] + half_w) / (w - 1)], axis=1)
        return tf.image.crop_and_resize(images, boxes, tf.range(tf.shape(images)[0]), self.size,
                                        extrapolation_value=0.0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.size, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "box": list(self.box), "size": list(self.size),
                "threshold": self.threshold}


def folder_classifier(image_size=(96, 128), num_classes: int = 2, widths=(16, 32, 64, 128),
                      convs_per_block: int = 1, augment: bool = True, jitter: float = 0.2,
                      standardize: bool = True, dropout: float = 0.3, patch: int | None = None,
                      rotate: bool = False, shift: float = 0.0, crop: StainCrop | None = None,
                      name: str = "folder_classifier") -> keras.Model:
    """A CNN for photos or micrographs streamed by ``cnnlib.folders.image_dataset``. Uncompiled.

    Input ``(n, H, W, 3)`` float pixels **in 0..255** (what ``image_dataset`` and
    ``keras.utils.image_dataset_from_directory`` yield), so saved models take raw pixels.
    ``image_size``: ``(H, W)``.

    Layout: [``crop``: a ``StainCrop`` layer, which cuts a window around the stained cell
    out of the whole image, so everything after it sees ``crop.size`` pixels] ->
    [augmentation, training only: random flips in both directions (cells and
    leaves have no up or down), random brightness and contrast of up to ``jitter``;
    ``rotate``: a random rotation by any angle, black corners filled in, as the Kaggle
    blood-cell augmentation did; ``shift``: random translation by up to that fraction] ->
    rescale to 0..1 -> [``PerImageStandardization`` when ``standardize``] -> [``patch``: a
    *patchify stem*, one ``patch x patch`` convolution with stride ``patch`` (ConvNeXt's
    stem), then BN and ReLU: it reads every full-resolution pixel once and hands the blocks
    a ``patch``-times smaller map, so a large image costs little more than a small one] ->
    for each width a block of ``convs_per_block`` conv-BN-ReLU then 2x2 max-pool -> global average
    pooling (so the parameter count does not depend on the image size) -> dropout ->
    output. Two classes give ``Dense(1, sigmoid)`` (binary cross-entropy; output
    ``(n, 1)`` = P(second class)); more give ``Dense(k, softmax)``, output ``(n, k)``.
    """
    try:
        h, w = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"folder_classifier: image_size must be (height, width), got {image_size!r}.") from None
    if crop is not None and not isinstance(crop, StainCrop):
        raise ValueError(f"folder_classifier: crop must be a StainCrop layer or None, got {crop!r}.")
    body_h, body_w = crop.size if crop is not None else (h, w)     # what the conv blocks see
    if patch is not None and (isinstance(patch, bool) or not isinstance(patch, int) or patch < 2):
        raise ValueError(f"folder_classifier: patch must be an integer >= 2 (the stem's stride) or None, "
                         f"got {patch!r}.")
    shrink = 2 ** len(widths) * (patch or 1)
    if body_h < shrink or body_w < shrink:
        raise ValueError(f"folder_classifier: {'the crop size' if crop is not None else 'image_size'} {(body_h, body_w)} is too small for "
                         f"{len(widths)} pooling blocks{f' after a {patch}x{patch} patch stem' if patch else ''}; "
                         f"use at least {shrink} pixels a side.")
    k = _check_classes(num_classes, "folder_classifier")
    if not 0 <= shift < 1:
        raise ValueError(f"folder_classifier: shift is a fraction of the image size in [0, 1), got {shift!r}.")
    inputs = keras.Input(shape=(h, w, 3), name="pixels_0_255")
    x = inputs if crop is None else crop(inputs)
    if augment:
        x = layers.RandomFlip("horizontal_and_vertical", name="augment_flip")(x)
        if rotate:
            x = layers.RandomRotation(0.5, fill_mode="constant", name="augment_rotate")(x)
        if shift:
            x = layers.RandomTranslation(shift, shift, fill_mode="constant", name="augment_shift")(x)
        if jitter:
            x = layers.RandomBrightness(jitter, value_range=(0, 255), name="augment_brightness")(x)
            x = layers.RandomContrast(jitter, value_range=(0, 255), name="augment_contrast")(x)
    x = layers.Rescaling(1 / 255, name="rescale")(x)
    if standardize:
        x = PerImageStandardization(name="standardize")(x)
    if patch:
        x = _conv_bn_act(x, widths[0], "stem", kernel_size=patch, strides=patch, padding="valid")
    for b, width in enumerate(widths, 1):
        for c in range(convs_per_block):
            x = _conv_bn_act(x, width, f"block{b}{'abcd'[c]}")
        x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    if k == 2:
        outputs = layers.Dense(1, activation="sigmoid", name="prob")(x)
    else:
        outputs = layers.Dense(k, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name=name)
