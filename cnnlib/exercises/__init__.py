"""Checked exercises: ``exercises.check("03.2", answer)`` says what is right or wrong.

Every lesson notebook ends its sections with exercises. Each has three cells:

1. a **task cell** the learner edits, ``answer = ...  # YOUR CODE HERE`` (or a function whose
   body is ``raise NotImplementedError``);
2. a **solution cell**, tagged ``solution``, that the student edition leaves out
   (``python -m cnnlib student``);
3. a **check cell**: ``exercises.check("03.2", answer)``.

``check`` never prints a bare pass/fail and never a traceback for a wrong answer: it says
what was expected, what it got, and hints at why (``expected shape (26, 26, 28), got
(28, 28, 28): 'valid' padding shrinks the map by kernel - 1``). An answer still ``...`` (or a
function that raises ``NotImplementedError``) is reported as "not attempted yet", and the rest
of the notebook still runs.

The checkers live in one module per notebook (``nb01`` ... ``nb08``) and register themselves
with ``@exercise(id, title, stars=..., mistake=...)``; ``catalogue()`` lists them all (the
instructor guide is generated from it).

With ``$CNNLIB_EXERCISES_STRICT=1`` a wrong or missing answer raises ``AssertionError``: that
is how CI proves that every solution passes its own check.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["check", "exercise", "Wrong", "catalogue", "results", "STRICT_ENV",
           "expect_equal", "expect_close", "expect_shape"]

STRICT_ENV = "CNNLIB_EXERCISES_STRICT"
NOT_ATTEMPTED = "not attempted yet"


class Wrong(Exception):
    """Raised by a checker with the learner-facing explanation of what is wrong."""


@dataclass
class Exercise:
    id: str
    title: str
    stars: int
    mistake: str
    checker: Callable = field(repr=False)


@dataclass
class Outcome:
    id: str
    status: str            # "correct", "wrong" or "not attempted"
    message: str


_REGISTRY: dict[str, Exercise] = {}
results: dict[str, Outcome] = {}
"""The latest outcome of each exercise checked in this process, by id."""


def exercise(id: str, title: str, *, stars: int, mistake: str):
    """Register a checker: ``checker(answer, **context) -> str`` returns the praise for a right
    answer and raises ``Wrong(explanation)`` for a wrong one. ``mistake``: the common learner
    mistake the exercise targets (for the instructor guide)."""
    if stars not in (1, 2, 3):
        raise ValueError(f"stars must be 1, 2 or 3 (★ to ★★★), got {stars!r}.")

    def register(checker):
        if id in _REGISTRY:
            raise ValueError(f"exercise {id!r} is registered twice.")
        _REGISTRY[id] = Exercise(id, title, stars, mistake, checker)
        return checker
    return register


def _load_all() -> None:
    for mod in pkgutil.iter_modules(__path__):
        if mod.name.startswith("nb"):
            importlib.import_module(f"{__name__}.{mod.name}")


def catalogue():
    """All exercises as a DataFrame: id, notebook, title, stars, the mistake each targets."""
    import pandas as pd
    _load_all()
    rows = [{"id": e.id, "notebook": e.id.split(".")[0], "title": e.title, "stars": "★" * e.stars,
             "mistake it targets": e.mistake} for e in sorted(_REGISTRY.values(), key=_sort_key)]
    return pd.DataFrame(rows, columns=["id", "notebook", "title", "stars", "mistake it targets"])


def _sort_key(e: Exercise):
    nb, _, k = e.id.partition(".")
    return (nb, int(k) if k.isdigit() else k)


def _lookup(id: str) -> Exercise:
    if id not in _REGISTRY:
        _load_all()
    if id not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise KeyError(f"No exercise {id!r}; known exercises: {known}.")
    return _REGISTRY[id]


def _is_stub(answer) -> bool:
    return answer is Ellipsis


def check(id: str, answer, **context) -> None:
    """Check ``answer`` to exercise ``id`` and print specific feedback (never a traceback).

    ``context``: what the checker needs from the notebook besides the answer (data, a trained
    model), named in the check cell. Returns nothing; the outcome is kept in ``results[id]``.
    """
    ex = _lookup(id)
    head = f"Exercise {id} ({'★' * ex.stars} {ex.title})"
    if _is_stub(answer):
        outcome = Outcome(id, "not attempted", f"{head}: {NOT_ATTEMPTED}. Replace the `...` in "
                          "the task cell above with your answer, run it, then run this cell again.")
    else:
        try:
            praise = ex.checker(answer, **context)
            outcome = Outcome(id, "correct", f"{head}: correct. {praise}".rstrip())
        except NotImplementedError:
            outcome = Outcome(id, "not attempted", f"{head}: {NOT_ATTEMPTED}. Write the body of the "
                              "function in the task cell above (it still raises "
                              "NotImplementedError), run it, then run this cell again.")
        except Wrong as exc:
            outcome = Outcome(id, "wrong", f"{head}: not yet. {exc}")
        except Exception as exc:  # noqa: BLE001 - the learner's code failed: explain, don't trace
            outcome = Outcome(id, "wrong", f"{head}: not yet. Your answer raised "
                              f"{type(exc).__name__}: {exc}. Fix that error first; the task cell "
                              "says what the answer should be.")
    results[id] = outcome
    print(outcome.message, flush=True)
    if os.environ.get(STRICT_ENV) == "1" and outcome.status != "correct":
        raise AssertionError(f"{STRICT_ENV}=1 and exercise {id} is {outcome.status}: {outcome.message}")


# --------------------------------------------------------------------------- checker helpers
def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return repr(v)


def expect_equal(got, expected, what: str, hint: str = "") -> None:
    """Raise ``Wrong`` naming ``what``, the expected and the given value, and the hint."""
    if got != expected:
        raise Wrong(f"expected {what} {_fmt(expected)}, got {_fmt(got)}" + (f": {hint}" if hint else "."))


def expect_close(got, expected, what: str, hint: str = "", *, rtol: float = 1e-4,
                 atol: float = 1e-6) -> None:
    """Like ``expect_equal`` for numbers and arrays, within a tolerance."""
    import numpy as np
    try:
        g = np.asarray(got, dtype="float64")
    except (TypeError, ValueError):
        raise Wrong(f"{what} should be a number or an array of numbers, got {type(got).__name__}.") from None
    e = np.asarray(expected, dtype="float64")
    if g.shape != e.shape:
        raise Wrong(f"expected {what} of shape {e.shape}, got shape {g.shape}" + (f": {hint}" if hint else "."))
    if not np.allclose(g, e, rtol=rtol, atol=atol):
        if e.size == 1:
            raise Wrong(f"expected {what} {float(e):.4g}, got {float(g):.4g}" + (f": {hint}" if hint else "."))
        worst = np.unravel_index(np.argmax(np.abs(g - e)), e.shape)
        raise Wrong(f"{what} differs most at index {tuple(int(i) for i in worst)}: expected "
                    f"{e[worst]:.4g}, got {g[worst]:.4g}" + (f": {hint}" if hint else "."))


def expect_shape(got, expected: tuple, what: str, hint: str = "") -> None:
    """Raise ``Wrong`` unless ``got`` (an array or a shape) has shape ``expected``."""
    shape = tuple(got.shape) if hasattr(got, "shape") else tuple(got)
    if shape != tuple(expected):
        raise Wrong(f"expected {what} shape {tuple(expected)}, got {shape}" + (f": {hint}" if hint else "."))
