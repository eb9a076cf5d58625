"""The chat panel in JupyterLab's side area (`%junis chat --side`, through sidecar), in a real
JupyterLab and Debian's Chromium: the panel is in the side area's DOM at its full width, streams
there, keeps working while the notebook scrolls and runs other cells, and Stop works there."""
from __future__ import annotations

from typing import Any

import pytest

from support.lab import LabServer, lab_fixtures, open_notebook
from test_browser_panel import SCREENSHOTS, _SLOW, run_cell, state_of, wait_state, wait_streaming

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

SIDE = ".jupyterlab-sidecar"
_FILLER = "\n".join(f"# filler line {i}" for i in range(150)) + "\nprint('filler ran')"
_NOTEBOOKS = {
    "side.ipynb": ["%load_ext junis_jupyter\n%junis chat --side",
                   "import asyncio\nawait asyncio.sleep(1.5)\nprint('other cell ran', 6 * 7)",
                   _FILLER],
    "side_api.ipynb": ["from junis_jupyter import ChatPanel\npanel = ChatPanel()\n"
                       "side = panel.show(side=True)"],
}


lab, browser, page = lab_fixtures(_NOTEBOOKS, "junis-browser-side-")


def open_side_panel(page: Any, lab: LabServer, notebook: str) -> Any:
    open_notebook(page, lab, notebook, _SLOW)
    run_cell(page, 0)
    panel = page.locator(f"{SIDE} .junis-chat-panel")
    panel.wait_for(timeout=_SLOW)
    page.wait_for_selector(f"{SIDE} .junis-chat-panel select option:has-text('Research')",
                           state="attached", timeout=_SLOW)
    return panel


def assert_fits(page: Any, panel: Any) -> None:
    """The panel takes the side area's width, and nothing in it sticks out of its right edge."""
    host = page.locator(SIDE).bounding_box()
    box = panel.bounding_box()
    assert box["width"] >= host["width"] - 24, (box, host)        # not half of it
    right = box["x"] + box["width"] + 1
    for selector in ("button.junis-send", "button.junis-stop", "button.junis-new",
                     "button.junis-retry", "button.junis-edit", ".junis-chat-input textarea",
                     "select"):
        for i in range(panel.locator(selector).count()):
            b = panel.locator(selector).nth(i).bounding_box()
            assert b["x"] + b["width"] <= right, (selector, b, box)


def test_the_panel_opens_in_the_side_area_streams_there_and_stop_works(page: Any,
                                                                         lab: LabServer) -> None:
    panel = open_side_panel(page, lab, "side.ipynb")
    assert page.locator(f"#jp-right-stack {SIDE} .junis-chat-panel").count() == 1
    first = page.locator(".jp-Notebook .jp-Cell").nth(0)
    assert first.locator(".junis-chat-panel").count() == 0           # not in the cell
    first.locator(".jp-OutputArea-output", has_text="open in the side area").wait_for(timeout=_SLOW)
    assert "No side area" not in first.locator(".jp-OutputArea").inner_text()  # one line, not both
    assert page.evaluate("window.__junisChatKeys") is True           # the key hook is installed
    assert_fits(page, panel)

    box = panel.locator(".junis-chat-input textarea")
    box.click()
    page.keyboard.type("Tell me about tides [[chunks=12]] [[delay=0.05]]")
    page.keyboard.press("Enter")                                     # Enter sends from the side
    wait_streaming(page, SIDE)
    wait_state(page, "done", 1, SIDE)
    assert box.input_value() == ""
    assert panel.locator(".junis-code .junis-copy").count() >= 1     # highlighted code, Copy

    # A long answer: the notebook scrolls and runs cells meanwhile; the side panel goes on.
    box.click()
    page.keyboard.type("A long story [[chunks=400]] [[delay=0.05]]")
    page.keyboard.press("Enter")
    wait_streaming(page, SIDE)
    page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    page.locator(".jp-Notebook .jp-Cell").nth(1).locator(
        ".jp-OutputArea-output", has_text="other cell ran 42").wait_for(timeout=_SLOW)
    page.evaluate("""() => { const s = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');
                             s.scrollTop = Math.min(s.scrollHeight, 1500); }""")
    page.wait_for_timeout(300)
    last = panel.locator(".junis-chat-conversation .junis-assistant").last
    assert state_of(last) == "streaming"
    grown = last.locator(".junis-body").inner_text()
    page.wait_for_timeout(400)
    assert len(last.locator(".junis-body").inner_text()) > len(grown)   # still streaming there
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "chat_panel_side_streaming.png"))

    panel.locator("button.junis-stop").click()                       # Stop, in the side area
    wait_state(page, "stopped", 2, SIDE)
    stopped = last.locator(".junis-body").inner_text()
    page.wait_for_timeout(800)
    assert last.locator(".junis-body").inner_text() == stopped
    assert "stopped" in last.inner_text()
    assert panel.locator("button.junis-send").is_enabled()

    # Retry is one click, from the side area too.
    panel.locator("button.junis-retry").click()
    wait_streaming(page, SIDE)
    panel.locator("button.junis-stop").click()
    wait_state(page, "stopped", 3, SIDE)
    assert_fits(page, panel)
    page.locator(SIDE).screenshot(path=str(SCREENSHOTS / "chat_panel_side.png"))
    page.screenshot(path=str(SCREENSHOTS / "chat_panel_side_lab.png"))
    assert page.evaluate("window.__xssHits.length") == 0 and page.dialogs == []


def test_show_side_true_opens_it_there_too(page: Any, lab: LabServer) -> None:
    panel = open_side_panel(page, lab, "side_api.ipynb")
    assert_fits(page, panel)
    box = panel.locator(".junis-chat-input textarea")
    box.click()
    page.keyboard.type("Hello [[chunks=3]]")
    page.keyboard.press("Enter")
    wait_state(page, "done", 1, SIDE)
    page.keyboard.press("ArrowUp")                                   # Up: the question back
    page.wait_for_function(
        "() => document.querySelector('.jupyterlab-sidecar .junis-chat-input textarea').value === 'Hello [[chunks=3]]'",
        timeout=_SLOW)
