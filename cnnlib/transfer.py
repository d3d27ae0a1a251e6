"""Transfer learning without downloads.

The course cannot download ImageNet weights, so it pretrains its own backbone: a small
conv-BN-ReLU network trained on the 8 CIFAR-10 classes that are neither cat (3) nor dog (5)
(``PRETRAIN_CLASSES``), so that the cats-vs-dogs and blood-cell lessons never reuse a model
that has seen their own classes. The trained backbone is cached under the data cache
(``cache_dir()``), keyed by everything that determines it (``backbone_key``): its
architecture, the pretraining settings, the exact pretraining images and ``RECIPE_VERSION``.
Change any of them and the cache misses; it never hands back a backbone built another way.

Users who do have ImageNet weights get them through ``imagenet_backbone``: it looks for
Keras's MobileNetV3Small file in the course's data folders and Keras's own cache, verifies
it against the hash Keras publishes, and never downloads.

- the backbone: ``cifar_backbone``, ``PRETRAIN_CLASSES``, ``pretrain_data``, ``pretrain``
- the cache: ``architecture_digest``, ``data_digest``, ``backbone_key``, ``cache_dir``,
  ``load_backbone``, ``backbone_info``, ``save_backbone``, ``pretrained_backbone``
- ImageNet: ``IMAGENET_WEIGHTS``, ``find_imagenet_weights``, ``verify_weights``,
  ``imagenet_backbone``
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import time
from pathlib import Path

import keras
import numpy as np
from keras import layers

from . import datasets
from .errors import ChecksumMismatchError, CnnlibError

__all__ = ["PRETRAIN_CLASSES", "RECIPE_VERSION", "SETTINGS_KEYS", "cifar_backbone",
           "architecture_digest", "data_digest", "backbone_key", "cache_dir", "load_backbone",
           "backbone_info", "save_backbone", "pretrain_data", "pretrain", "pretrained_backbone",
           "IMAGENET_WEIGHTS", "KERAS_WEIGHTS_URL", "WeightsHashMismatch", "BackboneCacheError",
           "find_imagenet_weights", "verify_weights", "imagenet_backbone"]

#: the CIFAR-10 classes the backbone is pretrained on: all but cat (3) and dog (5),
#: relabelled 0..7 in this order
PRETRAIN_CLASSES = (0, 1, 2, 4, 6, 7, 8, 9)

#: bump when ``pretrain`` changes in a way the settings do not capture (augmentation,
#: optimizer, schedule, head): every cached backbone then misses and is rebuilt
RECIPE_VERSION = 1

#: the keys ``pretrain`` and ``pretrained_backbone`` need, and nothing else
SETTINGS_KEYS = ("widths", "n_per_class", "epochs", "batch_size", "peak_lr", "seed")

#: config keys that name a layer rather than describe it
_IDENTITY_KEYS = ("name", "trainable")


class BackboneCacheError(CnnlibError, ValueError):
    """A cached backbone file exists but cannot be read."""


class WeightsHashMismatch(ChecksumMismatchError):
    """A local weights file's hash differs from the one Keras publishes for it."""


