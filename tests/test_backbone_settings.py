"""Notebook 07 reuses the backbone that notebook 06 pretrained and cached: that works only if
07 asks for it with exactly 06's settings (the cache key covers them), in every profile."""
from __future__ import annotations

import ast

import pytest

from tests.exercise_harness import notebook_cells, source


def _code(notebook) -> list[str]:
    return [source(c) for c in notebook_cells(notebook) if c["cell_type"] == "code"]


def _settings_namespace(notebook, profile, monkeypatch) -> dict:
    """Run the notebook's parameters cell and its settings cell (the one calling profiles.select)."""
    monkeypatch.setenv("CNNLIB_PROFILE", profile)
    monkeypatch.delenv("CNNLIB_USE_CACHE", raising=False)
    code = _code(notebook)
    ns: dict = {}
    exec(code[0], ns)                                       # the parameters cell
    exec(next(c for c in code if "profiles.select(" in c), ns)
    return ns


def _assignment(notebook, name, ns) -> object:
    """Evaluate the right-hand side of ``name = ...`` in the notebook, in ``ns``."""
    for src in _code(notebook):
        for node in ast.parse(src).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
                return eval(compile(ast.Expression(node.value), notebook, "eval"), ns)
    raise AssertionError(f"{notebook} assigns no {name}")


@pytest.mark.parametrize("profile", ["smoke", "full"])
def test_notebook_07_asks_for_notebook_06s_backbone(profile, monkeypatch):
    ns06 = _settings_namespace("06_transfer_learning", profile, monkeypatch)
    ns06["SEED"] = 0                                        # 07 reuses the backbone of 06's default seed
    settings06 = _assignment("06_transfer_learning", "SETTINGS", ns06)
    ns07 = _settings_namespace("07_blood_cells", profile, monkeypatch)
    settings07 = _assignment("07_blood_cells", "BACKBONE_SETTINGS", ns07)
    assert settings07 == settings06, f"{profile}: 07 asks for {settings07}, 06 caches {settings06}"

