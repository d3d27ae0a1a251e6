"""cnnlib: the small, tested helper library behind the CNN image-classification course.

Modules, one responsibility each:

- ``cnnlib.datasets``  find, verify and load MNIST, CIFAR-10 and the blood-cell images
- ``cnnlib.download``  checksum-verified, atomic downloads
- ``cnnlib.folders``   scan folder-per-class image trees (counts, bad files)
- ``cnnlib.profiles``  the ``smoke`` / ``full`` run profiles shared by every notebook
- ``cnnlib.report``    record metrics from a notebook; run notebooks as reports
- ``cnnlib.doctor``    preflight check of the environment and the datasets
"""
import os as _os

# Quiet TensorFlow's C++ start-up chatter before anything imports it.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