# --------------------------------------------------------------------------- the backbone
def cifar_backbone(widths=(32, 64, 128), input_shape=(None, None, 3)) -> keras.Model:
    """The course's backbone, named "backbone". Uncompiled.

    Input ``(n, H, W, 3)`` floats in 0..255 (rescaled to 0..1 inside); output
    ``(n, widths[2])`` features. Layout: two blocks of [Conv2D 3x3 (no bias) + batch norm
    + ReLU] x 2 then a 2x2 max-pool (``widths[0]``, then ``widths[1]`` filters), then the
    *top block*: [Conv2D + BN + ReLU] x 2 with ``widths[2]`` filters (layers named
    ``top_*``, the ones to unfreeze when fine-tuning), then global average pooling
    ("features"). ``H`` and ``W`` may be left open (None): the same weights run on 32x32
    CIFAR images and on larger photos.
    """
    widths = tuple(int(w) for w in widths)
    if len(widths) != 3 or min(widths) < 1:
        raise ValueError(f"cifar_backbone: widths must be 3 positive filter counts, e.g. "
                         f"(32, 64, 128); got {widths!r}.")
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[-1] is None:
        raise ValueError(f"cifar_backbone: input_shape must be (height, width, channels), with "
                         f"height and width None or >= 4; got {input_shape!r}.")
    inputs = keras.Input(shape=shape, name="image")
    x = layers.Rescaling(1 / 255, name="rescale")(inputs)
    for b, w in enumerate(widths[:2], 1):
        for i in (1, 2):
            x = layers.Conv2D(w, 3, padding="same", use_bias=False, name=f"b{b}_conv{i}")(x)
            x = layers.BatchNormalization(name=f"b{b}_bn{i}")(x)
            x = layers.ReLU(name=f"b{b}_relu{i}")(x)
        x = layers.MaxPooling2D(2, name=f"b{b}_pool")(x)
    for i in (1, 2):
        x = layers.Conv2D(widths[2], 3, padding="same", use_bias=False, name=f"top_conv{i}")(x)
        x = layers.BatchNormalization(name=f"top_bn{i}")(x)
        x = layers.ReLU(name=f"top_relu{i}")(x)
    outputs = layers.GlobalAveragePooling2D(name="features")(x)
    return keras.Model(inputs, outputs, name="backbone")


# --------------------------------------------------------------------------- cache keys
def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=repr)


def _layer_config(layer) -> dict:
    config = dict(layer.get_config())
    for key in _IDENTITY_KEYS:
        config.pop(key, None)
    return config


def _output_shape(layer):
    try:
        out = layer.output
    except (AttributeError, ValueError):
        return None
    outs = out if isinstance(out, (list, tuple)) else [out]
    return [list(o.shape) for o in outs]


def _wiring(model: keras.Model):
    """How a functional model's layers connect, with every layer name replaced by its
    position in ``model.layers`` (None for models without a graph config)."""
    try:
        config = model.get_config()
    except Exception:  # subclassed models need not implement get_config
        return None
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        return None
    index = {entry.get("name"): i for i, entry in enumerate(config["layers"])}

    def renamed(node):
        if isinstance(node, dict):
            out = {k: renamed(v) for k, v in node.items() if k != "name"}
            history = node.get("keras_history")
            if isinstance(history, list) and history and history[0] in index:
                out["keras_history"] = [index[history[0]], *history[1:]]
            return out
        if isinstance(node, (list, tuple)):
            if len(node) == 3 and isinstance(node[0], str) and node[0] in index:
                return [index[node[0]], *node[1:]]   # [layer name, node, tensor] references
            return [renamed(v) for v in node]
        return node

    return {"inbound": [renamed(entry.get("inbound_nodes")) for entry in config["layers"]],
            "inputs": renamed(config.get("input_layers")),
            "outputs": renamed(config.get("output_layers"))}


def architecture_digest(model: keras.Model) -> str:
    """SHA-256 hex digest of a model's architecture: for every layer in order, its class
    name, its config without the keys that only name it (``name``, ``trainable``) and its
    output shape, plus how the layers connect. Two builds of the same builder give the same
    digest whatever their layer names; any change of a width, a layer, an activation or a
    connection changes it. Weights are not part of it."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"architecture_digest needs a keras.Model; got {type(model).__name__}.")
    rows = []
    for layer in model.layers:
        nested = isinstance(layer, keras.Model)
        rows.append({"class": type(layer).__name__,
                     # a nested model's config lists its layers by name: use its digest instead
                     "config": architecture_digest(layer) if nested else _layer_config(layer),
                     "output_shape": _output_shape(layer)})
    payload = {"layers": rows, "wiring": _wiring(model)}
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()


def data_digest(*arrays) -> str:
    """SHA-256 hex digest over each array's dtype, shape and bytes, in order."""
    if not arrays:
        raise ValueError("data_digest needs at least one array.")
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}|{a.shape}|{a.nbytes}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _settings_json(settings: dict) -> str:
    if not isinstance(settings, dict):
        raise TypeError(f"settings must be a dict; got {type(settings).__name__}.")
    for key, value in settings.items():
        if not isinstance(key, str):
            raise TypeError(f"settings keys must be strings; got {key!r}.")
        try:
            json.dumps(value)
        except (TypeError, ValueError) as e:
            raise TypeError(f"setting {key!r} = {value!r} ({type(value).__name__}) is not "
                            f"JSON-serialisable, so it cannot be part of a cache key. Fix: use "
                            f"plain int, float, str, bool, None, list or dict values "
                            f"(e.g. int(x) for a NumPy integer).") from e
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))


