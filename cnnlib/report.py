"""Notebooks as reproducible reports.

Inside a notebook, ``record(test_accuracy=..., fit_seconds=...)`` stores figures for
the report. Outside, ``run_notebooks`` (behind ``python -m cnnlib run``) executes
notebooks with papermill, one subprocess each with a time limit, then writes for
each: the executed ``.ipynb``, an ``.html`` page (nbconvert) and a ``.metrics.json``
holding the recorded figures, the parameters, package versions, dataset checksums
and the git commit. ``summary.md`` tabulates them all.
"""
from __future__ import annotations

import json
import math
import os
import re
import platform
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from . import profiles

METRICS_ENV = "CNNLIB_METRICS_FILE"
REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
DEFAULT_TIMEOUT = {"smoke": 300, "full": 1800}
"""Per-notebook limits when a notebook declares no budget (and for the smoke profile)."""
BUDGET_MARGIN = 1.5
"""A full run may take this many times its notebook's declared budget (scaled by the
machine's speed) before the runner stops it."""
BUDGET_SLACK_S = 120
"""Plus this many seconds: kernel start, imports, HTML conversion."""
REFERENCE_IMAGES_PER_SECOND = 1000.0
"""``machine_speed()`` on the machine the budgets are declared for: a 2-core AMD EPYC
(AVX2, no AVX-512) with oneDNN on. A machine measuring less gets proportionally more time;
a faster one never gets less than the budget's margin."""
SPEED_PROBE = r"""
import os, time, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np, keras
keras.utils.set_random_seed(0)
m = keras.Sequential([keras.Input((32, 32, 3)),
    keras.layers.Conv2D(32, 3, padding="same", activation="relu"), keras.layers.MaxPooling2D(),
    keras.layers.Conv2D(64, 3, padding="same", activation="relu"), keras.layers.MaxPooling2D(),
    keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
m.compile("adam", "sparse_categorical_crossentropy")
x = np.random.default_rng(0).random((64 * 24, 32, 32, 3), dtype=np.float32)
y = np.arange(len(x)) % 10
m.fit(x[:64 * 4], y[:64 * 4], batch_size=64, verbose=0)
t = time.perf_counter()
m.fit(x[64 * 4:], y[64 * 4:], batch_size=64, verbose=0)
print(64 * 20 / (time.perf_counter() - t))
"""
KERNEL_ENV = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "1048576", "TF_ENABLE_ONEDNN_OPTS": "1"}
"""Set for every notebook kernel unless the caller's environment already sets them.
glibc gives each thread that allocates under contention its own memory arena (up to 8 per
core), and TensorFlow runs dozens of threads: memory they free stays spread over the arenas
instead of going back to the system. And glibc raises its mmap threshold as large blocks are
freed, so later large tensors come from the heap, where freed memory is kept. Two arenas, and
a fixed 1 MiB threshold (every larger block is mapped, and unmapped when freed), bound that.
In a script repeating notebook 07's steps, two arenas cut the peak resident memory from
2,932 to 1,781 MiB; in a script training 40 steps and evaluating TEST, the fixed threshold
cut it from 1,849 to 1,126 MiB. Allocators other than glibc's ignore both variables."""
VERSIONED = ("tensorflow", "keras", "numpy", "scikit-learn", "matplotlib", "papermill", "nbconvert")


