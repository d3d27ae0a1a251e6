"""The student edition: the same notebooks with the solution cells removed and the outputs
cleared (nbconvert's own preprocessors), for workshops. ``python -m cnnlib student``."""
from __future__ import annotations

import os
from pathlib import Path

SOLUTION_TAG = "solution"


def student_notebook(source: str | os.PathLike):
    """The student version of one notebook, as an ``nbformat`` node: every cell tagged
    ``solution`` removed, every output and execution count cleared, the rest unchanged."""
    import nbformat
    from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor
    nb = nbformat.read(str(source), as_version=4)
    remove = TagRemovePreprocessor(remove_cell_tags={SOLUTION_TAG}, enabled=True)
    nb, _ = remove.preprocess(nb, {})
    nb, _ = ClearOutputPreprocessor(enabled=True).preprocess(nb, {})
    nb.metadata.pop("papermill", None)
    return nb


def write_student_edition(notebooks, out: str | os.PathLike) -> list[Path]:
    """Write the student edition of ``notebooks`` (paths) into the folder ``out``; returns the
    written paths. The notebooks' own folder is never overwritten."""
    import nbformat
    out = Path(out)
    written = []
    for src in notebooks:
        src = Path(src)
        if out.resolve() == src.parent.resolve():
            raise ValueError(f"--out {out} is the notebooks' own folder: the student edition "
                             "would overwrite the instructor's notebooks. Choose another folder, "
                             "e.g. student/.")
        out.mkdir(parents=True, exist_ok=True)
        dest = out / src.name
        nbformat.write(student_notebook(src), str(dest))
        written.append(dest)
    return written
