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
