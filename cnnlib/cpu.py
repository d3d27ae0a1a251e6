"""What this CPU can do, and the TensorFlow setting that follows from it: oneDNN.

TensorFlow's x86 Linux wheels carry two sets of CPU kernels: Eigen's and Intel's oneDNN
(convolutions, matrix products, batch norm and their fusions). Which one runs is read once,
when TensorFlow is imported, from ``TF_ENABLE_ONEDNN_OPTS``: ``1``/``true`` on,
``0``/``false`` off, unset (or anything else) TensorFlow's default, which on Linux is on
only for CPUs with AVX-512 VNNI or BF16, AVX-VNNI or AMX. On CPUs with plain AVX2 (or
AVX-512 without VNNI) it is off, although there too oneDNN trains the course's CNNs
markedly faster (``bench/onednn.py``, ``bench/results/onednn.md``), with results equal to
within float32 round-off (``tests/test_onednn.py``).

So cnnlib turns it on wherever it launches TensorFlow (the notebook runner, ``make lab``,
the command line, the benchmarks), always with ``setdefault``: a value you set wins.

No TensorFlow import here: everything must run before TensorFlow is imported.
"""
from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["VARIABLE", "OneDNNState", "vector_features", "vector_summary", "tensorflow_default",
           "onednn_state", "enable_onednn"]

VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
#: set next to ``VARIABLE`` by :func:`enable_onednn`, so this process and its children can tell
#: a value cnnlib chose from one the user exported
MARKER = "CNNLIB_SET_TF_ENABLE_ONEDNN_OPTS"

#: the /proc/cpuinfo flags reported, by the name used in the result
FLAGS = ("sse4_2", "avx", "fma", "avx2", "avx_vnni", "avx512f", "avx512bw", "avx512_vnni",
         "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")
#: the features for which TensorFlow (2.x, Linux x86) turns oneDNN on by default
#: (``DefaultOneDnnPolicy`` in tensorflow/core/util/port.cc)
TF_DEFAULT_ON = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")
_DEFAULT_RULE = "AVX-512 VNNI or BF16, AVX-VNNI or AMX"
_TRUE, _FALSE = ("1", "true"), ("0", "false")     # what TensorFlow's ReadBoolFromEnvVar accepts


def _cpuinfo_flags(cpuinfo) -> set[str] | None:
    """The first processor's feature flags from a cpuinfo file (x86 ``flags``, ARM
    ``Features``), or None if the file cannot be read or has neither line."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("flags", "Features"):
            return set(value.split())
    return None


def vector_features(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> dict[str, bool]:
    """This CPU's vector features, read from Linux's ``/proc/cpuinfo`` (or another file in
    its format, for tests): ``{"avx2": True, "avx512f": False, ..., "amx": False}`` with
    one entry per name in ``FLAGS`` plus ``amx`` (any AMX unit). Empty when unknown (not
    Linux, or no readable flags line): an empty dict means "cannot tell", not "none"."""
    flags = _cpuinfo_flags(cpuinfo)
    if flags is None:
        return {}
    features = {name: name in flags for name in FLAGS}
    features["amx"] = any(features[n] for n in ("amx_tile", "amx_int8", "amx_bf16"))
    features["neon"] = "asimd" in flags
    return features


def vector_summary(features: dict[str, bool] | None = None) -> str:
    """A few words to quote next to a runtime: ``"AVX-512 + AMX"``, ``"AVX-512"``,
    ``"AVX2 + AVX-VNNI"``, ``"AVX2"``, ``"no AVX2"``, ``"ARM NEON"`` or
    ``"unknown vector features"``. ``features``: from :func:`vector_features` (default:
    this CPU's)."""
    f = vector_features() if features is None else features
    if not f:
        return "unknown vector features"
    if f.get("avx512f"):
        return "AVX-512 + AMX" if f.get("amx") else "AVX-512"
    if f.get("avx2"):
        return "AVX2 + AVX-VNNI" if f.get("avx_vnni") else "AVX2"
    if f.get("neon"):
        return "ARM NEON"
    return "no AVX2"


def tensorflow_default(features: dict[str, bool] | None = None, system: str | None = None,
                       machine: str | None = None) -> bool | None:
    """Whether TensorFlow turns oneDNN on by itself (``TF_ENABLE_ONEDNN_OPTS`` unset) on
    this CPU: True or False on x86 Linux, None (unknown) elsewhere or without features."""
    f = vector_features() if features is None else features
    system = platform.system() if system is None else system
    machine = (platform.machine() if machine is None else machine).lower()
    if system != "Linux" or machine not in ("x86_64", "amd64") or not f:
        return None
    return any(f.get(name) for name in TF_DEFAULT_ON)


@dataclass(frozen=True)
class OneDNNState:
    """Whether TensorFlow will use oneDNN (``on``: True, False, or None when unknown) and
    why. ``str()`` gives e.g. ``"on: TF_ENABLE_ONEDNN_OPTS=1 (set by cnnlib)"``."""
    on: bool | None
    why: str

    def __str__(self) -> str:
        return f"{'unknown' if self.on is None else 'on' if self.on else 'off'}: {self.why}"


def _default_state(features, prefix="") -> OneDNNState:
    default = tensorflow_default(features)
    if default is None:
        return OneDNNState(None, f"{prefix}TensorFlow's default for this CPU, which cnnlib cannot tell here")
    if default:
        return OneDNNState(True, f"{prefix}TensorFlow's default on this CPU (it has {_DEFAULT_RULE})")
    return OneDNNState(False, f"{prefix}TensorFlow's default on this CPU (on only with {_DEFAULT_RULE}; "
                              f"this one has {vector_summary(features)}); {VARIABLE}=1 turns it on")


def onednn_state(environ=os.environ, features: dict[str, bool] | None = None) -> OneDNNState:
    """Whether a TensorFlow imported with ``environ`` (default: this process's environment)
    uses oneDNN, and why, as TensorFlow decides it: ``TF_ENABLE_ONEDNN_OPTS`` ``1``/``true``
    (any case) on, ``0``/``false`` off, unset or any other value TensorFlow's default for
    the CPU (``features``, default this one's). TensorFlow reads the variable once, at
    import: in a process that has already imported it, changing the variable changes
    nothing."""
    value = environ.get(VARIABLE)
    if value is None:
        return _default_state(features)
    if value.lower() in _TRUE:
        who = "set by cnnlib" if environ.get(MARKER) == value else "set in your environment"
        return OneDNNState(True, f"{VARIABLE}={value} ({who})")
    if value.lower() in _FALSE:
        return OneDNNState(False, f"{VARIABLE}={value} (set in your environment; "
                                  f"cnnlib never turns oneDNN off)")
    return _default_state(features, prefix=f"{VARIABLE}={value!r} is not 0, 1, true or false, so "
                                            f"TensorFlow ignores it and uses ")


def enable_onednn(environ=os.environ) -> str:
    """Set ``TF_ENABLE_ONEDNN_OPTS=1`` in ``environ`` (default: this process's environment,
    which child processes inherit) unless it is already set: a value the user chose wins
    (``setdefault``). Call it before TensorFlow is imported. Returns what it did, in words."""
    if VARIABLE in environ:
        return f"left {VARIABLE}={environ[VARIABLE]!r} as it was set"
    environ[VARIABLE] = "1"
    environ[MARKER] = "1"
    if environ is os.environ and "tensorflow" in sys.modules:
        return (f"set {VARIABLE}=1, too late for this process (TensorFlow is already imported "
                f"and read it then); child processes get it")
    return f"set {VARIABLE}=1"