def _clean(value):
    """JSON-safe copy of a metric value (NumPy scalars and arrays become Python ones)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def record(**metrics) -> None:
    """Record figures for this notebook's report (merged into its metrics JSON).

    Values may be numbers, strings, lists or dicts (NumPy values are converted).
    Outside ``python -m cnnlib run`` (no ``$CNNLIB_METRICS_FILE``) this stores nothing.
    """
    path = os.environ.get(METRICS_ENV)
    if not path:
        return
    path = Path(path)
    current = json.loads(path.read_text()) if path.exists() else {}
    current.update({k: _clean(v) for k, v in metrics.items()})
    path.write_text(json.dumps(current, indent=2, sort_keys=True))


# --------------------------------------------------------------------------- runner
def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> str | None:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO_ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (sha + ("-dirty" if dirty else "")) if sha else None


def list_notebooks() -> list[Path]:
    """The course notebooks, in learning order."""
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def _resolve_notebook(name: str) -> Path:
    p = Path(name)
    for cand in (p, NOTEBOOK_DIR / p, NOTEBOOK_DIR / f"{p.name}.ipynb"):
        if cand.is_file():
            return cand.resolve()
    matches = [nb for nb in list_notebooks() if nb.stem.startswith(p.stem)]
    if len(matches) == 1:
        return matches[0]
    raise FileNotFoundError(f"No notebook {name!r}. Known: {[nb.name for nb in list_notebooks()]}")


def _error_summary(executed: Path, stderr: str) -> str:
    """The exception a failed notebook stopped on, from its saved outputs or papermill's log."""
    try:
        nb = json.loads(executed.read_text())
        for i, cell in enumerate(nb["cells"]):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    return f"cell {i}: {out['ename']}: {out['evalue']}"[:600]
    except (OSError, ValueError, KeyError):
        pass
    tail = [ln for ln in stderr.strip().splitlines() if ln.strip()][-3:]
    return " | ".join(tail)[:600] or "no error output"


def _to_html(executed: Path, html: Path) -> None:
    from nbconvert import HTMLExporter
    body, _ = HTMLExporter().from_filename(str(executed))
    html.write_text(body, encoding="utf-8")


def declared_budget(notebook: str | os.PathLike) -> float | None:
    """The notebook's full-profile time budget in seconds, from its metadata
    ``{"cnnlib": {"budget_minutes": N}}``, or None if it declares none."""
    nb = json.loads(Path(notebook).read_text())
    minutes = nb.get("metadata", {}).get("cnnlib", {}).get("budget_minutes")
    if minutes is None:
        return None
    if not isinstance(minutes, (int, float)) or minutes <= 0:
        raise ValueError(f"{Path(notebook).name}: metadata cnnlib.budget_minutes must be a positive "
                         f"number of minutes, got {minutes!r}.")
    return 60.0 * minutes


