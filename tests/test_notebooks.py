"""Every course notebook, executed headlessly with papermill in the smoke profile, through the
same runner as `make report`: the instructor edition with every exercise checked strictly (each
solution must pass its own check), and the student edition (solutions removed, outputs cleared),
where every exercise must report "not attempted yet" and the notebook must still run to the end.
(nbval separately re-runs the committed notebooks and compares the cells marked
NBVAL_CHECK_OUTPUT.)"""
from __future__ import annotations

import json
import re

import pytest

from cnnlib import exercises, report
from cnnlib.exercises.student import write_student_edition


@pytest.mark.slow
@pytest.mark.parametrize("path", report.list_notebooks(), ids=lambda p: p.name)
def test_notebook_runs_in_smoke_profile(path, tmp_path, monkeypatch):
    monkeypatch.setenv(exercises.STRICT_ENV, "1")   # a wrong or missing solution fails the run
    rec = report.run_notebook(path, profile="smoke", out=tmp_path, timeout=240, fingerprints={})
    assert rec["status"] == "ok", f"{path.name}: {rec.get('error')}"
    assert (tmp_path / f"{path.stem}.html").stat().st_size > 10_000
    assert rec["metrics"], f"{path.name} recorded no metrics for its report"


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


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in report.list_notebooks() if not p.name.startswith("00")],
                         ids=lambda p: p.name)
def test_student_edition_runs_and_reports_every_exercise_not_attempted(path, tmp_path, monkeypatch):
    monkeypatch.delenv(exercises.STRICT_ENV, raising=False)
    student_nb = write_student_edition([path], tmp_path / "student")[0]
    rec = report.run_notebook(student_nb, profile="smoke", out=tmp_path / "out", timeout=240,
                              fingerprints={})
    assert rec["status"] == "ok", f"student edition of {path.name}: {rec.get('error')}"
    checks = _check_outputs(tmp_path / "out" / path.name)
    assert len(checks) >= 3, f"{path.name}: {len(checks)} exercise checks ran"
    for ex_id, text in checks.items():
        assert "not attempted yet" in text, f"{path.name} exercise {ex_id} printed {text!r}"
