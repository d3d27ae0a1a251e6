"""``python -m cnnlib doctor``: a preflight check for learners and instructors.

Reports Python, TensorFlow and Keras versions, the CPU and its vector features (AVX2,
AVX-512), whether TensorFlow uses its oneDNN kernels in this process, the devices
TensorFlow sees, whether the Jupyter kernel is available, and where each dataset was found
(or how to get it).
"""
from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    needed: bool = True


def _python() -> Check:
    ok = sys.version_info >= (3, 10)
    return Check("Python", ok, platform.python_version() + ("" if ok else " (the course needs >= 3.10)"))


def _tensorflow() -> list[Check]:
    try:
        from . import import_tensorflow_quietly
        tf = import_tensorflow_quietly()
        import keras
    except Exception as exc:  # noqa: BLE001 - any import failure is the finding
        return [Check("TensorFlow", False, f"cannot import ({exc}). Fix: make test (or pip install -e .)")]
    major = int(keras.__version__.split(".")[0])
    gpus = tf.config.list_physical_devices("GPU")
    device = (f"{len(gpus)} GPU(s): " + ", ".join(g.name for g in gpus)) if gpus else \
        f"CPU only ({os.cpu_count()} cores)"
    onednn = _tensorflow_onednn()
    return [Check("TensorFlow", True, tf.__version__),
            Check("Keras", major >= 3, keras.__version__ + ("" if major >= 3 else " (the course needs Keras 3)")),
            Check("Device", True, device, needed=False), *([onednn] if onednn else [])]


def _cpu() -> list[Check]:
    """The CPU and oneDNN, as this process's environment sets it. Call it before TensorFlow
    is imported (TensorFlow reads TF_ENABLE_ONEDNN_OPTS then); afterwards ``_tensorflow``
    asks TensorFlow itself."""
    from . import cpu, report
    state = cpu.onednn_state()
    return [Check("CPU", True, f"{report.cpu_model()}, {os.cpu_count()} cores, "
                               f"{cpu.vector_summary()}", needed=False),
            Check("oneDNN", True, f"{state}; read from this process's environment, "
                                  f"which TensorFlow reads when imported", needed=False)]


def _tensorflow_onednn() -> Check | None:
    """What the imported TensorFlow says about oneDNN (None if it cannot say)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
        on = bool(_pywrap_util_port.IsMklEnabled())
    except Exception:  # noqa: BLE001 - a private API: no answer is fine
        return None
    return Check("oneDNN in TF", True, "TensorFlow reports its oneDNN kernels "
                                       + ("on" if on else "off"), needed=False)


def _kernel() -> Check:
    try:
        from jupyter_client.kernelspec import KernelSpecManager
        spec = KernelSpecManager().get_kernel_spec("python3")
        import ipykernel  # noqa: F401
    except Exception as exc:  # noqa: BLE001
        return Check("Jupyter kernel", False, f"'python3' kernel not available ({exc}). Fix: pip install ipykernel")
    return Check("Jupyter kernel", True, f"python3 ({spec.display_name})")


def _datasets() -> list[Check]:
    from . import datasets
    hints = {
        "mnist": "MNIST: mnist.npz or the four *-ubyte.gz files",
        "cifar10": "CIFAR-10: cifar10.npz, cifar-10-python.tar.gz or cifar-10-batches-py/",
        "blood_cells": "blood cells: Kaggle dataset2-master/images (TRAIN, TEST, TEST_SIMPLE)",
    }
    checks = []
    for name, hint in hints.items():
        try:
            found = datasets.locate(name)
        except Exception as exc:  # noqa: BLE001 - a malformed tree is a finding too
            checks.append(Check(f"data: {name}", False, f"found but unusable: {exc}"))
            continue
        if found is None:
            where = ", ".join(label for label, _ in datasets.data_roots())
            fix = ("it is downloaded on first use when you have internet" if name != "blood_cells"
                   else "see data/README.md (Kaggle download)")
            checks.append(Check(f"data: {name}", False,
                                f"missing (looked in {where}). Fix: put {hint} under CNNLIB_DATA_DIR "
                                f"or data/, or {fix}"))
        else:
            path = found.root if isinstance(found, datasets.BloodCellTree) else found
            checks.append(Check(f"data: {name}", True, datasets.display_path(path)))
    return checks


def run_checks() -> list[Check]:
    return [_python(), *_cpu(), *_tensorflow(), _kernel(), *_datasets()]


def format_checks(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    return "\n".join(f"{'ok' if c.ok else 'MISSING' if c.needed else 'note':<7}  {c.name:<{width}}  {c.detail}"
                     for c in checks)


def main() -> int:
    checks = run_checks()
    print(format_checks(checks))
    bad = [c for c in checks if c.needed and not c.ok]
    print(f"\n{len(bad)} problem(s) found." if bad else "\nAll set: the course can run.")
    return 1 if bad else 0