def machine_speed(env: dict | None = None, timeout: float = 120) -> float | None:
    """Training images/s of a small CNN on this machine (a ~5 s probe in a fresh Python with
    the kernels' environment, so the oneDNN setting applies), or None if the probe fails."""
    env = {**KERNEL_ENV, **os.environ, **(env or {})}
    try:
        out = subprocess.run([sys.executable, "-c", SPEED_PROBE], env=env, capture_output=True,
                             text=True, timeout=timeout)
        return float(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def time_limit(budget_s: float | None, profile: str, speed: float | None = None) -> tuple[float, str]:
    """The runner's limit for one notebook, and how it was derived (for messages).

    Full profile with a declared budget: ``BUDGET_MARGIN x budget x slowness + BUDGET_SLACK_S``,
    where slowness = ``REFERENCE_IMAGES_PER_SECOND / speed`` when the machine measured slower
    than the reference (never below 1). Otherwise the profile's default limit."""
    if profile != "full" or budget_s is None:
        limit = float(DEFAULT_TIMEOUT[profile])
        return limit, f"the {profile} profile's default limit of {limit:.0f} s"
    slowness = max(1.0, REFERENCE_IMAGES_PER_SECOND / speed) if speed else 1.0
    limit = BUDGET_MARGIN * budget_s * slowness + BUDGET_SLACK_S
    how = (f"{BUDGET_MARGIN:g} x its {budget_s / 60:g}-minute budget"
           + (f" x {slowness:.2f} for this machine's measured speed ({speed:,.0f} against "
              f"{REFERENCE_IMAGES_PER_SECOND:,.0f} images/s)" if slowness > 1 else "")
           + f" + {BUDGET_SLACK_S} s")
    return limit, how


def run_notebook(notebook: str | os.PathLike, *, profile: str, out: str | os.PathLike,
                 timeout: float | None = None, fingerprints: dict | None = None,
                 speed: float | None = None) -> dict:
    """Execute one notebook into ``out`` and return its metrics record (also written
    to ``out/NAME.metrics.json``). Never raises for a failing notebook: the record's
    ``status`` is 'ok', 'failed' or 'timeout', and ``error`` says why.

    ``timeout``: seconds allowed; by default derived from the notebook's declared budget and
    ``speed`` (see ``time_limit``). A notebook stopped at its limit keeps its partial report:
    the executed notebook as far as it got (papermill saves after every cell), its HTML and
    the figures it had recorded."""
    profiles.validate(profile, "the profile argument")
    nb = _resolve_notebook(str(notebook))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    executed, html = out / nb.name, out / f"{nb.stem}.html"
    metrics_path = out / f"{nb.stem}.metrics.json"
    recorded_path = out / f".{nb.stem}.recorded.json"
    recorded_path.unlink(missing_ok=True)
    if timeout:
        how = "the --timeout given"
    else:
        timeout, how = time_limit(declared_budget(nb), profile, speed)
    env = {**KERNEL_ENV, **os.environ, "CNNLIB_PROFILE": profile, METRICS_ENV: str(recorded_path.resolve())}
    cmd = [sys.executable, "-m", "papermill", str(nb), str(executed), "-p", "PROFILE", profile,
           "--cwd", str(nb.parent), "--no-progress-bar", "--log-level", "WARNING"]
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=timeout)
        status = "ok" if proc.returncode == 0 else "failed"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # papermill and its kernel
        _, stderr = proc.communicate()
        status = "timeout"
    seconds = time.perf_counter() - t0
    record_ = {
        "notebook": nb.name,
        "profile": profile,
        "status": status,
        "seconds": round(seconds, 1),
        "started_at": started.isoformat(timespec="seconds"),
        "parameters": {"PROFILE": profile},
        "time_limit_s": round(timeout, 1),
        "budget_s": declared_budget(nb),
        "kernel_env": {name: env[name] for name in KERNEL_ENV},
        "metrics": json.loads(recorded_path.read_text()) if recorded_path.exists() else {},
        "versions": package_versions(),
        "git_commit": git_commit(),
        "platform": platform_summary(),
        "datasets": fingerprints if fingerprints is not None else {},
    }
    recorded_path.unlink(missing_ok=True)
    if status == "timeout":
        record_["error"] = (f"stopped after the {timeout:.0f} s limit ({how}); the partial report "
                            f"is kept in {out}/. To allow longer: python -m cnnlib run {nb.stem} "
                            f"--profile {profile} --timeout SECONDS")
    elif status == "failed":
        record_["error"] = _error_summary(executed, stderr)
    if executed.exists():
        try:
            _to_html(executed, html)
        except Exception as exc:  # noqa: BLE001 - a report without HTML is still a report
            record_["html_error"] = str(exc)
    metrics_path.write_text(json.dumps(record_, indent=2, sort_keys=True))
    return record_