def backbone_key(model: keras.Model, settings: dict, data: str) -> str:
    """The cache key of a pretrained backbone: SHA-256 hex over the model's
    ``architecture_digest``, the canonical JSON of ``settings`` (sorted keys; every value
    must be JSON-serialisable, else TypeError naming the key), the pretraining data's
    digest ``data`` (``data_digest(x, y)``) and ``RECIPE_VERSION``."""
    payload = {"architecture": architecture_digest(model), "settings": _settings_json(settings),
               "data": str(data), "recipe_version": RECIPE_VERSION}
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()


# --------------------------------------------------------------------------- the cache
CACHE_ENV = "CNNLIB_CACHE_DIR"


def cache_dir() -> Path:
    """Where pretrained backbones are cached: ``$CNNLIB_CACHE_DIR`` if set, else
    ``data/backbones`` in the repository (its download cache, git-ignored). Not under
    ``$CNNLIB_DATA_DIR``: that may be a shared, read-only copy of the datasets."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser().resolve() if env else datasets.REPO_ROOT / "data" / "backbones"


def _paths(key: str) -> tuple[Path, Path]:
    key = str(key)
    if len(key) < 16 or any(c not in "0123456789abcdef" for c in key):
        raise ValueError(f"a backbone key is a lowercase hex digest (from backbone_key); got {key!r}.")
    stem = cache_dir() / key[:16]
    return stem.with_suffix(".keras"), stem.with_suffix(".json")


def _corrupt(path: Path, why: str) -> BackboneCacheError:
    return BackboneCacheError(
        f"the cached backbone {datasets.display_path(path)} cannot be read ({why}). Fix: delete "
        f"{datasets.display_path(path.with_suffix('.keras'))} and "
        f"{datasets.display_path(path.with_suffix('.json'))}, then rerun: the backbone is "
        f"pretrained again and re-cached.")


def backbone_info(key: str) -> dict | None:
    """The information saved with the cached backbone ``key`` (its ``.json``: settings,
    training figures, the full key, the date), or None when nothing is cached under ``key``
    (or the file there belongs to another key)."""
    model_path, info_path = _paths(key)
    if not model_path.exists():
        return None  # nothing cached, or a save interrupted after the record (rewritten next save)
    try:
        info = json.loads(info_path.read_text())
    except FileNotFoundError as e:
        raise _corrupt(model_path, "its .json record is missing") from e
    except (OSError, ValueError) as e:
        raise _corrupt(info_path, f"not valid JSON: {e}") from e
    if not isinstance(info, dict) or "key" not in info:
        raise _corrupt(info_path, "the record holds no key")
    return info if info["key"] == key else None


def load_backbone(key: str) -> keras.Model | None:
    """The cached backbone for ``key`` (loaded uncompiled), or None when there is none.
    A file that exists but cannot be read raises ``BackboneCacheError`` naming it and the fix."""
    model_path, _ = _paths(key)
    info = backbone_info(key)
    if info is None:
        return None
    try:
        return keras.models.load_model(model_path, compile=False)
    except Exception as e:  # zip, h5 and deserialisation errors all mean the same to the user
        raise _corrupt(model_path, f"{type(e).__name__}: {str(e)[:200]}") from e


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_backbone(model: keras.Model, key: str, info: dict) -> Path:
    """Cache ``model`` under ``key``: ``<cache_dir>/<key[:16]>.keras`` plus a ``.json``
    record (``info``, the full key and the UTC date). Each file is written under a
    temporary name and then renamed, so a crash never leaves half a file; the record is
    written first, so a ``.keras`` file always has one. Returns the ``.keras`` path."""
    model_path, info_path = _paths(key)
    record = dict(info)
    record["key"] = key
    record["date"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    try:
        text = json.dumps(record, indent=1, sort_keys=True)
    except TypeError as e:
        raise TypeError(f"save_backbone: info must be JSON-serialisable ({e}).") from e
    model_path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(info_path, lambda p: p.write_text(text))
    _atomic_write(model_path, lambda p: model.save(p))
    return model_path


# --------------------------------------------------------------------------- pretraining
def _check_settings(settings) -> dict:
    if not isinstance(settings, dict):
        raise TypeError(f"settings must be a dict with keys {SETTINGS_KEYS}; got "
                        f"{type(settings).__name__}.")
    missing = [k for k in SETTINGS_KEYS if k not in settings]
    unknown = [k for k in settings if k not in SETTINGS_KEYS]
    if missing or unknown:
        raise ValueError(f"settings must have exactly the keys {SETTINGS_KEYS}; missing "
                         f"{missing}, unknown {unknown}.")

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    w = settings["widths"]
    if not isinstance(w, (list, tuple)) or len(w) != 3 or not all(is_int(v) and v > 0 for v in w):
        raise ValueError(f"settings['widths'] must be a list of 3 positive ints, e.g. "
                         f"[32, 64, 128]; got {w!r}.")
    n = settings["n_per_class"]
    if n is not None and not (is_int(n) and n > 0):
        raise ValueError(f"settings['n_per_class'] must be a positive int, or None for all "
                         f"5,000 images per class; got {n!r}.")
    for k in ("epochs", "batch_size"):
        if not (is_int(settings[k]) and settings[k] > 0):
            raise ValueError(f"settings[{k!r}] must be a positive int; got {settings[k]!r}.")
    lr = settings["peak_lr"]
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (0 < lr < 1):
        raise ValueError(f"settings['peak_lr'] must be a float between 0 and 1, e.g. 3e-3; "
                         f"got {lr!r}.")
    if not (is_int(settings["seed"]) and settings["seed"] >= 0):
        raise ValueError(f"settings['seed'] must be a non-negative int; got {settings['seed']!r}.")
    _settings_json(settings)
    return {**settings, "widths": [int(v) for v in w]}


def pretrain_data(n_per_class: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The pretraining images: from CIFAR-10's training split, the first ``n_per_class``
    images (in index order) of each class in ``PRETRAIN_CLASSES`` (None: all 5,000),
    kept in their original index order and relabelled 0..7 in ``PRETRAIN_CLASSES`` order.
    Returns ``x`` ``(n, 32, 32, 3)`` uint8 and ``y`` ``(n,)`` int32."""
    if n_per_class is not None and (isinstance(n_per_class, bool) or not isinstance(
            n_per_class, (int, np.integer)) or n_per_class < 1):
        raise ValueError(f"n_per_class must be a positive int or None; got {n_per_class!r}.")
    data = datasets.load_cifar10()
    y_all = data.y_train.reshape(-1)
    stop = None if n_per_class is None else int(n_per_class)
    keep = np.sort(np.concatenate([np.flatnonzero(y_all == c)[:stop] for c in PRETRAIN_CLASSES]))
    relabel = np.full(10, -1, dtype=np.int32)
    relabel[list(PRETRAIN_CLASSES)] = np.arange(len(PRETRAIN_CLASSES), dtype=np.int32)
    return np.ascontiguousarray(data.x_train[keep]), relabel[y_all[keep]]


