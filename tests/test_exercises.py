"""The exercise framework: specific feedback, 'not attempted yet', strict mode, the
catalogue, and the student edition (solutions removed, outputs cleared)."""
from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest

from cnnlib import exercises, report
from cnnlib.exercises import Wrong, student


@pytest.fixture
def demo_exercise(monkeypatch):
    monkeypatch.setattr(exercises, "_REGISTRY", dict(exercises._REGISTRY))

    @exercises.exercise("99.1", "Output shape", stars=2, mistake="same-padding formula for valid")
    def _check(answer):
        exercises.expect_shape(answer, (26, 26, 28), "output",
                               "'valid' padding shrinks the map by kernel - 1")
        return "26 = 28 - 3 + 1."

    @exercises.exercise("99.2", "A function", stars=1, mistake="none")
    def _check_fn(fn):
        got = fn(3)
        exercises.expect_equal(got, 9, "square(3)", "multiply the number by itself")
        return "well done."
    return "99.1"


def test_right_wrong_and_missing_answers_get_specific_feedback(demo_exercise, capsys, monkeypatch):
    monkeypatch.delenv(exercises.STRICT_ENV, raising=False)
    exercises.check("99.1", np.zeros((26, 26, 28)))
    assert exercises.results["99.1"].status == "correct"
    exercises.check("99.1", np.zeros((28, 28, 28)))
    out = capsys.readouterr().out
    assert "correct. 26 = 28 - 3 + 1." in out
    assert "expected output shape (26, 26, 28), got (28, 28, 28): 'valid' padding shrinks" in out
    exercises.check("99.1", ...)
    assert exercises.results["99.1"].status == "not attempted"
    assert "not attempted yet" in capsys.readouterr().out


def test_a_stub_function_is_not_attempted_and_a_crashing_one_is_explained(demo_exercise, capsys, monkeypatch):
    monkeypatch.delenv(exercises.STRICT_ENV, raising=False)

    def stub(n):
        raise NotImplementedError

    exercises.check("99.2", stub)
    assert exercises.results["99.2"].status == "not attempted"
    exercises.check("99.2", lambda n: n / 0)
    out = capsys.readouterr().out
    assert "Your answer raised ZeroDivisionError" in out and "Traceback" not in out
    exercises.check("99.2", lambda n: n + n)
    assert "expected square(3) 9, got 6: multiply the number by itself" in capsys.readouterr().out


def test_strict_mode_raises_for_anything_but_a_right_answer(demo_exercise, monkeypatch):
    monkeypatch.setenv(exercises.STRICT_ENV, "1")
    exercises.check("99.1", np.zeros((26, 26, 28)))
    with pytest.raises(AssertionError, match="99.1 is wrong"):
        exercises.check("99.1", np.zeros((1, 1)))
    with pytest.raises(AssertionError, match="not attempted"):
        exercises.check("99.1", ...)


def test_unknown_exercise_and_bad_stars_are_named():
    with pytest.raises(KeyError, match="No exercise '00.0'"):
        exercises.check("00.0", 1)
    with pytest.raises(ValueError, match="stars must be 1, 2 or 3"):
        exercises.exercise("99.9", "x", stars=4, mistake="")


def test_expect_close_names_the_worst_index():
    with pytest.raises(Wrong, match=r"differs most at index \(1,\): expected 2, got 5"):
        exercises.expect_close([1.0, 5.0], [1.0, 2.0], "the map")
    with pytest.raises(Wrong, match="should be a number"):
        exercises.expect_close("abc", 1.0, "the sum")


def _exercise_ids_in(path) -> list[str]:
    import re
    nb = json.loads(path.read_text())
    ids = []
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "code":
            ids += re.findall(r"exercises\.check\(\s*[\"'](\d\d\.\d+)[\"']", src)
    return ids


LESSONS = [p for p in report.list_notebooks() if not p.name.startswith("00")]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_lesson_has_3_to_6_checked_exercises_with_tagged_solutions(path):
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    ids = _exercise_ids_in(path)
    assert 3 <= len(ids) <= 6, f"{path.name}: {len(ids)} checked exercises (want 3 to 6)"
    assert len(set(ids)) == len(ids), f"{path.name}: an exercise is checked twice"
    n_solutions = sum("solution" in c.get("metadata", {}).get("tags", []) for c in cells)
    assert n_solutions >= len(ids), f"{path.name}: {n_solutions} solution cells for {len(ids)} exercises"
    for i, cell in enumerate(cells):
        if "solution" in cell.get("metadata", {}).get("tags", []):
            before = "".join(cells[i - 1]["source"])
            assert "YOUR CODE HERE" in before, f"{path.name} cell {i}: a solution must follow its task cell"
    catalogue = exercises.catalogue()
    assert set(ids) <= set(catalogue["id"]), f"{path.name}: a check names an unregistered exercise"


def test_the_catalogue_lists_every_registered_exercise_in_order():
    cat = exercises.catalogue()
    assert list(cat.columns) == ["id", "notebook", "title", "stars", "mistake it targets"]
    assert cat["stars"].isin(["★", "★★", "★★★"]).all()
    assert (cat["mistake it targets"].str.len() > 10).all(), "say which mistake each exercise targets"


def test_student_edition_drops_solutions_clears_outputs_and_keeps_the_rest(tmp_path):
    nb = nbformat.v4.new_notebook()
    task = nbformat.v4.new_code_cell("answer = ...  # YOUR CODE HERE")
    sol = nbformat.v4.new_code_cell("answer = 42")
    sol.metadata["tags"] = ["solution"]
    chk = nbformat.v4.new_code_cell("print(answer)")
    chk.outputs = [nbformat.v4.new_output("stream", text="42\n")]
    chk.execution_count = 3
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), task, sol, chk]
    src = tmp_path / "src" / "10_t.ipynb"
    src.parent.mkdir()
    nbformat.write(nb, str(src))
    written = student.write_student_edition([src], tmp_path / "student")
    out = nbformat.read(str(written[0]), as_version=4)
    assert [c.source for c in out.cells] == ["# t", "answer = ...  # YOUR CODE HERE", "print(answer)"]
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in out.cells if c.cell_type == "code")
    with pytest.raises(ValueError, match="would overwrite the instructor's notebooks"):
        student.write_student_edition([src], src.parent)


def test_student_cli_writes_the_edition(tmp_path, capsys):
    from cnnlib.__main__ import main
    assert main(["student", "01", "--out", str(tmp_path / "st")]) == 0
    assert (tmp_path / "st" / "01_convolution.ipynb").exists()
    assert "Student edition: 1 notebook(s)" in capsys.readouterr().out
    assert main(["student", "99_nothing", "--out", str(tmp_path / "st")]) == 2
    assert "error: No notebook '99_nothing'" in capsys.readouterr().err