def cpu_model(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> str:
    """The processor's name (Linux's ``/proc/cpuinfo`` "model name"), else what
    ``platform.processor()`` says, else "unknown CPU". Runtimes mean little without it."""
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def platform_summary() -> str:
    """One line for a report, e.g. ``Linux x86_64, 2 CPUs (AMD EPYC, AVX2)``: the CPU model
    and its vector features, without which a runtime means little."""
    from .cpu import vector_summary
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({cpu_model()}, {vector_summary()})"


def vector_class(platform_line: str) -> str:
    """The machine class a runtime belongs to, from a :func:`platform_summary` line:
    ``"AVX-512"`` (with or without AMX), ``"AVX2"`` (with or without AVX-VNNI), or the
    vector features it names otherwise (``"ARM NEON"``...); ``"unknown"`` without any."""
    line = (platform_line or "").rstrip()
    inside = line[line.rfind("(") + 1:-1] if line.endswith(")") else ""   # "CPU model, features"
    if ", " not in inside:                      # an older line, the CPU model without its features
        return "unknown"
    named = inside.rsplit(", ", 1)[-1].strip()
    return named.split(" + ")[0] if named.startswith("AVX") else named


def full_runs(meta: dict) -> dict:
    """``{machine class: {"seconds", "platform", "date"}}``: a notebook's latest full-profile run
    on each class of machine (see :func:`vector_class`), from its ``cnnlib`` metadata."""
    runs = dict(meta.get("full_runs", {}))
    run = meta.get("committed_run")
    if run and run.get("profile") == "full":
        runs.setdefault(vector_class(run.get("platform", "")),
                        {k: run.get(k) for k in ("seconds", "platform", "date")})
    return runs


def save_outputs(executed: str | os.PathLike, notebook: str | os.PathLike) -> None:
    """Copy an executed notebook's outputs back over the source notebook, for committing
    real-run outputs: papermill's injected-parameters cell and run metadata are dropped,
    so the source keeps its own ``parameters`` cell and default profile. The run is recorded
    in the metadata (``cnnlib.committed_run``), and a full-profile run also under its machine
    class in ``cnnlib.full_runs``, which keeps the latest full run of every other class."""
    import nbformat
    nb = nbformat.read(str(executed), as_version=4)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    run = nb.metadata.get("papermill", {})
    profile = run.get("parameters", {}).get("PROFILE")
    meta = nb.metadata.setdefault("cnnlib", {})
    previous = full_runs(meta)
    meta["committed_run"] = {
        "profile": profile, "seconds": round(float(run.get("duration") or 0), 1),
        "platform": platform_summary(), "date": datetime.now(timezone.utc).date().isoformat(),
        "sections": section_seconds(nb), "metrics": _recorded_metrics(Path(executed))}
    if profile == "full":
        this = meta["committed_run"]
        previous[vector_class(this["platform"])] = {k: this[k] for k in ("seconds", "platform", "date")}
    if previous:
        meta["full_runs"] = dict(sorted(previous.items()))
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        if cell.cell_type == "code":
            cell.metadata.pop("execution", None)
    nbformat.write(nb, str(notebook))


def _recorded_metrics(executed: Path) -> dict:
    """The figures the run recorded (its ``.metrics.json`` beside the executed notebook)."""
    path = executed.parent / f"{executed.stem}.metrics.json"
    try:
        return json.loads(path.read_text()).get("metrics", {})
    except (OSError, ValueError):
        return {}


def section_seconds(nb) -> list[list]:
    """``[[section title, seconds], ...]`` of an executed notebook: papermill's per-cell
    durations summed under each ``## `` heading (cells before the first: "Setup")."""
    sections, title = [], "Setup"
    totals: dict[str, float] = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("## "):
                    title = line[3:].strip()
                    break
        if title not in totals:
            totals[title] = 0.0
            sections.append(title)
        if cell.cell_type == "code":
            totals[title] += float(cell.metadata.get("papermill", {}).get("duration") or 0)
    return [[t, round(totals[t], 1)] for t in sections if totals[t] > 0 or t != "Setup"]


def dataset_fingerprints() -> dict:
    """sha256 fingerprints of every dataset found locally (see datasets.fingerprint)."""
    from . import datasets
    return {name: datasets.fingerprint(name) for name in ("mnist", "cifar10", "blood_cells")}


def _headline(metrics: dict) -> str:
    keys = [k for k in metrics if any(w in k for w in ("accuracy", "seconds"))][:4]
    parts = []
    for k in keys:
        v = metrics[k]
        parts.append(f"{k}={v:.4g}" if isinstance(v, (int, float)) else f"{k}={v}")
    return ", ".join(parts)


def write_summary(records: list[dict], out: Path) -> Path:
    lines = ["# Course report", "",
             f"Profile: **{records[0]['profile']}** · commit `{records[0]['git_commit']}` · "
             f"{records[0]['platform']} · TensorFlow {records[0]['versions'].get('tensorflow')}", "",
             "| notebook | status | seconds | key metrics | report |",
             "| --- | --- | ---: | --- | --- |"]
    for r in records:
        stem = Path(r["notebook"]).stem
        lines.append(f"| {r['notebook']} | {r['status']} | {r['seconds']:.1f} | "
                     f"{_headline(r['metrics'])} | [{stem}.html]({stem}.html) |")
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        lines += ["", "## Failures", ""] + [f"- {r['notebook']}: {r.get('error')}" for r in failed]
    path = out / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_index(records: list[dict], out: Path) -> Path:
    """``out/index.html``: one page for a person who runs the course as a report: the run's
    profile, commit and machine, and per notebook its status, runtime (against its budget),
    key metrics and a link to its HTML report."""
    from html import escape
    first = records[0]
    rows = []
    for r in records:
        stem = Path(r["notebook"]).stem
        budget = r.get("budget_s")
        metrics = "".join(f"<li><code>{escape(str(k))}</code> {escape(_metric_text(v))}</li>"
                          for k, v in sorted(r["metrics"].items()) if _is_key_metric(k, v))
        link = (f'<a href="{escape(stem)}.html">{escape(r["notebook"])}</a>'
                if (out / f"{stem}.html").exists() else escape(r["notebook"]))
        status = escape(r["status"]) + (f"<br><small>{escape(str(r.get('error')))}</small>"
                                        if r["status"] != "ok" else "")
        rows.append(f"<tr class=\"{escape(r['status'])}\"><td>{link}</td><td>{status}</td>"
                    f"<td>{r['seconds'] / 60:.1f} min</td>"
                    f"<td>{f'{budget / 60:g} min' if budget and r['profile'] == 'full' else ''}</td>"
                    f"<td><ul>{metrics}</ul></td></tr>")
    ok = sum(r["status"] == "ok" for r in records)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Course report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:.4em;vertical-align:top;text-align:left}}