def _augment(seed: int):
    import tensorflow as tf

    def augment(x, y):
        """A batch ``(b, 32, 32, 3)`` uint8 -> float32 0..255, each image flipped left-right
        at random and shifted by up to 4 pixels (reflect padding, then a random 32x32 crop)."""
        x = tf.cast(x, tf.float32)
        x = tf.image.random_flip_left_right(x, seed=seed)
        b, h, w = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
        padded = tf.pad(x, [[0, 0], [4, 4], [4, 4], [0, 0]], mode="REFLECT")
        offsets = tf.random.uniform((b, 2), 0, 9, dtype=tf.int32, seed=seed + 1)
        rows = offsets[:, :1] + tf.range(h)[None]              # (b, h): each image's own rows
        cols = offsets[:, 1:] + tf.range(w)[None]
        x = tf.gather(padded, rows, axis=1, batch_dims=1)
        x = tf.gather(x, cols, axis=2, batch_dims=1)
        return x, y

    return augment


def _pretrain(settings: dict, x: np.ndarray, y: np.ndarray, key: str, verbose: bool):
    import tensorflow as tf

    seed = settings["seed"]
    batch = settings["batch_size"]
    keras.utils.set_random_seed(seed)
    backbone = cifar_backbone(settings["widths"])
    inputs = keras.Input(shape=x.shape[1:], name="image")
    h = backbone(inputs)
    h = layers.Dropout(0.2, name="pretrain_dropout")(h)
    outputs = layers.Dense(len(PRETRAIN_CLASSES), name="pretrain_head")(h)
    model = keras.Model(inputs, outputs, name="pretrain")

    total = settings["epochs"] * math.ceil(len(x) / batch)
    warmup = int(total * 0.2)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=settings["peak_lr"] * 0.1, decay_steps=max(1, int(total * 0.8)),
        warmup_target=settings["peak_lr"], warmup_steps=warmup)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=schedule, weight_decay=5e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    ds = (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed)
          .batch(batch).map(_augment(seed)).prefetch(2))
    from .training import no_autotune
    ds = no_autotune(ds)                     # as training.fit feeds: never tf.data's slow speed
    callbacks = []
    if verbose:
        from .training import EpochLogger
        callbacks.append(EpochLogger())
    start = time.perf_counter()
    history = model.fit(ds, epochs=settings["epochs"], verbose=0, shuffle=False,
                        callbacks=callbacks)  # the dataset reshuffles every epoch
    seconds = time.perf_counter() - start
    info = {"key": key, "settings": settings,
            "pretrain_train_accuracy": float(history.history["accuracy"][-1]),
            "fit_seconds": round(seconds, 2), "images": int(len(x))}
    return backbone, info


