"""Project-level invariants: dependency lists in step, notebook hygiene, doctor."""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from cnnlib import doctor, report

from .conftest import write_blood_tree, write_cifar_npz, write_mnist_npz

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = report.list_notebooks()
MACHINE_PATH = re.compile(r"/(work|root|tmp|home|Users)/[\w.-]+|/farm/|\.pyenv/|site-packages")


def _names(reqs):
    return {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in reqs}


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _names(project["dependencies"] + project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = _names([r for r in pip_section if not r.startswith("-e")])
    assert listed == wanted, f"environment.yml and pyproject.toml differ: {set(listed.items()) ^ set(wanted.items())}"
    assert "python=3.11" in env["dependencies"]


def test_readme_commands_exist():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in ("report", "test"):
        assert f"make {target}" in readme and re.search(rf"^{target}:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_make_lab_starts_kernels_like_the_runner():
    # `make lab` repeats report.KERNEL_ENV for JupyterLab; the two must not drift apart
    from cnnlib import report
    lab = re.search(r"^lab:.*\n\t(.*)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    for name, value in report.KERNEL_ENV.items():
        assert f"{name}=$${{{name}:-{value}}}" in lab


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 1 and NOTEBOOKS[0].name == "00_start_here.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_hygiene(path):
    nb = json.loads(path.read_text())
    assert path.stat().st_size < 3 * 2**20, "keep each notebook under 3 MiB"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    first = code[0]
    assert "parameters" in first["metadata"].get("tags", []), "first code cell must be tagged parameters"
    assert re.search(r'^PROFILE = "full"', "".join(first["source"]), re.M)
    derive = code[2] if code[1].get("id") == "colab-setup" else code[1]   # after the Colab set-up cell
    assert "profiles.resolve(PROFILE)" in "".join(derive["source"]), "settings derive in the next cell"
    assert any(c.get("outputs") for c in code), "commit the notebook with the outputs of a real run"
    for i, cell in enumerate(code):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"code cell {i} has a stored error"
            text = json.dumps(out.get("text", "")) + json.dumps(out.get("data", {}).get("text/plain", ""))
            assert not MACHINE_PATH.search(text), f"code cell {i} shows a machine path"
            assert "━━━━" not in text, f"code cell {i} shows a Keras progress bar"
            assert "Warning" not in text or "warnings" in "".join(cell["source"]), f"code cell {i} stores a warning"


def test_doctor_reports_missing_data_with_the_fix(isolated_data, capsys):
    assert doctor.main() == 1
    out = capsys.readouterr().out
    assert "MISSING  data: mnist" in out and "Fix:" in out and "problem(s) found" in out


def test_doctor_all_set_with_fixture_data(isolated_data, capsys):
    write_mnist_npz(isolated_data / "mnist.npz")
    write_cifar_npz(isolated_data / "cifar10.npz")
    write_blood_tree(isolated_data)
    assert doctor.main() == 0
    out = capsys.readouterr().out
    assert "ok       data: blood_cells  $CNNLIB_DATA_DIR/dataset2-master" in out
    assert "Jupyter kernel" in out and "TensorFlow" in out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_budget_named_in_the_prose_is_the_declared_one(path):
    """The runner, the README and the instructor guide read cnnlib.budget_minutes; prose that
    names a budget must say the same figure."""
    nb = json.loads(path.read_text())
    declared = nb["metadata"].get("cnnlib", {}).get("budget_minutes")
    prose = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for minutes in re.findall(r"budgeted at (\d+(?:\.\d+)?) minutes", prose):
        assert float(minutes) == declared, f"{path.name}: the prose says {minutes} minutes, the metadata {declared}"
