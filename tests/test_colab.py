"""The Colab route: detection, the install command, ``colab.setup`` with a fake ``google.colab``
module (the loaders replaced: no network), and the badge and set-up cell of every notebook."""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from cnnlib import colab, datasets, report

NOTEBOOKS = report.list_notebooks()


class FakeSecrets:
    """``google.colab.userdata``: ``get`` raises for a secret that is not there, as Colab's does."""

    def __init__(self, **secrets):
        self.secrets = secrets

    def get(self, name):
        if name not in self.secrets:
            raise KeyError(f"Secret {name} does not exist.")
        return self.secrets[name]


@pytest.fixture
def on_colab(monkeypatch, tmp_path):
    """A fake Colab: ``google.colab`` imported, data going to tmp_path, the loaders recorded."""
    fake = types.ModuleType("google.colab")
    fake.userdata = FakeSecrets()
    monkeypatch.setitem(sys.modules, "google.colab", fake)
    monkeypatch.setenv("CNNLIB_DATA_DIR", str(tmp_path / "content" / "data"))
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY"):
        monkeypatch.delenv(name, raising=False)
    calls = []
    monkeypatch.setattr(datasets, "locate", lambda name: None)
    monkeypatch.setattr(datasets, "load_mnist", lambda: calls.append("mnist") or
                        types.SimpleNamespace(source=tmp_path / "mnist.npz"))
    monkeypatch.setattr(datasets, "load_cifar10", lambda: calls.append("cifar10") or
                        types.SimpleNamespace(source=tmp_path / "cifar-10-python.tar.gz"))
    monkeypatch.setattr(datasets, "blood_cells_dir", lambda: calls.append("blood_cells") or
                        datasets.BloodCellTree(root=tmp_path / "images", train=tmp_path / "T",
                                               test=tmp_path / "E", test_simple=tmp_path / "S"))
    fake.calls = calls
    return fake


def test_detection_follows_google_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert colab.on_colab() is False                      # this machine is no Colab runtime
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert colab.on_colab() is True


def test_install_command_installs_this_repository_at_its_branch_without_dependencies():
    cmd = colab.install_command()
    assert cmd[:2] == ["pip", "install"] and "--no-deps" in cmd
    assert cmd[-1] == f"cnnlib @ git+{colab.REPOSITORY}@main"
    assert colab.install_command("v1.0")[-1] == f"cnnlib @ git+{colab.REPOSITORY}@v1.0"
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", colab.REPOSITORY)


def test_badge_opens_the_notebook_on_colab():
    assert colab.badge("03_mnist.ipynb") == colab.badge("03_mnist") == (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"(https://colab.research.google.com/github/{colab.REPOSITORY.removeprefix('https://github.com/')}"
        "/blob/main/notebooks/03_mnist.ipynb)")


