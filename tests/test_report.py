"""The notebook runner (python -m cnnlib run) on tiny generated notebooks."""
from __future__ import annotations

import json
import os

import nbformat
import pytest

from cnnlib import report
from cnnlib.__main__ import main
from cnnlib.errors import ProfileError


def make_notebook(path, body: str):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('PROFILE = "full"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# tiny"), params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


OK_BODY = ("from cnnlib import report, profiles\n"
           "P = profiles.resolve(PROFILE)\n"
           "report.record(test_accuracy=0.5 if P == 'smoke' else 0.9, seen_profile=P)\n"
           "print('done', P)")


@pytest.fixture
def ok_nb(tmp_path):
    return make_notebook(tmp_path / "10_tiny.ipynb", OK_BODY)


def test_run_writes_ipynb_html_metrics_summary_and_saves_outputs(ok_nb, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLIB_PROFILE", "full")  # the runner's profile wins over the caller's env
    out = tmp_path / "reports"
    rec = report.run_notebook(ok_nb, profile="smoke", out=out, fingerprints={"mnist": None})
    assert rec["status"] == "ok", rec
    assert rec["metrics"] == {"test_accuracy": 0.5, "seen_profile": "smoke"}
    saved = json.loads((out / "10_tiny.metrics.json").read_text())
    assert saved["parameters"] == {"PROFILE": "smoke"}
    assert saved["kernel_env"] == report.KERNEL_ENV
    assert saved["versions"]["python"] and "tensorflow" in saved["versions"]
    assert "git_commit" in saved and saved["datasets"] == {"mnist": None}
    assert saved["platform"] == report.platform_summary() and f"{os.cpu_count()} CPUs (" in saved["platform"]
    html = (out / "10_tiny.html").read_text()
    assert "done smoke" in html
    executed = nbformat.read(str(out / "10_tiny.ipynb"), as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    assert not list(out.glob(".*recorded*"))
    text = report.write_summary([rec], out).read_text()
    assert "| 10_tiny.ipynb | ok |" in text and "test_accuracy=0.5" in text
    report.save_outputs(out / "10_tiny.ipynb", ok_nb)
    saved = nbformat.read(str(ok_nb), as_version=4)
    assert [c.metadata.get("tags", []) for c in saved.cells if c.cell_type == "code"][0] == ["parameters"]
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in saved.cells)
    assert "papermill" not in saved.metadata
    assert "done smoke" in saved.cells[-1].outputs[0]["text"]


def test_cpu_model_reads_cpuinfo_and_falls_back_when_it_cannot(tmp_path, monkeypatch):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC   7B13 64-Core Processor\n"
                    "processor\t: 1\nmodel name\t: AMD EPYC 7B13 64-Core Processor\n")
    assert report.cpu_model(info) == "AMD EPYC 7B13 64-Core Processor"     # whitespace collapsed, first CPU
    monkeypatch.setattr(report.platform, "processor", lambda: "arm")
    assert report.cpu_model(tmp_path / "missing") == "arm"                   # no /proc/cpuinfo (macOS, Windows)
    info.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\n")
    assert report.cpu_model(info) == "arm"                                   # no model name line
    monkeypatch.setattr(report.platform, "processor", lambda: "")
    assert report.cpu_model(tmp_path / "missing") == "unknown CPU"


def test_failing_notebook_is_reported_and_cli_exits_nonzero(tmp_path, capsys):
    bad = make_notebook(tmp_path / "11_bad.ipynb", "raise ValueError('the data is missing')")
    code = main(["run", str(bad), "--profile", "smoke", "--out", str(tmp_path / "r")])
    assert code == 1
    rec = json.loads((tmp_path / "r" / "11_bad.metrics.json").read_text())
    assert rec["status"] == "failed"
    assert "ValueError: the data is missing" in rec["error"]
    captured = capsys.readouterr()
    assert "11_bad.ipynb (failed)" in captured.err and "ValueError" in captured.out
    summary = (tmp_path / "r" / "summary.md").read_text()
    assert "| 11_bad.ipynb | failed |" in summary and "## Failures" in summary


def test_timeout_kills_the_notebook(tmp_path):
    slow = make_notebook(tmp_path / "12_slow.ipynb", "import time\ntime.sleep(60)")
    rec = report.run_notebook(slow, profile="smoke", out=tmp_path / "r", timeout=8, fingerprints={})
    assert rec["status"] == "timeout" and rec["seconds"] < 40
    assert "8 s limit" in rec["error"]


def test_unknown_profile_is_rejected(ok_nb, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLIB_PROFILE", "smoke")  # an explicit bad argument is never masked
    with pytest.raises(ProfileError, match="smoke"):
        report.run_notebook(ok_nb, profile="fast", out=tmp_path)
    with pytest.raises(SystemExit) as err:
        main(["run", str(ok_nb), "--profile", "fast"])
    assert err.value.code == 2


def test_unknown_notebook_lists_known_ones(tmp_path):
    with pytest.raises(FileNotFoundError, match="Known"):
        report.run_notebook("99_nope", profile="smoke", out=tmp_path)


def test_record_without_runner_stores_nothing(monkeypatch, tmp_path):
    monkeypatch.delenv(report.METRICS_ENV, raising=False)
    assert report.record(a=1) is None
    target = tmp_path / "m.json"
    monkeypatch.setenv(report.METRICS_ENV, str(target))
    import numpy as np
    report.record(acc=np.float32(0.25), curve=np.arange(3), bad=float("nan"))
    report.record(more=1)
    assert json.loads(target.read_text()) == {"acc": 0.25, "curve": [0, 1, 2], "bad": None, "more": 1}


def test_kernel_gets_the_runner_env_unless_the_caller_sets_it(tmp_path, monkeypatch):
    body = ("import os\nfrom cnnlib import report\n"
            "report.record(arenas=os.environ.get('MALLOC_ARENA_MAX'))")
    nb = make_notebook(tmp_path / "11_env.ipynb", body)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    rec = report.run_notebook(nb, profile="smoke", out=tmp_path / "a", fingerprints={})
    assert rec["metrics"] == {"arenas": "2"} and rec["kernel_env"]["MALLOC_ARENA_MAX"] == "2"
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    rec = report.run_notebook(nb, profile="smoke", out=tmp_path / "b", fingerprints={})
    assert rec["metrics"] == {"arenas": "4"} and rec["kernel_env"]["MALLOC_ARENA_MAX"] == "4"


# --------------------------------------------------------------------------- budgets and limits
def test_declared_budget_comes_from_metadata_and_bad_values_are_named(tmp_path):
    nb_path = make_notebook(tmp_path / "20_b.ipynb", "x = 1")
    assert report.declared_budget(nb_path) is None
    nb = nbformat.read(str(nb_path), as_version=4)
    nb.metadata["cnnlib"] = {"budget_minutes": 12.5}
    nbformat.write(nb, str(nb_path))
    assert report.declared_budget(nb_path) == 750.0
    nb.metadata["cnnlib"] = {"budget_minutes": -3}
    nbformat.write(nb, str(nb_path))
    with pytest.raises(ValueError, match="budget_minutes must be a positive"):
        report.declared_budget(nb_path)


def test_time_limit_scales_with_a_slower_machine_and_never_shrinks_on_a_faster_one():
    ref = report.REFERENCE_IMAGES_PER_SECOND
    base, how = report.time_limit(600, "full", speed=ref)
    assert base == report.BUDGET_MARGIN * 600 + report.BUDGET_SLACK_S
    assert "10-minute budget" in how and "measured speed" not in how
    fast, _ = report.time_limit(600, "full", speed=4 * ref)
    assert fast == base                                  # a fast machine keeps the full margin
    slow, how = report.time_limit(600, "full", speed=ref / 2)
    assert slow == report.BUDGET_MARGIN * 600 * 2 + report.BUDGET_SLACK_S
    assert "x 2.00 for this machine's measured speed" in how
    unknown, _ = report.time_limit(600, "full", speed=None)  # the probe failed: no scaling
    assert unknown == base
    assert report.time_limit(600, "smoke")[0] == report.DEFAULT_TIMEOUT["smoke"]
    assert report.time_limit(None, "full")[0] == report.DEFAULT_TIMEOUT["full"]


def test_every_course_notebook_declares_its_budget():
    for nb in report.list_notebooks():
        budget = report.declared_budget(nb)
        assert budget is not None and budget >= 60, f"{nb.name} declares no full-profile budget"


def test_timeout_keeps_the_partial_report_and_says_how_to_raise_the_limit(tmp_path):
    body = ("from cnnlib import report\nreport.record(before_the_slow_cell=1)\nprint('first cell ran')")
    nb_path = make_notebook(tmp_path / "21_partial.ipynb", body)
    nb = nbformat.read(str(nb_path), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import time\ntime.sleep(120)"))
    nbformat.write(nb, str(nb_path))
    out = tmp_path / "r"
    rec = report.run_notebook(nb_path, profile="smoke", out=out, timeout=20, fingerprints={})
    assert rec["status"] == "timeout"
    assert "--timeout SECONDS" in rec["error"] and "partial report is kept" in rec["error"]
    assert rec["metrics"] == {"before_the_slow_cell": 1}          # what it recorded is kept
    executed = nbformat.read(str(out / "21_partial.ipynb"), as_version=4)
    texts = [o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any("first cell ran" in t for t in texts)             # the executed part is kept
    assert (out / "21_partial.html").exists()


def test_saved_outputs_keep_the_run_and_its_section_timings(tmp_path):
    body = "import time\ntime.sleep(0.3)\nfrom cnnlib import report\nreport.record(acc=0.5)"
    nb_path = make_notebook(tmp_path / "22_sections.ipynb", "x = 1")
    nb = nbformat.read(str(nb_path), as_version=4)
    nb.cells += [nbformat.v4.new_markdown_cell("## 1. Slow part\ntext"), nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, str(nb_path))
    out = tmp_path / "r"
    assert report.run_notebook(nb_path, profile="smoke", out=out, fingerprints={})["status"] == "ok"
    report.save_outputs(out / nb_path.name, nb_path)
    run = nbformat.read(str(nb_path), as_version=4).metadata["cnnlib"]["committed_run"]
    assert run["profile"] == "smoke" and run["seconds"] > 0.3
    assert run["platform"] == report.platform_summary()
    titles = [t for t, _ in run["sections"]]
    assert titles[-1] == "1. Slow part" and run["sections"][-1][1] >= 0.3
    assert run["metrics"] == json.loads((out / "22_sections.metrics.json").read_text())["metrics"]


def test_index_html_links_every_report_with_its_runtime_budget_and_key_metrics(ok_nb, tmp_path):
    out = tmp_path / "reports"
    bad = make_notebook(tmp_path / "11_bad.ipynb", "raise ValueError('boom')")
    records = report.run_notebooks([str(ok_nb), str(bad)], profile="smoke", out=out)
    page = (out / "index.html").read_text()
    assert '<a href="10_tiny.html">10_tiny.ipynb</a>' in page
    assert "<code>test_accuracy</code> 0.5" in page and "seen_profile" not in page
    assert 'class="failed"' in page and "boom" in page
    assert f"{len(records) - 1} of {len(records)} notebook(s) finished" in page
    assert report.platform_summary() in page


@pytest.mark.parametrize("line, cls", [
    ("Linux x86_64, 2 CPUs (AMD EPYC, AVX2)", "AVX2"),
    ("Linux x86_64, 2 CPUs (Intel(R) Xeon(R) Platinum 8488C, AVX-512 + AMX)", "AVX-512"),
    ("Linux x86_64, 4 CPUs (Intel(R) Core(TM) i5, AVX2 + AVX-VNNI)", "AVX2"),
    ("Darwin arm64, 8 CPUs (Apple M2, ARM NEON)", "ARM NEON"),
    ("", "unknown"), ("Linux x86_64, 2 CPUs", "unknown"),
    ("Linux x86_64, 2 CPUs (AMD EPYC)", "unknown"),                     # older lines: no features named
    ("Linux x86_64, 2 CPUs (Intel(R) Xeon(R) Platinum 8375C)", "unknown"),
])
def test_vector_class_reads_the_machine_class_of_a_platform_line(line, cls):
    assert report.vector_class(line) == cls


def test_a_full_run_keeps_the_other_machine_class_and_replaces_its_own(tmp_path, monkeypatch):
    import nbformat
    old_avx2 = {"profile": "full", "seconds": 600.0, "platform": "Linux x86_64, 2 CPUs (AMD EPYC, AVX2)",
                "date": "2026-12-03"}
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nb.metadata["cnnlib"] = {"committed_run": old_avx2}
    nb.metadata["papermill"] = {"parameters": {"PROFILE": "full"}, "duration": 420.0}
    executed, source = tmp_path / "run.ipynb", tmp_path / "nb.ipynb"
    nbformat.write(nb, str(executed))
    monkeypatch.setattr(report, "platform_summary", lambda: "Linux x86_64, 2 CPUs (AMD EPYC, AVX-512)")
    report.save_outputs(executed, source)
    runs = nbformat.read(str(source), as_version=4).metadata["cnnlib"]["full_runs"]
    assert runs["AVX2"]["seconds"] == 600.0 and runs["AVX-512"]["seconds"] == 420.0
    # a second AVX-512 run replaces the first, the AVX2 one stays
    again = nbformat.read(str(source), as_version=4)
    again.metadata["papermill"] = {"parameters": {"PROFILE": "full"}, "duration": 400.0}
    nbformat.write(again, str(executed))
    report.save_outputs(executed, source)
    runs = nbformat.read(str(source), as_version=4).metadata["cnnlib"]["full_runs"]
    assert runs["AVX2"]["seconds"] == 600.0 and runs["AVX-512"]["seconds"] == 400.0
    # a smoke run records itself but changes no full-run figure
    again = nbformat.read(str(source), as_version=4)
    again.metadata["papermill"] = {"parameters": {"PROFILE": "smoke"}, "duration": 30.0}
    nbformat.write(again, str(executed))
    report.save_outputs(executed, source)
    meta = nbformat.read(str(source), as_version=4).metadata["cnnlib"]
    assert meta["committed_run"]["profile"] == "smoke" and meta["full_runs"]["AVX-512"]["seconds"] == 400.0
