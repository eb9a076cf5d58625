"""Hostile model answers shown by `%%junis` run nothing: in JupyterLab, and in the HTML export.

The emulator's `[[echo]]` directive makes the "model" answer with each payload of the hostile
corpus (script tags, event-handler attributes, javascript:/data: links, SVG, broken markup). The
magic streams each answer into a cell of a real JupyterLab in Debian's Chromium, driven by
Playwright; a trap installed before any page script records any assignment to `window.__xss`,
and a dialog listener records any alert. Positive controls first prove the trap catches script
that does run. The same outputs, exported to HTML by nbconvert (what `make demo` writes), are
opened in the same browser and checked the same way.

The chat panel's own injection test lives in test_browser.py.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.hostile import HOSTILE
from support.lab import (LabServer, chromium, lab_with_emulator, open_notebook, skip_without_browser,
                         trapped_page, xss_trap)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

_SLOW = 90_000          # ms: a bound for a kernel starting on a busy machine, not a timing check
NOTEBOOK = "hostile.ipynb"
EXPORT = "hostile.html"

# Hovering, focusing and clicking what the answers left in the page fires any handler there.
_PROVOKE = """(selector) => { document.querySelectorAll(selector).forEach(el => {
    el.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
    el.dispatchEvent(new FocusEvent('focus'));
    if (el.tagName === 'A') { el.removeAttribute('target');
                              el.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true})); }
  }); }"""

_UNSAFE_LINKS = """(selector) => [...document.querySelectorAll(selector + ' [href], ' + selector + ' [src], '
    + selector + ' [action], ' + selector + ' [formaction], ' + selector + ' [xlink\\\\:href]')]
  .flatMap(el => ['href', 'src', 'action', 'formaction', 'xlink:href'].map(a => el.getAttribute(a)))
  .filter(v => v && /^\\s*(javascript|vbscript|data)\\s*:/i.test(v.replace(/[\\u0000-\\u0020]/g, '')))"""

_ON_ATTRIBUTES = """(selector) => [...document.querySelectorAll(selector + ' *')]
  .flatMap(el => [...el.attributes].map(a => el.tagName.toLowerCase() + '@' + a.name))
  .filter(n => n.split('@')[1].startsWith('on'))"""


def _cell_source(payload: str) -> str:
    return "%%junis --new --no-interpolate\n[[echo]] " + payload


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    skip_without_browser()
    path = Path(tempfile.mkdtemp(prefix="junis-xss-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def lab(scratch: Path) -> Iterator[LabServer]:
    cells = ["%load_ext junis_jupyter"] + [_cell_source(p) for p in HOSTILE]
    with lab_with_emulator(scratch, {NOTEBOOK: cells}) as server:
        yield server


@pytest.fixture(scope="module")
def browser(scratch: Path) -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with trapped_page(browser, xss_trap(record_alerts=True)) as page:
        yield page


def _controls(page: Any) -> None:
    """The trap and the dialog listener do catch script that runs in this page."""
    page.evaluate("""() => { const d = document.createElement('div'); d.id = 'xss-control';
        d.innerHTML = '<img src="x-missing" onerror="window.__xss=\\'control\\'">';
        document.body.appendChild(d); }""")
    page.wait_for_function("window.__xssHits.length >= 1", timeout=10_000)
    page.evaluate("setTimeout(() => alert('control'), 0)")
    page.wait_for_function("window.__xssHits.length >= 2", timeout=10_000)
    assert page.dialogs == ["control"]
    page.evaluate("document.getElementById('xss-control').remove(); window.__xssHits.length = 0")
    page.dialogs.clear()


def _assert_nothing_ran(page: Any, selector: str) -> None:
    page.evaluate(_PROVOKE, selector)
    page.wait_for_timeout(1500)         # time for image errors, onload, autofocus to fire
    assert page.evaluate("Array.from(window.__xssHits)") == []
    assert page.dialogs == []
    assert page.evaluate(_ON_ATTRIBUTES, selector) == []
    assert page.evaluate(_UNSAFE_LINKS, selector) == []
    assert page.locator(f"{selector} script, {selector} iframe, {selector} object, "
                        f"{selector} embed, {selector} form, {selector} base").count() == 0


def test_magic_answers_in_jupyterlab_and_its_html_export_run_nothing(page: Any, lab: LabServer, scratch: Path) -> None:
    open_notebook(page, lab, NOTEBOOK, _SLOW)
    _controls(page)

    cells = page.locator(".jp-Notebook .jp-Cell")
    cells.nth(0).locator(".jp-InputArea-editor").click()
    for _ in range(len(HOSTILE) + 1):                   # Shift+Enter runs a cell, moves on
        page.keyboard.press("Shift+Enter")
    # Every cell has run: its prompt shows an execution count ("[7]:"), not "[*]:" or "[ ]:".
    page.wait_for_function(
        """(n) => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
                  .filter(p => /\\[\\d+\\]/.test(p.textContent)).length >= n""",
        arg=len(HOSTILE) + 1, timeout=_SLOW * 2)
    outputs = ".jp-Notebook .jp-OutputArea"
    assert page.locator(f"{outputs} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    _assert_nothing_ran(page, outputs)
    text = page.locator(outputs).all_inner_texts()
    assert any("window.__xss" in t for t in text)      # the payloads are shown, as text

    # The same outputs, saved and exported to HTML as `make demo` does, opened in the browser.
    page.keyboard.press("Control+s")
    export = _export(scratch)
    page.goto(export.as_uri())
    page.wait_for_selector(".jp-Notebook", timeout=_SLOW)
    _controls(page)
    _assert_nothing_ran(page, ".jp-OutputArea")


def _export(scratch: Path) -> Path:
    """Once JupyterLab has saved the notebook with every answer, its nbconvert HTML export."""
    import time

    import nbformat
    from nbconvert import HTMLExporter
    deadline = time.monotonic() + 30
    while True:
        nb = nbformat.read(scratch / "root" / NOTEBOOK, as_version=4)
        answered = [c for c in nb.cells[1:] if any(o.get("output_type") == "display_data"
                                                   for o in c.get("outputs", []))]
        if len(answered) == len(HOSTILE):
            break
        assert time.monotonic() < deadline, "the notebook was not saved with its outputs"
        time.sleep(0.5)
    body, _ = HTMLExporter().from_notebook_node(nb)
    export = scratch / EXPORT
    export.write_text(body, encoding="utf-8")
    return export
