"""Every course notebook, executed headlessly with papermill in the smoke profile,
through the same runner as `make report`. (nbval separately re-runs the committed
notebooks and compares the cells marked NBVAL_CHECK_OUTPUT.)"""
from __future__ import annotations

import pytest

from cnnlib import report


@pytest.mark.slow
@pytest.mark.parametrize("path", report.list_notebooks(), ids=lambda p: p.name)
def test_notebook_runs_in_smoke_profile(path, tmp_path):
    rec = report.run_notebook(path, profile="smoke", out=tmp_path, timeout=240, fingerprints={})
    assert rec["status"] == "ok", f"{path.name}: {rec.get('error')}"
    assert (tmp_path / f"{path.stem}.html").stat().st_size > 10_000
    assert rec["metrics"], f"{path.name} recorded no metrics for its report"
