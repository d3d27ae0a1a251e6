"""Running the course on Google Colab: the "Open in Colab" badge, and the set-up a notebook
needs there (the course library, and the datasets it uses).

Each notebook's title cell carries the badge (``badge(name)``), and its second code cell,
marked as plumbing, is ``setup_cell(datasets)``. That cell cannot import cnnlib before cnnlib
is installed, so it holds the little it must: on Colab it pip-installs this repository
(``install_command()``; ``--no-deps``, so Colab's own TensorFlow, Keras, NumPy... are used as
they are), then calls ``setup(datasets=...)``, which fetches the datasets the notebook loads.
Anywhere else the cell does nothing and prints nothing.

MNIST and CIFAR-10 download from their public URLs (checksum-verified, into ``/content/data``).
The blood-cell images come from Kaggle, which wants the learner's own API token: ``setup``
takes it from Colab's Secrets (``KAGGLE_USERNAME`` and ``KAGGLE_KEY``) and downloads through
kagglehub, or explains how to add them.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

REPOSITORY = "https://github.com/cnn-course/cnn-course"  # the course's GitHub repository
REF = "main"                                           # the branch (or tag) Colab installs and opens
DATA_DIR = "/content/data"                             # CNNLIB_DATA_DIR on Colab, unless you set one
DATASETS = ("mnist", "cifar10", "blood_cells")
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
PLUMBING = "# Plumbing: not the lesson, safe to skip."

# What a notebook's code calls -> the dataset it needs (see datasets_needed).
_LOADERS = {"load_mnist(": "mnist", "load_cifar10(": "cifar10", "blood_cells_dir(": "blood_cells"}


def on_colab() -> bool:
    """True inside a Google Colab runtime (``google.colab`` imported or importable)."""
    if "google.colab" in sys.modules:
        return True
    try:
        return importlib.util.find_spec("google.colab") is not None
    except (ImportError, ValueError):  # no ``google`` package at all, or a half-made one
        return False


def notebook_url(notebook: str, ref: str = REF) -> str:
    """Colab's URL that opens ``notebooks/NAME.ipynb`` of the repository at ``ref``."""
    name = Path(notebook).name
    if not name.endswith(".ipynb"):
        name += ".ipynb"
    repo = REPOSITORY.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{repo}/blob/{ref}/notebooks/{name}"


def badge(notebook: str, ref: str = REF) -> str:
    """The markdown "Open in Colab" badge of ``notebook`` (a file name, with or without .ipynb)."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({notebook_url(notebook, ref)})"


def install_command(ref: str = REF) -> list[str]:
    """pip's arguments (after ``python -m``) that install the course library from the
    repository at ``ref``. ``--no-deps``: Colab already has every package cnnlib imports, and
    replacing its TensorFlow or Jupyter packages would break the running session."""
    return ["pip", "install", "--quiet", "--no-deps", f"cnnlib @ git+{REPOSITORY}@{ref}"]


def _check_names(datasets) -> tuple[str, ...]:
    if isinstance(datasets, str):
        datasets = (datasets,)
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        raise ValueError(f"Unknown dataset(s) {unknown}; choose from {list(DATASETS)}.")
    return tuple(datasets)


def setup_cell(datasets=(), ref: str = REF) -> str:
    """The source of a notebook's Colab set-up cell for ``datasets`` (a tuple of DATASETS)."""
    datasets = _check_names(datasets)
    *args, spec = (json.dumps(a) for a in install_command(ref))
    return (f"{PLUMBING}\n"
            "# On Colab (the \"Open in Colab\" badge above): install the course library, fetch the data.\n"
            "# Anywhere else this cell does nothing.\n"
            "import sys\n"
            "if \"google.colab\" in sys.modules:\n"
            "    import importlib.util, subprocess\n"
            "    if importlib.util.find_spec(\"cnnlib\") is None:\n"
            f"        subprocess.run([sys.executable, \"-m\", {', '.join(args)},\n"
            f"                        {spec}], check=True)\n"
            "        importlib.invalidate_caches()\n"
            "    from cnnlib import colab\n"
            f"    colab.setup(datasets=[{', '.join(json.dumps(d) for d in datasets)}])")


