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


def _exercise_blocks(cells) -> dict:
    """{id: (prompt index, check index)} of each exercise: its ``### Exercise`` prompt, and the
    first cell after it that checks that id."""
    import re
    blocks = {}
    for i, cell in enumerate(cells):
        m = re.match(r"### Exercise (\d\d\.\d+) ", "".join(cell["source"]))
        if cell["cell_type"] == "markdown" and m:
            ex_id = m.group(1)
            check = next(j for j in range(i + 1, len(cells))
                         if f'exercises.check("{ex_id}"' in "".join(cells[j]["source"]))
            blocks[ex_id] = (i, check)
    return blocks


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_each_exercise_is_prompt_task_solution_check_in_order(path):
    """CONVENTIONS rule 15: the prompt names the registered title and stars; the task cell
    holds `# YOUR CODE HERE` and no tags; the `solution` cell follows it; the check cell comes
    right after; ids count up in notebook order."""
    cells = json.loads(path.read_text())["cells"]
    blocks = _exercise_blocks(cells)
    assert list(blocks) == sorted(blocks, key=lambda i: float(i.split(".", 1)[1])), f"{path.name}: order"
    assert set(blocks) == set(_exercise_ids_in(path)), f"{path.name}: a prompt without a check, or the reverse"
    for ex_id, (start, check) in blocks.items():
        ex = exercises._lookup(ex_id)
        src = ["".join(c["source"]) for c in cells]
        assert src[start].splitlines()[0] == f"### Exercise {ex_id} {'★' * ex.stars} · {ex.title}", src[start][:80]
        task, solution = cells[check - 2], cells[check - 1]
        assert solution["metadata"].get("tags") == ["solution"], f"{ex_id}: the cell before the check"
        assert "# YOUR CODE HERE" not in src[check - 1], f"{ex_id}: the solution still says YOUR CODE HERE"
        assert "# YOUR CODE HERE" in src[check - 2] and not task["metadata"].get("tags"), f"{ex_id}: task cell"
        assert cells[check]["cell_type"] == "code" and any(
            line.startswith(f'exercises.check("{ex_id}"') for line in src[check].splitlines()), f"{ex_id}: check cell"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_no_lesson_cell_reads_what_a_solution_defines(path):
    """The student edition has no solution cells: only an exercise's own cells may read the
    names its solution defines, or the student edition would fail with a NameError."""
    import ast
    cells = json.loads(path.read_text())["cells"]
    own = set()
    for start, check in _exercise_blocks(cells).values():
        own |= set(range(start, check + 1))
    defined = set()
    for c in cells:
        if "solution" in c["metadata"].get("tags", []):
            for stmt in ast.parse("".join(c["source"])).body:      # module-level names only
                if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
                    defined.add(stmt.name)
                elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                    defined |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    assert defined, f"{path.name}: its solutions define nothing"
    for i, c in enumerate(cells):
        if c["cell_type"] != "code" or i in own:
            continue
        src = "".join(c["source"])
        used = {n.id for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name)}
        assert not used & defined, f"{path.name} cell {i} uses {used & defined}: {src[:80]}"
