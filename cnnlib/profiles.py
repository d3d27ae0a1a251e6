"""Run profiles: ``full`` (the real course) and ``smoke`` (seconds, on a small subset).

Every notebook's first code cell is tagged ``parameters`` and holds ``PROFILE = "full"``.
Two ways to pick another profile, one per tool:

- papermill injects parameters: ``papermill nb.ipynb out.ipynb -p PROFILE smoke``;
- nbval (and a plain Jupyter session) cannot, so the ``CNNLIB_PROFILE`` environment
  variable, when set, wins over the cell's value.

The cell after the parameters cell calls ``resolve`` and ``select`` to derive the
notebook's settings from the profile.
"""
from __future__ import annotations

import os
from types import SimpleNamespace

from .errors import ProfileError

PROFILES = ("smoke", "full")
ENV_VAR = "CNNLIB_PROFILE"


def validate(profile: str, source: str = "PROFILE") -> str:
    """Return ``profile`` if it names a profile, else raise ProfileError listing them."""
    if profile not in PROFILES:
        raise ProfileError(f"Unknown profile {profile!r} (from {source}); choose one of "
                           f"{list(PROFILES)}: 'smoke' runs in seconds on a subset, 'full' is "
                           f"the real course.")
    return profile


def resolve(profile: str) -> str:
    """The profile in force: ``$CNNLIB_PROFILE`` if set, else ``profile``. Validated."""
    if os.environ.get(ENV_VAR):
        return validate(os.environ[ENV_VAR], f"${ENV_VAR}")
    return validate(profile)


def select(profile: str, *, smoke: dict, full: dict) -> SimpleNamespace:
    """The settings of ``profile`` as attributes, e.g. ``cfg = select(P, smoke={"epochs": 1},
    full={"epochs": 10}); cfg.epochs``. Both dicts must have the same keys."""
    profile = resolve(profile)
    if set(smoke) != set(full):
        raise ValueError(f"smoke and full settings differ in keys: {sorted(set(smoke) ^ set(full))}")
    return SimpleNamespace(profile=profile, **(smoke if profile == "smoke" else full))
