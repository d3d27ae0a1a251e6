"""docs/instructor.md is generated (python -m cnnlib guide) and must match the notebooks'
committed runs and the exercise catalogue."""
from __future__ import annotations

from cnnlib import exercises, guide, report


def test_committed_guide_is_up_to_date():
    assert guide.GUIDE_PATH.exists(), "docs/instructor.md is missing: run python -m cnnlib guide"
    assert guide.GUIDE_PATH.read_text(encoding="utf-8") == guide.render(), \
        "docs/instructor.md is stale: run python -m cnnlib guide and commit it"


def test_guide_lists_every_notebook_exercise_and_the_room_check():
    text = guide.render()
    for nb in report.list_notebooks():
        assert f"`{nb.name}`" in text
    for ex_id in exercises.catalogue()["id"]:
        assert f"| {ex_id} " in text
    assert "python -m cnnlib doctor" in text and "PROFILE=smoke" in text and "make student" in text


def test_guide_cli_writes_the_file(tmp_path, capsys):
    from cnnlib.__main__ import main
    assert main(["guide", "--out", str(tmp_path / "g.md")]) == 0
    assert (tmp_path / "g.md").read_text(encoding="utf-8") == guide.render()


def test_readme_tables_are_generated_from_the_committed_runs():
    text = guide.README_PATH.read_text(encoding="utf-8")
    assert guide.render_readme(text) == text, \
        "README.md's generated tables are stale: run python -m cnnlib guide and commit it"


def test_recipes_table_names_all_five_recipes_with_figures():
    table = guide.recipes_table()
    for r in ("R0", "R1", "R2", "R3", "R4"):
        assert f"| {r} ·" in table
    rows = [ln for ln in table.splitlines() if ln.startswith("| R")]
    assert all("—" not in row for row in rows), "a recipe's figure is missing from its notebook's committed run"


def test_a_readme_without_the_blocks_is_an_error():
    import pytest
    with pytest.raises(ValueError, match="no <!-- runtimes:start -->"):
        guide.render_readme("# README without blocks\n")


def test_runtimes_table_marks_runs_of_an_earlier_version(tmp_path, monkeypatch):
    """A machine class's run dated before the notebook's committed run is of an earlier version: marked †."""
    import json
    platform = {"AVX2": "Linux x86_64, 2 CPUs (AMD EPYC, AVX2)", "AVX-512": "Linux x86_64, 2 CPUs (AMD EPYC, AVX-512)"}

    def notebook(name, avx2_date):
        meta = {"budget_minutes": 5,
                "committed_run": {"profile": "full", "seconds": 120.0, "platform": platform["AVX-512"],
                                  "date": "2026-12-05"},
                "full_runs": {"AVX2": {"seconds": 300.0, "platform": platform["AVX2"], "date": avx2_date}}}
        path = tmp_path / name
        path.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": ["# 09 · A test"]}],
                                    "metadata": {"cnnlib": meta}}))
        return path

    paths = [notebook("09_old.ipynb", "2026-12-03"), notebook("10_same.ipynb", "2026-12-05")]
    monkeypatch.setattr(report, "list_notebooks", lambda: paths)
    rows = {line.split(" | ")[0]: line for line in guide.runtimes_table().splitlines() if line.startswith("| 09") or line.startswith("| 10")}
    assert "| 5.0 min † | 2.0 min |" in rows["| 09"]
    assert "| 5.0 min | 2.0 min |" in rows["| 10"]
    assert "† A run made before the notebook's committed run" in guide.runtimes_table()