def datasets_needed(notebook) -> tuple[str, ...]:
    """The datasets a notebook loads (in DATASETS order), from the loader calls in its code
    cells. ``notebook``: a path to an .ipynb file, or the notebook's JSON as a dict."""
    nb = notebook if isinstance(notebook, dict) else json.loads(Path(notebook).read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    found = {name for call, name in _LOADERS.items() if call in code}
    return tuple(d for d in DATASETS if d in found)


def _kaggle_token_from_secrets() -> bool:
    """Copy KAGGLE_USERNAME and KAGGLE_KEY from Colab's Secrets into the environment, where
    kagglehub looks. True when both are available (already in the environment, or copied)."""
    names = ("KAGGLE_USERNAME", "KAGGLE_KEY")
    if all(os.environ.get(n) for n in names):
        return True
    try:
        from google.colab import userdata
        values = {n: userdata.get(n) for n in names}
    except Exception:  # noqa: BLE001 - a missing secret or access not granted: explained by the caller
        return False
    if not all(values.values()):
        return False
    os.environ.update(values)
    return True


KAGGLE_HELP = (
    "Blood-cell images: they come from Kaggle, which needs your own (free) API token.\n"
    "  1. On kaggle.com: Settings > API > Create New Token (downloads kaggle.json).\n"
    "  2. In Colab: the key icon (Secrets) on the left; add KAGGLE_USERNAME and KAGGLE_KEY with the\n"
    "     two values from kaggle.json, and allow this notebook to access them.\n"
    "  3. Run this cell again: it downloads the images through kagglehub (about 100 MB).\n"
    "  Or upload Kaggle's 'Blood Cell Images' (its dataset2-master folder) anywhere under {data_dir}.")


def setup(datasets=()) -> dict:
    """On Colab, make ``datasets`` ready for this notebook and return ``{name: where}``;
    anywhere else do nothing, print nothing, and return ``{}``.

    Sets ``CNNLIB_DATA_DIR`` to ``/content/data`` unless it is set, then loads MNIST and
    CIFAR-10 (downloading them there, checksum-verified). For ``"blood_cells"`` it uses the
    images when they are already there, else downloads them through kagglehub with the Kaggle
    token in Colab's Secrets, else prints how to provide it (``where`` is then None).
    """
    datasets = _check_names(datasets)
    if not on_colab():
        return {}
    from . import datasets as ds
    data_dir = Path(os.environ.setdefault("CNNLIB_DATA_DIR", DATA_DIR))
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f"Colab: the course library is installed; datasets go to {data_dir}.")
    download = {"mnist": ds.load_mnist, "cifar10": ds.load_cifar10}
    ready = {}
    for name in datasets:
        found = ds.locate(name)
        if found is None and name in download:
            found = download[name]().source              # downloaded, checksum-verified
        elif found is None and _kaggle_token_from_secrets():
            found = ds.blood_cells_dir()                  # downloaded through kagglehub
        if found is None:
            print(KAGGLE_HELP.format(data_dir=data_dir))
            ready[name] = None
            continue
        ready[name] = found.root if isinstance(found, ds.BloodCellTree) else Path(found)
        print(f"{name}: ready in {ds.display_path(ready[name])}")
    return ready


# --------------------------------------------------------------------------- the notebooks' cells
SETUP_CELL_ID = "colab-setup"


def _add_badge(title_cell: dict, name: str) -> None:
    lines = "".join(title_cell["source"]).splitlines(keepends=True)
    if not lines or not lines[0].startswith("# "):
        raise ValueError(f"{name}: the first markdown cell must start with a '# ' title line")
    rest = [ln for ln in lines[1:] if "colab.research.google.com/github/" not in ln]   # an older badge
    while rest and not rest[0].strip():
        rest = rest[1:]
    title = lines[0] if lines[0].endswith("\n") else lines[0] + "\n"
    title_cell["source"] = [title, "\n", badge(name) + ("\n" if rest else "")] + (["\n"] + rest if rest else [])


def _add_setup_cell(nb: dict, name: str) -> None:
    source = setup_cell(datasets_needed(nb)).splitlines(keepends=True)
    for cell in nb["cells"]:
        if cell.get("id") == SETUP_CELL_ID:
            if "".join(cell["source"]) != "".join(source):       # a run's execution count stays
                cell.update(source=source, outputs=[], execution_count=None)
            return
    at = next((i for i, c in enumerate(nb["cells"]) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if at is None:
        raise ValueError(f"{name}: no cell is tagged 'parameters'")
    nb["cells"].insert(at + 1, {"cell_type": "code", "execution_count": None, "id": SETUP_CELL_ID,
                                "metadata": {}, "outputs": [], "source": source})


def add_to_notebook(path) -> bool:
    """Put (or refresh) the badge under the title of the notebook at ``path`` and its set-up
    cell right after the ``parameters`` cell, with the datasets its code loads. Idempotent;
    keeps the course's JSON layout. Returns True when the file changed. ``python -m cnnlib
    guide`` runs it on every notebook, so after changing ``REPOSITORY`` or ``REF`` that one
    command updates them all."""
    path = Path(path)
    before = path.read_text(encoding="utf-8")
    nb = json.loads(before)
    title = next((c for c in nb["cells"] if c["cell_type"] == "markdown"), None)
    if title is None:
        raise ValueError(f"{path.name}: no markdown title cell")
    _add_badge(title, path.name)
    _add_setup_cell(nb, path.name)
    after = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before

