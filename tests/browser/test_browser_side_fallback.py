"""`%junis chat --side` where there is no side area: JupyterLab with the sidecar extension
disabled. The sidecar is never shown, so the panel opens inline in the cell, with one line that
says so, and works there; under Restart Kernel and Run All too, where the line comes once the
other cells have run (issue 22: the frontend's reply, which tells, waits behind them)."""
from __future__ import annotations

from typing import Any

import pytest

from support.lab import LabServer, lab_fixtures, open_notebook, restart_kernel
from test_browser_panel import _SLOW, run_cell, wait_state

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


lab, browser, page = lab_fixtures(
    {"side.ipynb": ["%load_ext junis_jupyter\n%junis chat --side"],
     "run_all.ipynb": ["%load_ext junis_jupyter\n%junis chat --side",
                       "import time\ntime.sleep(3)\nprint('slow cell ran')"]},
    "junis-browser-noside-",
    page_config={"disabledExtensions": {"@jupyter-widgets/jupyterlab-sidecar": True}})


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


def test_under_restart_and_run_all_the_fallback_line_still_comes_once(page: Any,
                                                                      lab: LabServer) -> None:
    open_notebook(page, lab, "run_all.ipynb", _SLOW)
    restart_kernel(page, run_all=True)
    cells = page.locator(".jp-Notebook .jp-Cell")
    cells.nth(1).locator(".jp-OutputArea-output", has_text="slow cell ran").wait_for(timeout=_SLOW)
    first = cells.nth(0)
    first.locator(".jp-OutputArea-output", has_text="No side area here").wait_for(timeout=_SLOW)
    lines = [line for line in first.locator(".jp-OutputArea").inner_text().splitlines()
             if "side area" in line]
    assert len(lines) == 1 and lines[0].startswith(
        "No side area here (this frontend did not show the sidecar"), lines
    assert first.locator(".junis-chat-panel").count() == 1          # inline, once
    assert page.locator(".jupyterlab-sidecar").count() == 0
    page.wait_for_selector(".junis-chat-panel select option:has-text('Research')",
                           state="attached", timeout=_SLOW)
    first.locator(".junis-chat-input textarea").click()
    page.keyboard.type("Hello [[chunks=3]]")
    page.keyboard.press("Enter")
    wait_state(page, "done", 1)
