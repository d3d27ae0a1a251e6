"""The course in JupyterLab, in a real browser: what a learner does after ``make lab``.

A JupyterLab server from this environment (the settings of ``make lab``: the kernel variables
of ``report.KERNEL_ENV``, the notebooks folder as root) runs on 127.0.0.1 with a random port
and token, on a temporary copy of notebooks/ with the outputs cleared, so the committed files
are never touched and every output checked below comes from this run. Its kernels run the
smoke profile (``CNNLIB_PROFILE=smoke``) with every exercise checked strictly. Headless
Chromium (Debian's ``chromium`` package, driven by Playwright) opens each notebook at
``/lab/tree/NAME.ipynb``, waits for its kernel, clicks Run > Run All Cells, and waits for
every code cell to get its execution count. Then: no error was rendered, at least one figure
was, and a full-page screenshot goes to ``reports/screenshots/NAME.png``.

Checked: 00 (the datasets), 02 (a from-scratch lesson) and 03 (a training notebook), about a
minute and a half together on 2 CPU cores.

Without Chromium or Playwright the tests fail in CI (``CI`` or ``CNNLIB_BROWSER_TEST=1`` set;
``.ci/run`` sets the latter and installs Chromium) and are skipped elsewhere, with the fix.
Run them alone with ``pytest -m browser``.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cnnlib import report

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "reports" / "screenshots"
NOTEBOOKS = ["00_start_here", "02_pooling", "03_mnist"]
RUN_LIMIT_S = 240            # per notebook; the smoke runs take 15-45 s
VIEWPORT_MAX_PX = 8_000      # Chromium paints at most 16,384 px at once: taller notebooks in pieces
FIX_CHROMIUM = ("install Debian's Chromium: `sudo apt-get install chromium` (.ci/run does it for "
                "CI), or set CNNLIB_CHROMIUM to a Chromium or Chrome executable")
FIX_PLAYWRIGHT = "install the dev extras: `.venv/bin/pip install -e '.[dev]'` (Playwright for Python)"


def _in_ci() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("CNNLIB_BROWSER_TEST") == "1"


def _missing(what: str, fix: str):
    """Fail in CI, where the browser test must run; skip elsewhere. Both name the fix."""
    message = f"The browser test needs {what}: {fix}. Run it alone with `pytest -m browser`."
    if _in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def chromium_executable() -> str | None:
    """``$CNNLIB_CHROMIUM``, else Debian's ``chromium`` on PATH (or another Chromium or Chrome:
    GitHub's Ubuntu runners have Google Chrome)."""
    explicit = os.environ.get("CNNLIB_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    names = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    return next(filter(None, map(shutil.which, names)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clear_outputs(src: Path, dst: Path) -> int:
    """Copy notebook ``src`` to ``dst`` with its outputs and execution counts removed;
    returns its number of code cells."""
    nb = json.loads(src.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for cell in code:
        cell["outputs"], cell["execution_count"] = [], None
    dst.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return len(code)


class LabServer:
    """A JupyterLab server in a subprocess, and the REST calls the test needs."""

    def __init__(self, root: Path, work: Path):
        self.root, self.port, self.token = root, _free_port(), os.urandom(16).hex()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = work / "jupyterlab.log"
        settings = work / "lab-settings"
        (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
        # no "get notified about Jupyter news?" toast, and no news fetched from the internet
        (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
            '{"fetchNews": "false"}')
        env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the kernel's inline figures
        for name, value in report.KERNEL_ENV.items():                      # as `make lab`: yours win
            env[name] = env.get(name) or value
        env.update(CNNLIB_PROFILE="smoke", CNNLIB_EXERCISES_STRICT="1",
                   JUPYTERLAB_SETTINGS_DIR=str(settings),
                   JUPYTERLAB_WORKSPACES_DIR=str(work / "lab-workspaces"),
                   JUPYTER_RUNTIME_DIR=str(work / "jupyter-runtime"))
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
               "--ServerApp.allow_root=True", "--LabApp.extension_manager=readonly"]
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, env=env, cwd=work, stdout=self._log, stderr=subprocess.STDOUT)

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(self.url + path, method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as res:
            body = res.read()
        return json.loads(body) if body else None

    def log_tail(self, n: int = 15) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def wait_ready(self, limit_s: float = 90) -> None:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                self.api("/api/status")
                return
            except (urllib.error.URLError, OSError, ValueError):
                time.sleep(0.5)
        code = self.proc.poll()
        self.stop()
        state = f"exited with code {code}" if code is not None else f"did not answer in {limit_s:.0f} s"
        pytest.fail(f"JupyterLab ({sys.executable} -m jupyterlab) {state}. Fix: `make lab` must work "
                    f"in this environment (reinstall with `.venv/bin/pip install -e '.[dev]'`). "
                    f"Its log:\n{self.log_tail()}", pytrace=False)

    def kernel_state(self, notebook: str) -> str | None:
        """The execution state of the kernel of ``notebook``'s session, None before it has one."""
        for s in self.api("/api/sessions"):
            if s["path"] == notebook and s.get("kernel"):
                return s["kernel"]["execution_state"]
        return None

    def close_sessions(self) -> None:
        for s in self.api("/api/sessions"):
            self.api(f"/api/sessions/{s['id']}", method="DELETE")  # and its kernel, freeing memory

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.api("/api/shutdown", method="POST")  # stops the kernels too
                self.proc.wait(timeout=20)
            except (urllib.error.URLError, OSError, subprocess.TimeoutExpired):
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        self._log.close()


@pytest.fixture(scope="module")
def chromium():
    path = chromium_executable()
    if path is None and os.environ.get("CNNLIB_CHROMIUM"):
        _missing(f"Chromium (CNNLIB_CHROMIUM={os.environ['CNNLIB_CHROMIUM']} is not an executable file)",
                 FIX_CHROMIUM)
    if path is None:
        _missing("Chromium", FIX_CHROMIUM)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright", FIX_PLAYWRIGHT)
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=path, headless=True)
        except Exception as exc:  # noqa: BLE001 - Playwright's launch errors carry the browser's own
            pytest.fail(f"Chromium at {path} does not start under Playwright: {exc}. Fix: "
                        f"{FIX_CHROMIUM}.", pytrace=False)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("lab")
    root = work / "notebooks"
    root.mkdir()
    cells = {nb.name: _clear_outputs(nb, root / nb.name) for nb in report.list_notebooks()}
    server = LabServer(root, work)
    server.wait_ready()
    server.code_cells = cells
    yield server
    server.stop()


PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"   # the notebook on show
PROMPTS = f"""() => Array.from(document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputArea-prompt'))
    .map(e => e.textContent.trim())"""
ERRORS = f"""() => Array.from(document.querySelectorAll(
    '{PANEL} .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
    .map(e => e.textContent)"""
FIGURES = f"""() => Array.from(document.querySelectorAll('{PANEL} .jp-RenderedImage img'))
    .map(img => img.complete && img.naturalWidth > 0)"""
SCROLLER = f"document.querySelector('{PANEL} .jp-WindowedPanel-outer')"
CONTENT_END = f"""() => {{ const s = {SCROLLER}, cells = s.querySelectorAll('.jp-Cell');
    const last = cells[cells.length - 1].getBoundingClientRect();
    return Math.ceil(last.bottom - s.getBoundingClientRect().top + s.scrollTop) + 16; }}"""


def screenshot_notebook(page, path: Path) -> None:
    """The whole notebook on show, as one PNG: JupyterLab's bars on top, then the notebook's
    content, photographed in viewport-high pieces (scrolled into view, so painted) and stitched."""
    from PIL import Image

    page.click(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")   # fold the file browser
    page.set_viewport_size({"width": 1280, "height": min(page.evaluate(CONTENT_END) + 200, VIEWPORT_MAX_PX)})
    page.wait_for_timeout(500)
    box = page.locator(f"{PANEL} .jp-WindowedPanel-outer").bounding_box()
    x, y, w, h = (round(box[k]) for k in ("x", "y", "width", "height"))
    bars = page.screenshot(clip={"x": 0, "y": 0, "width": 1280, "height": y})
    pieces, top = [], 0
    for _ in range(100):   # cells off screen get their real height once painted: re-measure every time
        top = page.evaluate(f"() => {{ const s = {SCROLLER}; s.scrollTop = {top}; return s.scrollTop; }}")
        page.wait_for_timeout(500)
        pieces.append((round(top), page.screenshot(clip={"x": x, "y": y, "width": w, "height": h})))
        end = page.evaluate(CONTENT_END)      # below the last cell: only JupyterLab's scroll-past-end space
        if top + h >= end:
            break
        top += h
    canvas = Image.new("RGB", (1280, y + min(end, pieces[-1][0] + h)), "white")
    canvas.paste(Image.open(io.BytesIO(bars)))
    for top, png in pieces:
        canvas.paste(Image.open(io.BytesIO(png)), (x, y + top))
    canvas.save(path, optimize=True)


def _wait(condition, limit_s: float, what: str, poll_s: float = 0.5):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll_s)
    pytest.fail(f"timed out after {limit_s:.0f} s waiting for {what}", pytrace=False)


def test_a_missing_browser_fails_in_ci_and_is_skipped_elsewhere(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("CNNLIB_BROWSER_TEST", "1")
    with pytest.raises(pytest.fail.Exception, match="sudo apt-get install chromium"):
        _missing("Chromium", FIX_CHROMIUM)
    monkeypatch.delenv("CNNLIB_BROWSER_TEST")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="pytest -m browser"):
        _missing("Chromium", FIX_CHROMIUM)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="sudo apt-get install chromium"):
        _missing("Chromium", FIX_CHROMIUM)


