"""`%junis chat --side` where there is no side area: JupyterLab with the sidecar extension
disabled. The sidecar is never shown, so the panel opens inline in the cell, with one line that
says so, and works there."""
from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.lab import (LabServer, chromium, open_notebook, skip_without_browser, trapped_page,
                         write_notebook, xss_trap)
from test_browser_panel import _SLOW, run_cell, wait_state

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def lab() -> Iterator[LabServer]:
    skip_without_browser()
    from junis_jupyter.emulator.process import start_emulator_process
    scratch = Path(tempfile.mkdtemp(prefix="junis-browser-noside-"))
    labconfig = scratch / "lab" / "config" / "labconfig"
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyter-widgets/jupyterlab-sidecar": True}}))
    root = scratch / "root"
    root.mkdir()
    write_notebook(root / "side.ipynb", ["%load_ext junis_jupyter\n%junis chat --side"])
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
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def page(lab: LabServer) -> Iterator[Any]:
    with chromium() as browser, trapped_page(browser, xss_trap()) as page:
        yield page


def test_without_the_sidecar_extension_the_panel_opens_inline_and_says_so(page: Any,
                                                                          lab: LabServer) -> None:
    open_notebook(page, lab, "side.ipynb", _SLOW)
    run_cell(page, 0)
    cell = page.locator(".jp-Notebook .jp-Cell").nth(0)
    panel = cell.locator(".junis-chat-panel")
    panel.wait_for(timeout=_SLOW)                               # inline, after a few seconds
    assert page.locator(".jupyterlab-sidecar .junis-chat-panel").count() == 0
    said = cell.locator(".jp-OutputArea", has_text="No side area here").first.inner_text()
    lines = [line for line in said.splitlines() if "side area" in line]
    assert len(lines) == 1 and lines[0].startswith(
        "No side area here (this frontend did not show the sidecar"), lines
    assert cell.locator(".junis-chat-panel").count() == 1          # shown once, inline
    page.wait_for_selector(".junis-chat-panel select option:has-text('Research')",
                           state="attached", timeout=_SLOW)
    box = panel.locator(".junis-chat-input textarea")
    box.click()
    page.keyboard.type("Hello [[chunks=3]]")
    page.keyboard.press("Enter")                                # the key hook works inline too
    wait_state(page, "done", 1)
