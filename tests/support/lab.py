"""The real-browser harness: JupyterLab on loopback, driven by Debian's Chromium through Playwright."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from .server_process import ServerProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class LabServer(ServerProcess):
    """A JupyterLab server in its own process group, with throwaway config, data and settings."""

    what = "JupyterLab"

    def __init__(self, root_dir: os.PathLike[str] | str, scratch: os.PathLike[str] | str,
                 env: dict[str, str], timeout: float = 60.0) -> None:
        scratch = Path(scratch)
        self.root_dir = Path(root_dir)      # where the served notebooks are
        for name in ("config", "data", "runtime", "settings", "workspaces", "ipython"):
            (scratch / name).mkdir(parents=True, exist_ok=True)
        # No news toasts, no update checks: a quiet screen and no traffic to unreachable hosts.
        notes = scratch / "settings" / "@jupyterlab" / "apputils-extension"
        notes.mkdir(parents=True, exist_ok=True)
        (notes / "notification.jupyterlab-settings").write_text(
            '{"fetchNews": "false", "checkForUpdates": false}')
        # Jupyter AI's server extensions (installed by the dev extra, for the persona) off: these
        # suites use no chat, and litellm's looking for the network adds ~4 s to each start.
        from .chat import without_jupyter_ai
        without_jupyter_ai(scratch / "config")
        super().__init__("jupyterlab", [
            "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={root_dir}",
            "--LabApp.news_url=None", f"--LabApp.user_settings_dir={scratch / 'settings'}",
            f"--LabApp.workspaces_dir={scratch / 'workspaces'}"], {
            **env, "JUPYTER_CONFIG_DIR": str(scratch / "config"),
            "JUPYTER_DATA_DIR": str(scratch / "data"),
            "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
            "IPYTHONDIR": str(scratch / "ipython")}, scratch / "jupyterlab.log", timeout)

    def _started(self) -> bool:
        return f"127.0.0.1:{self.port}/lab" in self.log()


def xss_trap(*, record_alerts: bool = False) -> str:
    """A script to run before any page script: setting window.__xss records a hit in
    window.__xssHits instead of storing a value (and, if asked, so does each alert())."""
    alerts = """
  window.alert = new Proxy(window.alert, {apply(t, self, args) {
    hits.push('alert:' + args[0]); return Reflect.apply(t, self, args); }});""" if record_alerts else ""
    return """
(() => {
  const hits = [];
  Object.defineProperty(window, '__xssHits', {value: hits});
  Object.defineProperty(window, '__xss', {get() { return undefined; },
                                          set(v) { hits.push(String(v)); }});""" + alerts + """
})();
"""


def skip_without_browser() -> None:
    """Skip (loudly, on stderr) when Chromium or Playwright is missing."""
    import pytest
    if not Path(CHROMIUM).exists():
        reason = (f"BROWSER TESTS NOT RUN: {CHROMIUM} is missing. Install Debian's Chromium "
                  "(`make browser`, or `apt-get install -y chromium` as root) to run them.")
    else:
        try:
            import playwright.sync_api  # noqa: F401
            return
        except ImportError:
            reason = ("BROWSER TESTS NOT RUN: the playwright package is not installed "
                      "(pip install playwright).")
    print(reason, file=sys.stderr)
    pytest.skip(reason)


def write_notebook(path: Path, cells: list[str]) -> None:
    """A notebook of code cells with the python3 kernel, as JupyterLab opens it."""
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


@contextlib.contextmanager
def lab_with_emulator(scratch: Path, notebooks: dict[str, list[str]],
                      page_config: dict[str, Any] | None = None) -> Iterator[LabServer]:
    """JupyterLab serving `scratch / "root"` with these notebooks (name -> code cells) written
    there, its kernels pointed at an emulator process; both stopped after."""
    from junis_jupyter.emulator.process import start_emulator_process

    if page_config is not None:         # e.g. {"disabledExtensions": {...}}: a frontend without one
        labconfig = scratch / "lab" / "config" / "labconfig"
        labconfig.mkdir(parents=True)
        (labconfig / "page_config.json").write_text(json.dumps(page_config))
    root = scratch / "root"
    root.mkdir()
    for name, cells in notebooks.items():
        write_notebook(root / name, cells)
    emulator = start_emulator_process()
    server = None
    try:
        server = LabServer(root, scratch / "lab", {
            "JUNIS_BASE_URL": emulator.url, "JUNIS_API_KEY": emulator.key,
            "JUNIS_HOME": str(scratch / "junis_home")})
        yield server
    finally:
        if server is not None:
            server.stop()
        emulator.stop()


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def trapped_page(browser: Any, trap: str,
                 viewport: tuple[int, int] = (1280, 1000)) -> Iterator[Any]:
    """A page of `viewport` (width, height) in a fresh context with `trap` run before any page
    script; `page.dialogs` keeps the message of every dialog (each dismissed)."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    context.add_init_script(trap)
    page = context.new_page()
    page.dialogs = []

    def on_dialog(dialog: Any) -> None:
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        yield page
    finally:
        context.close()


def open_notebook(page: Any, lab: LabServer, notebook: str, timeout: float) -> None:
    """Open a notebook (no tabs restored from a past test) and wait until its kernel is idle."""
    page.goto(f"{lab.url}/lab/tree/{notebook}?reset")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout)
    # The execution indicator says "idle" before the kernel exists: the status bar text does not.
    page.locator(".jp-StatusBar-TextItem", has_text="(ipykernel) | Idle").wait_for(timeout=timeout)


def restart_kernel(page: Any, *, run_all: bool = False) -> None:
    """The notebook toolbar's Restart Kernel (or Restart Kernel and Run All), its dialog
    accepted, as a person does it."""
    command = "notebook:restart-run-all" if run_all else "notebook:restart-kernel"
    page.locator(f'.jp-NotebookPanel-toolbar [data-command="{command}"]').click()
    page.locator(".jp-Dialog button.jp-mod-accept").click()


def lab_fixtures(notebooks: dict[str, list[str]], prefix: str,
                 page_config: dict[str, Any] | None = None) -> tuple[Callable[..., Any], ...]:
    """The `lab`, `browser` and `page` fixtures of a browser suite: JupyterLab serving these
    notebooks (module scope), Chromium (module scope), and a page with the script trap (per
    test). In the module: `lab, browser, page = lab_fixtures(NOTEBOOKS, "junis-browser-")`."""
    @pytest.fixture(scope="module")
    def lab() -> Iterator[LabServer]:
        skip_without_browser()
        scratch = Path(tempfile.mkdtemp(prefix=prefix))
        try:
            with lab_with_emulator(scratch, notebooks, page_config) as server:
                yield server
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    @pytest.fixture(scope="module")
    def browser(lab: LabServer) -> Iterator[Any]:
        with chromium() as found:
            yield found

    @pytest.fixture
    def page(browser: Any) -> Iterator[Any]:
        with trapped_page(browser, xss_trap()) as opened:
            yield opened

    return lab, browser, page
