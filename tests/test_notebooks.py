"""Every course notebook, executed headlessly with papermill in the smoke profile, through the
same runner as `make report`, as its student edition (solutions removed, outputs cleared):
the notebook must run to the end and write its report (HTML and recorded metrics), and every
exercise must report "not attempted yet".

The instructor edition runs under nbval (`make test` collects notebooks/ with
`CNNLIB_EXERCISES_STRICT=1`): it re-executes each committed notebook in the smoke profile, fails
on any error, so every solution must pass its own check, and compares the cells marked
NBVAL_CHECK_OUTPUT with their committed outputs. Together the two runs cover both editions
with one execution each.
"""
from __future__ import annotations

import json
import re

import pytest

from cnnlib import exercises, report
from cnnlib.exercises.student import write_student_edition


def _check_outputs(executed) -> dict:
    """{exercise id: the text its check cell printed} in an executed notebook."""
    nb = json.loads(executed.read_text())
    out = {}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for ex_id in re.findall(r"exercises\.check\(\s*[\"'](\d\d\.\d+)[\"']", "".join(cell["source"])):
            out[ex_id] = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))
    return out


def _exercise_ids(path) -> list[str]:
    return list(_check_outputs(path))


@pytest.mark.slow
@pytest.mark.parametrize("path", report.list_notebooks(), ids=lambda p: p.name)
def test_student_edition_runs_as_a_report_with_every_exercise_not_attempted(path, tmp_path, monkeypatch):
    monkeypatch.delenv(exercises.STRICT_ENV, raising=False)
    student_nb = write_student_edition([path], tmp_path / "student")[0]
    out = tmp_path / "out"
    rec = report.run_notebook(student_nb, profile="smoke", out=out, timeout=240, fingerprints={})
    assert rec["status"] == "ok", f"student edition of {path.name}: {rec.get('error')}"
    assert (out / f"{path.stem}.html").stat().st_size > 10_000
    assert rec["metrics"], f"{path.name} recorded no metrics for its report"
    expected = _exercise_ids(path)
    if path.name.startswith("00"):
        assert not expected
        return
    checks = _check_outputs(out / path.name)
    assert sorted(checks) == sorted(expected) and len(checks) >= 3, f"{path.name}: {sorted(checks)} ran"
    for ex_id, text in checks.items():
        assert "not attempted yet" in text, f"{path.name} exercise {ex_id} printed {text!r}"


def test_make_test_runs_the_instructor_edition_strictly_under_nbval():
    """The instructor edition is executed by nbval only: make test must collect notebooks/
    with nbval and strict exercise checks, or a broken solution would go unnoticed."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    makefile = (root / "Makefile").read_text()
    test_rule = makefile[makefile.index("\ntest:"):].split("\n\n")[0]
    assert "CNNLIB_EXERCISES_STRICT=1" in test_rule and "CNNLIB_PROFILE=smoke" in test_rule
    pyproject = (root / "pyproject.toml").read_text()
    assert "--nbval-lax" in pyproject and '"notebooks"' in pyproject


def _iterations_before_fits(path) -> list[tuple[str, str]]:
    """(dataset name, the code that iterates it) for every ``training.fit(model, NAME, ...)`` of
    the notebook whose NAME an earlier line of code already iterates."""
    cells = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    found = []
    for i, src in enumerate(cells):
        for fit in re.finditer(r"training\.fit\(\s*\w+,\s*([A-Za-z_]\w*)\b", src):
            name = fit.group(1)
            uses = re.compile(rf"\bin\s+{name}\b(?!\s*\.)|\biter\(\s*{name}\s*\)|\b{name}\.(?:take|skip|as_numpy_iterator)\(")
            before = "\n".join(cells[:i]) + "\n" + src[:fit.start()]
            found += [(name, use.group(0)) for use in uses.finditer(before)]
    return found


def test_the_pattern_finds_a_pass_before_a_fit(tmp_path):
    nb = {"cells": [{"cell_type": "code", "source": ["n = sum(1 for x, _ in train_ds)\n"]},
                    {"cell_type": "code", "source": ["for x in val_ds.take(1):\n    pass\n"]},
                    {"cell_type": "code", "source": ["fit = training.fit(model, train_ds, epochs=3)\n"]},
                    {"cell_type": "code", "source": ["fit = training.fit(model, val_ds)\n"]},
                    {"cell_type": "code", "source": ["fit = training.fit(model, fresh_ds, epochs=len(train_ds))\n"]}]}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    assert _iterations_before_fits(path) == [("train_ds", "in train_ds"), ("val_ds", "val_ds.take(")]


@pytest.mark.parametrize("path", report.list_notebooks(), ids=lambda p: p.name)
def test_no_notebook_iterates_a_training_dataset_before_fitting_on_it(path):
    """A seeded tf.data shuffle draws a new order on every pass, a look or a timing pass
    included: a fit after one would not repeat a run (or a bench) that skipped it. Notebook 07
    once scored 4.7 points lower for that alone (bench/results/blood_trials.md)."""
    assert _iterations_before_fits(path) == [], \
        f"{path.name}: iterate a twin (the same call again) instead of the dataset the model trains on"
