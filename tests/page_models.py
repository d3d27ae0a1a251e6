"""The models written on the notebooks' pages, as builders the tests can call.

A notebook cell tagged ``page-model`` holds only ``def NAME(...)`` builders (and imports).
``page_builders()`` executes every such cell of every notebook in a namespace with ``keras``,
``layers``, ``np``, ``tf``, ``models`` (cnnlib.models, for custom layers) and ``SEED`` and
returns ``{(notebook stem, name): builder}``.
"""
from __future__ import annotations

import json
import types

from cnnlib import report

TAG = "page-model"


def page_cells(path) -> list[str]:
    nb = json.loads(path.read_text())
    return ["".join(c["source"]) for c in nb["cells"]
            if c["cell_type"] == "code" and TAG in c.get("metadata", {}).get("tags", [])]


def page_builders() -> dict:
    import keras
    import numpy as np
    import tensorflow as tf
    from cnnlib import models
    out = {}
    for path in report.list_notebooks():
        for src in page_cells(path):
            ns = {"keras": keras, "layers": keras.layers, "np": np, "tf": tf, "models": models,
                  "SEED": 0, "__name__": f"page_{path.stem}"}
            exec(compile(src, f"{path.name}[page-model]", "exec"), ns)
            for name, obj in ns.items():
                if isinstance(obj, types.FunctionType) and obj.__module__ == f"page_{path.stem}" \
                        and not name.startswith("_"):
                    out[(path.stem, name)] = obj
    return out


def signature(model) -> list[tuple]:
    """(layer type, output shape, parameters) per layer, nested models flattened."""
    rows = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers and not type(layer).__name__.startswith("Random"):
            rows += [(type(layer).__name__, None, int(layer.count_params()))]
            rows += signature(layer)
            continue
        try:
            shape = tuple(layer.output.shape)[1:]
        except (AttributeError, ValueError):
            shape = None
        rows.append((type(layer).__name__, shape, int(layer.count_params())))
    return rows
