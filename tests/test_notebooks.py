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