def pretrain(settings: dict, *, verbose: bool = False) -> tuple[keras.Model, dict]:
    """Pretrain the course's backbone on CIFAR-10's ``PRETRAIN_CLASSES`` (no cache).

    ``settings``: ``widths`` (3 ints), ``n_per_class`` (int, or None for all 5,000),
    ``epochs``, ``batch_size``, ``peak_lr``, ``seed``. The recipe: ``pretrain_data``;
    ``keras.utils.set_random_seed(seed)``; ``cifar_backbone(widths)`` plus Dropout(0.2) and
    a Dense(8) logits head; AdamW (weight decay 5e-4) with a cosine schedule that warms up
    from ``peak_lr / 10`` to ``peak_lr`` over the first 20% of the steps and decays to 0
    over the rest; random flips and 4-pixel shifts of each batch.

    Returns ``(backbone, info)``: the trained backbone (head dropped) and
    ``{"key", "settings", "pretrain_train_accuracy", "fit_seconds", "images"}``.
    """
    settings = _check_settings(settings)
    x, y = pretrain_data(settings["n_per_class"])
    key = backbone_key(cifar_backbone(settings["widths"]), settings, data_digest(x, y))
    return _pretrain(settings, x, y, key, verbose)


def pretrained_backbone(settings: dict, *, verbose: bool = False) -> tuple[keras.Model, dict]:
    """The pretrained backbone for ``settings``, from the cache when it holds one built from
    the same architecture, settings, data and recipe; otherwise pretrained now (``pretrain``)
    and cached. Returns ``(backbone, info)``; ``info["cached"]`` says which happened and
    ``info["file"]`` where the cached copy lives."""
    settings = _check_settings(settings)
    x, y = pretrain_data(settings["n_per_class"])
    key = backbone_key(cifar_backbone(settings["widths"]), settings, data_digest(x, y))
    model = load_backbone(key)
    if model is not None:
        info = dict(backbone_info(key))
        info["cached"] = True
    else:
        model, info = _pretrain(settings, x, y, key, verbose)
        save_backbone(model, key, info)
        info["cached"] = False
    info["file"] = datasets.display_path(_paths(key)[0])
    return model, info


# --------------------------------------------------------------------------- ImageNet weights
KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/"

#: Keras's published md5, copied here in case ``keras.src`` moves (a test checks they agree)
_IMAGENET_WEIGHTS_LITERAL = {
    "MobileNetV3Small": ("weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
                         "d3e8ec802a04aa4fc771ee12a9a9b836"),
}
_KERAS_HASH_KEYS = {"MobileNetV3Small": ("small_224_1.0_float", 1)}


