"""Code in a `%%junis` answer looks in JupyterLab as it does in the panel (issue 22, finding 10):
highlighted token spans and the code block's background, and no script, both where the output
was made in this session (trusted: JupyterLab shows it as it came) and where it was opened from a
notebook run elsewhere (untrusted: JupyterLab's sanitiser drops `<style>` elements and `var()`
colours, so only what survives it shows). Debian's Chromium, driven by Playwright; the emulator's
scripted answer holds a Python block. Screenshot: build/screenshots/cell_code.png."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.lab import LabServer, lab_fixtures, open_notebook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

_SLOW = 90_000          # ms: a bound for a kernel starting on a busy machine, not a timing check
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
CELLS = ["%load_ext junis_jupyter", "%%junis --new\nShow me how to count the words of a prompt"]

# What the page shows of the answer's code: each token span's class, inline style and computed
# colour and weight; the block's computed background; Copy controls; scripts; trusted or not.
_LOOK = """(output) => {
  const area = document.querySelectorAll('.jp-Notebook .jp-Cell')[output].querySelector('.jp-OutputArea');
  const spans = [...area.querySelectorAll('.junis-code span[class]')].map(s => ({
    cls: s.className, style: s.getAttribute('style'), color: getComputedStyle(s).color,
    weight: getComputedStyle(s).fontWeight}));
  const pre = area.querySelector('.junis-code pre');
  return {spans, background: pre && getComputedStyle(pre).backgroundColor,
          preStyle: pre && pre.getAttribute('style'),
          copies: area.querySelectorAll('.junis-copy').length,
          scripts: area.querySelectorAll('script, style').length,
          trusted: [...area.querySelectorAll('.jp-OutputArea-output')].map(
              o => o.classList.contains('jp-mod-trusted'))};
}"""

# The panel's colours (notebook/highlight.py), as the browser computes them.
_COLOURS = {"nb": "rgb(0, 128, 0)", "o": "rgb(170, 34, 255)", "s1": "rgb(186, 33, 33)"}


lab, browser, page = lab_fixtures({"live.ipynb": CELLS}, "junis-cell-code-")


def _run_elsewhere(path: Path, emulator: Any) -> None:
    """The notebook run by nbclient, as nbconvert or papermill would: JupyterLab has not signed
    it, so it opens untrusted and every output goes through its sanitiser."""
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("JUNIS_BASE_URL", emulator.url)
        env.setenv("JUNIS_API_KEY", emulator.key)
        NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    nbformat.write(nb, path)


def _assert_highlighted(look: dict[str, Any]) -> None:
    spans = {s["cls"]: s for s in look["spans"]}
    assert set(_COLOURS) <= set(spans), look["spans"]
    for cls, colour in _COLOURS.items():
        assert spans[cls]["style"] and spans[cls]["color"] == colour, spans[cls]
    assert look["background"] == "rgb(238, 238, 238)", look
    assert look["copies"] == 0 and look["scripts"] == 0, look


def test_code_is_highlighted_in_a_cell_as_in_the_panel(page: Any, lab: LabServer) -> None:
    open_notebook(page, lab, "live.ipynb", _SLOW)
    page.locator(".jp-Notebook .jp-Cell").nth(0).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".junis-code span.s1").first.wait_for(
        timeout=_SLOW)
    page.locator(".jp-Notebook .jp-Cell").nth(1).locator("text=agent").first.wait_for(
        timeout=_SLOW)                                  # the footer: the answer has ended
    look = page.evaluate(_LOOK, 1)
    assert all(look["trusted"]), look                   # made in this session: shown as it came
    _assert_highlighted(look)
    assert page.evaluate("Array.from(window.__xssHits)") == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".jp-Notebook .jp-Cell").nth(1).screenshot(path=str(SCREENSHOTS / "cell_code.png"))


def test_code_keeps_its_look_through_the_sanitiser(page: Any, lab: LabServer,
                                                   emulator: Any) -> None:
    _run_elsewhere(lab.root_dir / "elsewhere.ipynb", emulator)
    open_notebook(page, lab, "elsewhere.ipynb", _SLOW)
    page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".junis-code").first.wait_for(
        timeout=_SLOW)
    look = page.evaluate(_LOOK, 1)
    assert look["trusted"] and not any(look["trusted"]), look     # sanitised, every output
    _assert_highlighted(look)
    assert page.evaluate("Array.from(window.__xssHits)") == []