def test_setup_does_nothing_and_prints_nothing_off_colab(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(datasets, "load_mnist", lambda: pytest.fail("loaded MNIST off Colab"))
    assert colab.setup(datasets=("mnist", "blood_cells")) == {}
    assert capsys.readouterr() == ("", "")


def test_setup_fetches_mnist_and_cifar10_on_colab(on_colab, tmp_path, capsys):
    ready = colab.setup(datasets=("mnist", "cifar10"))
    assert on_colab.calls == ["mnist", "cifar10"]
    assert ready == {"mnist": tmp_path / "mnist.npz", "cifar10": tmp_path / "cifar-10-python.tar.gz"}
    assert (tmp_path / "content" / "data").is_dir()
    out = capsys.readouterr().out
    assert "mnist: ready" in out and "cifar10: ready" in out


def test_setup_points_the_data_dir_at_content_data_unless_set(on_colab, monkeypatch, tmp_path):
    monkeypatch.delenv("CNNLIB_DATA_DIR")
    made = []
    monkeypatch.setattr(colab.Path, "mkdir", lambda self, **kw: made.append(self))
    colab.setup(datasets=("mnist",))
    assert made == [Path("/content/data")]
    assert os.environ["CNNLIB_DATA_DIR"] == "/content/data"


def test_setup_uses_data_already_there(on_colab, monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "locate", lambda name: tmp_path / f"{name}.npz")
    assert colab.setup(datasets=("mnist",)) == {"mnist": tmp_path / "mnist.npz"}
    assert on_colab.calls == []                           # found: nothing downloaded


def test_setup_explains_the_kaggle_route_without_a_token(on_colab, capsys):
    ready = colab.setup(datasets=("blood_cells",))
    assert ready == {"blood_cells": None} and on_colab.calls == []
    out = capsys.readouterr().out
    for step in ("Kaggle", "Create New Token", "Secrets", "KAGGLE_USERNAME", "KAGGLE_KEY", "kagglehub",
                 "Run this cell again"):
        assert step in out


def test_setup_downloads_blood_cells_with_the_token_in_colab_secrets(on_colab, monkeypatch, tmp_path):
    on_colab.userdata = FakeSecrets(KAGGLE_USERNAME="learner", KAGGLE_KEY="k3y")
    ready = colab.setup(datasets=("blood_cells",))
    assert on_colab.calls == ["blood_cells"] and ready == {"blood_cells": tmp_path / "images"}
    assert os.environ["KAGGLE_USERNAME"] == "learner" and os.environ["KAGGLE_KEY"] == "k3y"


def test_setup_rejects_an_unknown_dataset_by_name():
    with pytest.raises(ValueError, match=r"'imagenet'.*choose from \['mnist', 'cifar10', 'blood_cells'\]"):
        colab.setup(datasets=("imagenet",))


def test_the_setup_cell_is_plain_python_and_does_nothing_here():
    source = colab.setup_cell(("mnist",))
    ast.parse(source)                                     # no IPython magics: any tool can read it
    res = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout == "" and res.stderr == ""


def test_the_setup_cell_installs_then_calls_setup_on_a_fake_colab(tmp_path):
    """The cell run in a fresh interpreter with a fake ``google.colab`` and a fake pip: it runs
    the install command when cnnlib is not importable, then colab.setup with its datasets."""
    source = colab.setup_cell(("cifar10",))
    log = tmp_path / "log.json"
    harness = f"""
import importlib.util, json, subprocess, sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")
calls = []
subprocess.run = lambda cmd, check: calls.append(cmd[1:])
real_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name == "cnnlib" else real_find_spec(name, *a)
from cnnlib import colab
colab.setup = lambda datasets: calls.append(list(datasets))
exec({source!r})
json.dump(calls, open({str(log)!r}, "w"))
"""
    res = subprocess.run([sys.executable, "-c", harness], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(log.read_text()) == [["-m", *colab.install_command()], ["cifar10"]]


def test_datasets_needed_reads_the_loader_calls():
    nb = {"cells": [{"cell_type": "markdown", "source": ["load_mnist() in prose does not count"]},
                    {"cell_type": "code", "source": ["x = datasets.blood_cells_dir()\n", "datasets.load_cifar10()"]}]}
    assert colab.datasets_needed(nb) == ("cifar10", "blood_cells")


def _title_and_setup(path: Path):
    nb = json.loads(path.read_text())
    title = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    return nb, "".join(title["source"]), code


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_the_badge_under_its_title(path):
    _, title, _ = _title_and_setup(path)
    lines = title.splitlines()
    assert lines[0].startswith("# ")
    badge_lines = [ln for ln in lines if "colab.research.google.com" in ln]
    assert badge_lines == [colab.badge(path.name)], (
        f"{path.name}: its title cell needs the Open in Colab badge linking to its own file, "
        f"colab.badge({path.name!r}), right under the title line")
    assert lines.index(badge_lines[0]) == 2, "the badge goes right under the title line"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_the_colab_setup_cell_after_its_parameters(path):
    nb, _, code = _title_and_setup(path)
    setup = code[1]
    assert "".join(setup["source"]) == colab.setup_cell(colab.datasets_needed(nb)), (
        f"{path.name}: its second code cell must be colab.setup_cell({colab.datasets_needed(nb)})")
    assert "".join(setup["source"]).startswith(colab.PLUMBING)
    assert setup["outputs"] == [], f"{path.name}: off Colab the set-up cell prints nothing"
    assert colab.datasets_needed(nb), f"{path.name} loads no dataset?"


def test_add_to_notebook_puts_badge_and_setup_cell_and_is_idempotent(tmp_path):
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 42 · A lesson\n\nText."),
                nbformat.v4.new_code_cell('PROFILE = "full"', metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("ds = datasets.load_mnist()")]
    path = tmp_path / "42_lesson.ipynb"
    nbformat.write(nb, str(path))
    assert colab.add_to_notebook(path) is True
    cells = json.loads(path.read_text())["cells"]
    assert colab.badge("42_lesson.ipynb") in "".join(cells[0]["source"])
    assert "".join(cells[0]["source"]).startswith("# 42 · A lesson\n\n[![Open In Colab]")
    assert cells[2]["id"] == colab.SETUP_CELL_ID and "'mnist'" in "".join(cells[2]["source"]).replace('"', "'")
    assert colab.add_to_notebook(path) is False                     # a second run changes nothing
    with pytest.raises(ValueError, match="parameters"):
        bare = tmp_path / "43_bare.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 43 · Bare")]), str(bare))
        colab.add_to_notebook(bare)