def _keras_published_hash(name: str) -> str | None:
    """The md5 Keras's own source publishes for ``name``'s no-top weights, if importable."""
    try:
        from keras.src.applications import mobilenet_v3
        model_key, index = _KERAS_HASH_KEYS[name]
        return mobilenet_v3.WEIGHTS_HASHES[model_key][index]
    except (ImportError, AttributeError, KeyError, IndexError):
        return None


#: file name and md5 of the ImageNet weights (no top) Keras publishes, per application: the
#: md5 is read from Keras's source when it can be, else the copy above
IMAGENET_WEIGHTS = {name: (file, _keras_published_hash(name) or md5)
                    for name, (file, md5) in _IMAGENET_WEIGHTS_LITERAL.items()}


def _check_name(name: str) -> tuple[str, str]:
    if name not in IMAGENET_WEIGHTS:
        raise ValueError(f"no ImageNet weights known for {name!r}; known: {list(IMAGENET_WEIGHTS)}.")
    return IMAGENET_WEIGHTS[name]


def _weights_folders() -> list[tuple[str, Path]]:
    """Where ImageNet weights are looked for, in order."""
    folders = []
    for label, root in datasets.data_roots():
        folders += [(label, root), (f"{label} models/", root / "models")]
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()
    folders.append(("Keras model cache", keras_home / "models"))
    return folders


def _file_hash(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_weights(path, expected: str) -> Path:
    """Check a weights file against its published hash: md5 (32 hex digits, as Keras
    publishes) or sha256 (64). Returns the path; raises ``WeightsHashMismatch`` naming the
    file, both hashes and the fix."""
    path = Path(path)
    expected = str(expected).lower()
    if len(expected) not in (32, 64):
        raise ValueError(f"expected must be an md5 (32 hex digits) or sha256 (64); got {expected!r}.")
    algorithm = "md5" if len(expected) == 32 else "sha256"
    found = _file_hash(path, algorithm)
    if found != expected:
        raise WeightsHashMismatch(
            f"{datasets.display_path(path)} has {algorithm} {found}, but Keras's source publishes "
            f"{expected} for {path.name}: the file is incomplete, damaged or a different version. "
            f"Fix: delete it and download it again from {KERAS_WEIGHTS_URL}{path.name}.")
    return path


def find_imagenet_weights(name: str = "MobileNetV3Small") -> Path | None:
    """The verified local ImageNet weights file for ``name``, or None when none is found.

    Looks for Keras's file name (``IMAGENET_WEIGHTS[name][0]``) in each data folder
    (``datasets.data_roots()``) and its ``models/`` sub-folder, then in Keras's model
    cache (``$KERAS_HOME/models``, default ``~/.keras/models``). The first file found is
    verified (``verify_weights``): a wrong file raises rather than being skipped. Never
    downloads."""
    file_name, expected = _check_name(name)
    for _, folder in _weights_folders():
        candidate = folder / file_name
        if candidate.is_file():
            return verify_weights(candidate, expected)
    return None


def imagenet_backbone(input_shape=(96, 96, 3)) -> tuple[keras.Model, str]:
    """Keras's MobileNetV3Small without its top, with ImageNet weights if a verified local
    copy exists (``find_imagenet_weights``), else with random weights (``weights=None``).
    Takes 0..255 pixels (``include_preprocessing=True``). Returns ``(model, explanation)``,
    the explanation saying plainly which weights were used."""
    name = "MobileNetV3Small"
    path = find_imagenet_weights(name)
    model = keras.applications.MobileNetV3Small(
        input_shape=tuple(input_shape), include_top=False,
        weights=str(path) if path is not None else None, include_preprocessing=True)
    file_name, expected = IMAGENET_WEIGHTS[name]
    if path is not None:
        explanation = (f"{name} uses ImageNet weights from {datasets.display_path(path)} "
                       f"(md5 {expected}, as published in Keras's source).")
    else:
        where = "; ".join(f"{label} ({datasets.display_path(p)})" for label, p in _weights_folders())
        explanation = (f"No ImageNet weights for {name} were found locally (looked for {file_name} "
                       f"in: {where}), so this {name} has random weights, and the course uses its "
                       f"own CIFAR backbone (transfer.pretrained_backbone) instead. Nothing was "
                       f"downloaded.")
    return model, explanation
