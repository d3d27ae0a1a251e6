"""The harness shared by the ``tests/test_exercises_nbNN.py`` files: run one check and read
its outcome, and find an exercise's cells in its notebook.

The lenient mode these tests need (a wrong answer recorded, not raised) comes from the
autouse fixture in ``tests/conftest.py``.
"""
from __future__ import annotations

import json
from pathlib import Path

from cnnlib import exercises

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def outcome(id: str, answer, **context):
    """Check ``answer`` for exercise ``id`` (with the check cell's keyword ``context``) and
    return its recorded result: ``.status`` ("right", "wrong", "not attempted") and ``.message``."""
    exercises.check(id, answer, **context)
    return exercises.results[id]


def wrong(id: str, answer, **context) -> str:
    """The message of a check that must find ``answer`` wrong (the test fails otherwise)."""
    out = outcome(id, answer, **context)
    assert out.status == "wrong", out.message
    return out.message


def notebook_cells(notebook: str | Path) -> list[dict]:
    """The cells of a notebook, given its path or its name in notebooks/ (``"05_cats_vs_dogs"``)."""
    path = Path(notebook)
    if not path.is_file():
        path = NOTEBOOKS / f"{Path(notebook).stem}.ipynb"
    return json.loads(path.read_text())["cells"]


def source(cell: dict) -> str:
    """A cell's source as one string."""
    return "".join(cell["source"])


def exercise_cells(notebook: str | Path, id: str, *, between: int = 0) -> tuple[dict, dict, dict, dict]:
    """The prompt, task, solution and check cells of exercise ``id``, in notebook order.
    ``between`` lesson cells that sit between the prompt and the task cell are skipped."""
    cs = notebook_cells(notebook)
    starts = [i for i, c in enumerate(cs) if source(c).startswith(f"### Exercise {id} ")]
    assert len(starts) == 1, f"exercise {id} should have exactly one prompt, found {len(starts)}"
    s = starts[0]
    return (cs[s], *cs[s + 1 + between:s + 4 + between])


def answer_name(id: str) -> str:
    """The conventional answer variable of exercise ``id``: ``"03.2"`` -> ``"answer_03_2"``."""
    return "answer_" + id.replace(".", "_")