tr.failed,tr.timeout{{background:#fee}}ul{{margin:0;padding-left:1.2em}}</style></head>
<body><h1>Course report</h1>
<p>Profile <b>{escape(first['profile'])}</b> · commit <code>{escape(str(first['git_commit']))}</code> ·
{escape(first['platform'])} · TensorFlow {escape(str(first['versions'].get('tensorflow')))} ·
{ok} of {len(records)} notebook(s) finished · total {sum(r['seconds'] for r in records) / 60:.1f} min</p>
<table><thead><tr><th>notebook</th><th>status</th><th>runtime</th><th>budget</th><th>key metrics</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<p>Each notebook's figures, parameters, package versions and dataset checksums are in its
<code>.metrics.json</code>; <a href="summary.md">summary.md</a> has this table as Markdown.</p>
</body></html>
"""
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _is_key_metric(key: str, value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and any(
        w in key for w in ("accuracy", "seconds", "auc", "memory", "images_per_second"))


def _metric_text(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def run_notebooks(notebooks: list | None, *, profile: str, out: str | os.PathLike,
                  timeout: float | None = None, save: bool = False) -> list[dict]:
    """Run ``notebooks`` (default: all, in order), printing progress, and write
    ``out/summary.md``. Returns the metrics records. With ``save``, each notebook that
    finished is written back over its source with its new outputs (see save_outputs)."""
    profiles.validate(profile, "the profile argument")
    paths = [_resolve_notebook(str(n)) for n in notebooks] if notebooks else list_notebooks()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"Running {len(paths)} notebook(s), profile {profile!r}, into {out}/", flush=True)
    prints = dataset_fingerprints()
    speed = None
    if profile == "full" and not timeout:
        speed = machine_speed()
        if speed:
            print(f"Machine speed: {speed:,.0f} training images/s (a small CNN; the budgets assume "
                  f"{REFERENCE_IMAGES_PER_SECOND:,.0f}): each notebook's limit is "
                  f"{BUDGET_MARGIN:g} x its budget, scaled up on a slower machine.", flush=True)
    records = []
    for i, nb in enumerate(paths, 1):
        budget = declared_budget(nb)
        print(f"[{i}/{len(paths)}] {nb.name}" + (f" (budget {budget / 60:g} min)" if budget and profile == "full" else "")
              + " ...", end=" ", flush=True)
        r = run_notebook(nb, profile=profile, out=out, timeout=timeout, fingerprints=prints, speed=speed)
        records.append(r)
        if save and r["status"] == "ok":
            save_outputs(out / nb.name, nb)
        msg = f"{r['status']} in {r['seconds']:.1f} s"
        if r["status"] != "ok":
            msg += f"\n    {r.get('error')}\n    see {out / nb.name}"
        print(msg, flush=True)
    summary = write_summary(records, out)
    index = write_index(records, out)
    print(f"Summary: {summary}\nReport index: {index}", flush=True)
    return records