def test_chromium_is_found_on_path_or_through_cnnlib_chromium(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNLIB_CHROMIUM", raising=False)
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert chromium_executable() == str(browser)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert chromium_executable() is None
    monkeypatch.setenv("CNNLIB_CHROMIUM", str(browser))
    assert chromium_executable() == str(browser)
    monkeypatch.setenv("CNNLIB_CHROMIUM", str(tmp_path / "missing"))
    assert chromium_executable() is None


def test_a_server_that_cannot_start_fails_with_its_log(tmp_path):
    server = LabServer(tmp_path / "no such folder", tmp_path)
    with pytest.raises(pytest.fail.Exception, match=r"(?s)exited with code 1\. Fix: `make lab`.*No such directory"):
        server.wait_ready()
    assert server.proc.poll() is not None


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_jupyterlab(name, lab, chromium):
    notebook = f"{name}.ipynb"
    n_code = lab.code_cells[notebook]
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(60_000)
    try:
        # a workspace of its own, so the notebooks opened before do not come back
        page.goto(f"{lab.url}/lab/workspaces/{name}/tree/{notebook}?token={lab.token}")
        page.wait_for_function(f"() => document.querySelectorAll('{PANEL} .jp-CodeCell').length === {n_code}")
        _wait(lambda: lab.kernel_state(notebook) == "idle", 90, f"the kernel of {notebook} to start")

        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.click("li.lm-Menu-item[data-command='runmenu:run-all']")   # Run > Run All Cells
        _wait(lambda: "[ ]:" not in page.evaluate(PROMPTS)[:1], 30, "Run All Cells to start")
        started = time.monotonic()
        prompts = _wait(lambda: (p := page.evaluate(PROMPTS)) and "[*]:" not in p
                        and lab.kernel_state(notebook) == "idle" and p, RUN_LIMIT_S,
                        f"{notebook} to finish (Run All Cells)", poll_s=1)
        seconds = time.monotonic() - started

        errors = [t for t in page.evaluate(ERRORS) if "Error" in t or "Traceback" in t]
        assert not errors, f"{notebook} rendered errors in JupyterLab:\n" + "\n---\n".join(
            t[-1500:] for t in errors)
        not_run = [i for i, p in enumerate(prompts) if not re.fullmatch(r"\[\d+\]:", p)]
        assert len(prompts) == n_code and not not_run, (
            f"{notebook}: code cells {not_run} of {len(prompts)} have no execution count")
        figures = page.evaluate(FIGURES)
        assert figures and all(figures), (
            f"{notebook}: {sum(figures)} of {len(figures)} figures rendered (need at least one)")

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"{name}.png"
        screenshot_notebook(page, shot)
        assert shot.stat().st_size > 10_000
        print(f"{notebook}: {n_code} cells ran in {seconds:.0f} s, {len(figures)} figures, "
              f"screenshot {shot.relative_to(REPO)}")
    finally:
        page.close()
        lab.close_sessions()
