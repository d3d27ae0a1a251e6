"""cnnlib: the small, tested helper library behind the CNN image-classification course.

Modules, one responsibility each:

- ``cnnlib.datasets``    find, verify and load MNIST, CIFAR-10 and the blood-cell images
- ``cnnlib.download``    checksum-verified, atomic downloads
- ``cnnlib.folders``     folder-per-class image trees: scan (counts, bad files) and tf.data pipeline
- ``cnnlib.classify``    train / predict on any folder-per-class dataset (behind the CLI)
- ``cnnlib.ops``         reference NumPy convolution and pooling (teaching code)
- ``cnnlib.models``      the classic recipes and the course's improved models
- ``cnnlib.training``    seeding, quiet fitting, timing, history as a DataFrame
- ``cnnlib.evaluation``  accuracy, per-class metrics, confusion matrices (scikit-learn)
- ``cnnlib.plots``       the course's figures (heat maps over images included)
- ``cnnlib.transfer``    the course's own pretrained backbone, its cache, and local ImageNet weights
- ``cnnlib.explain``     occlusion sweeps and measures of where a heat map's mass lies
- ``cnnlib.memory``      a loader's peak memory and speed, measured in a fresh process
- ``cnnlib.experiments`` run named variants side by side on the same data and seed
- ``cnnlib.profiles``    the ``smoke`` / ``full`` run profiles shared by every notebook
- ``cnnlib.report``      record metrics from a notebook; run notebooks as reports
- ``cnnlib.exercises``   the notebooks' exercise checks, and the student edition
- ``cnnlib.guide``       the instructor guide and the README's tables, from the committed runs
- ``cnnlib.cpu``         the CPU's vector features and TensorFlow's oneDNN setting
- ``cnnlib.colab``       the "Open in Colab" badge and set-up cell
- ``cnnlib.doctor``      preflight check of the environment and the datasets
"""
import os as _os
import sys as _sys

# Quiet TensorFlow's C++ start-up chatter before anything imports it.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"


def import_tensorflow_quietly():
    """Import TensorFlow (and look for devices once) with the process's stderr muted.

    The GPU-enabled ``tensorflow`` wheel prints CUDA-driver notices straight to file
    descriptor 2 on CPU-only machines, before its log level applies. A Jupyter kernel
    captures that descriptor, so the notices would land in every notebook's output.
    Python exceptions are unaffected: a failed import still raises.
    """
    if "tensorflow" in _sys.modules:
        return _sys.modules["tensorflow"]
    _sys.stderr.flush()
    saved, devnull = _os.dup(2), _os.open(_os.devnull, _os.O_WRONLY)
    try:
        _os.dup2(devnull, 2)
        import tensorflow as tf
        tf.config.list_physical_devices()
    finally:
        _os.dup2(saved, 2)
        _os.close(saved)
        _os.close(devnull)
    return tf


if "ipykernel" in _sys.modules:  # inside a notebook: keep its outputs clean
    import_tensorflow_quietly()
