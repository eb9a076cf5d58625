"""The chat panel in a real browser: JupyterLab on loopback, Debian's Chromium driven by Playwright.

What a person would do: run the cell, type a question (Enter sends, Shift+Enter adds a line), watch
the answer stream in, run another cell while it streams, press Stop, ask again. And what an attacker
would try: an answer full of script-injection attempts, with a trap in the page that records any
script that runs (and any alert dialog).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from support.hostile import HOSTILE
from support.lab import LabServer, lab_fixtures, open_notebook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
_SLOW = 60_000          # ms: bound for things that involve a kernel starting on a busy machine

_NOTEBOOKS = {
    "chat.ipynb": ["from junis_jupyter import ChatPanel\npanel = ChatPanel()\npanel",
                   "print('other cell ran', 6 * 7)"],
    "magic.ipynb": ["%load_ext junis_jupyter\n%junis chat"],      # the way the guide shows it
}


lab, browser, page = lab_fixtures(_NOTEBOOKS, "junis-browser-")


def open_panel(page: Any, lab: LabServer, notebook: str) -> Any:
    """Open the notebook, run its first cell, and wait for the panel with its pickers loaded."""
    open_notebook(page, lab, notebook, _SLOW)
    run_cell(page, 0)
    panel = page.locator(".junis-chat-panel")
    panel.wait_for(timeout=_SLOW)
    page.wait_for_selector(".junis-chat-panel select option:has-text('Research')",
                           state="attached", timeout=_SLOW)
    return panel


def run_cell(page: Any, index: int) -> None:
    page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")


def last_answer(page: Any) -> Any:
    return page.locator(".junis-chat-conversation .junis-assistant").last


# A turn's state: the `data-state` of a turn drawn as HTML (a loaded history), or the
# `junis-state-<state>` class of an answer streamed block by block (its frame is a widget box).
STATE_OF = """t => t.dataset.state ||
    ([...t.classList].find(c => c.startsWith('junis-state-')) || '').slice('junis-state-'.length)"""


def wait_state(page: Any, state: str, count: int, root: str = ".junis-chat-conversation") -> None:
    """Until the `count`-th answer is in `state`."""
    page.wait_for_function(
        """([state, count, root]) => { const stateOf = %s;
             const turns = document.querySelectorAll(root + ' .junis-assistant');
             return turns.length >= count && stateOf(turns[count - 1]) === state;
           }""" % STATE_OF, arg=[state, count, root], timeout=_SLOW)


def wait_streaming(page: Any, root: str = ".junis-chat-conversation") -> None:
    """Until the newest answer is streaming and some of its text is shown."""
    page.wait_for_function(
        """(root) => { const stateOf = %s;
                   const t = [...document.querySelectorAll(root + ' .junis-assistant')].pop();
                   return t && stateOf(t) === 'streaming' && t.querySelector('.junis-body').innerText.trim().length > 0; }""" % STATE_OF,
        arg=root, timeout=_SLOW)


def state_of(locator: Any) -> str:
    return locator.evaluate(STATE_OF)


def allowed_href(href: str) -> bool:
    """The rule of docs/panel.md, restated here rather than imported from the renderer: http,
    https and mailto links, or relative ones (no scheme at all: nothing colon-like before the
    first `/`, `?` or `#`; a relative link may be percent-encoded text, inert as a path)."""
    if href.startswith(("http://", "https://", "mailto:")):
        return True
    head = re.split(r"[/?#]", href, maxsplit=1)[0]
    return not href.startswith(("//", "\\")) and ":" not in head and "%3a" not in head.lower()


def body_text(page: Any) -> str:
    return last_answer(page).locator(".junis-body").inner_text()


def test_question_streams_in_stop_stops_it_and_the_panel_stays_usable(page: Any, lab: LabServer) -> None:
    panel = open_panel(page, lab, "chat.ipynb")
    box = panel.locator(".junis-chat-input textarea")

    # Shift+Enter adds a line (and must not run the notebook cell); Enter sends.
    box.click()
    page.keyboard.type("line one")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("line two [[chunks=16]] [[delay=0.08]]")
    assert box.input_value() == "line one\nline two [[chunks=16]] [[delay=0.08]]"
    first_prompt = page.locator(".jp-Notebook .jp-Cell").nth(0).locator(".jp-InputPrompt")
    assert first_prompt.inner_text().strip() == "[1]:"        # the cell was not run again
    page.keyboard.press("Enter")

    # The answer streams in: seen part-way (streaming, some text), then complete and longer.
    wait_streaming(page)
    partial = body_text(page)
    wait_state(page, "done", 1)
    final = body_text(page)
    assert len(final) > len(partial) > 0
    assert box.input_value() == ""
    user_turn = panel.locator(".junis-user .junis-body").last.inner_text()
    assert user_turn.startswith("line one\nline two")

    # A slow answer: other cells still run while it streams; Stop ends it at once.
    box.click()
    page.keyboard.type("Tell me a long story [[chunks=400]] [[delay=0.05]]")
    page.keyboard.press("Enter")
    wait_streaming(page)
    run_cell(page, 1)
    page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-OutputArea-output",
                                                          has_text="other cell ran 42").wait_for(timeout=_SLOW)
    assert state_of(last_answer(page)) == "streaming"                  # still going meanwhile

    panel.locator("button.junis-stop").click()
    wait_state(page, "stopped", 2)
    stopped = body_text(page)
    assert stopped and "stopped" in last_answer(page).inner_text()
    page.wait_for_timeout(800)
    assert body_text(page) == stopped                     # nothing more arrives after Stop
    assert panel.locator("button.junis-stop").is_disabled()
    assert panel.locator("button.junis-send").is_enabled()

    # The conversation scrolls by itself to keep the newest turn in view.
    view = panel.locator(".junis-chat-conversation").bounding_box()
    newest = last_answer(page).bounding_box()
    assert view["y"] - 1 <= newest["y"] and newest["y"] + newest["height"] <= view["y"] + view["height"] + 1

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=str(SCREENSHOTS / "chat_panel.png"))

    # And the panel goes on: the next question is answered in the same conversation.
    box.click()
    page.keyboard.type("One more, short [[chunks=3]]")
    page.keyboard.press("Enter")
    wait_state(page, "done", 3)
    footer = panel.locator(".junis-footer").inner_text()
    assert "Tokens used in this panel:" in footer and "requests left" in footer
    assert page.dialogs == [] and page.evaluate("window.__xssHits.length") == 0
    assert first_prompt.inner_text().strip() == "[1]:"      # no key press in the box ran the cell


def test_an_answer_full_of_script_injection_runs_nothing(page: Any, lab: LabServer) -> None:
    panel = open_panel(page, lab, "magic.ipynb")

    # Positive controls: the trap and the dialog listener do catch script that runs in this page.
    page.evaluate("""() => { const d = document.createElement('div'); d.id = 'junis-control';
        d.innerHTML = '<img src="x-missing" onerror="window.__xss=\\'control\\'">';
        document.body.appendChild(d); }""")
    page.wait_for_function("window.__xssHits.length === 1", timeout=10_000)
    page.evaluate("setTimeout(() => alert('control'), 0)")
    page.wait_for_timeout(300)
    assert page.dialogs == ["control"]
    page.evaluate("document.getElementById('junis-control').remove(); window.__xssHits.length = 0")
    page.dialogs.clear()

    box = panel.locator(".junis-chat-input textarea")
    box.fill("[[echo]]\n\n" + "\n\n".join(HOSTILE))
    box.press("Enter")
    wait_state(page, "done", 1)

    conversation = panel.locator(".junis-chat-conversation")
    # Provoke whatever handlers could exist: hover and focus every element of the answer.
    page.evaluate("""() => document.querySelectorAll('.junis-chat-conversation *').forEach(el => {
        el.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
        el.dispatchEvent(new FocusEvent('focus')); })""")
    page.wait_for_timeout(1500)                  # time for image errors, onload, autofocus to fire

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=str(SCREENSHOTS / "chat_panel_hostile.png"))

    assert page.evaluate("Array.from(window.__xssHits)") == []
    assert page.dialogs == []
    dangerous = conversation.locator(
        "script, img, svg, iframe, object, embed, form, input, video, audio, source, math, "
        "details, style, meta, link, base")
    assert dangerous.count() == 0
    on_attributes = page.evaluate("""() => [...document.querySelectorAll('.junis-chat-panel *')]
        .flatMap(el => [...el.attributes].map(a => a.name)).filter(n => n.startsWith('on'))""")
    assert on_attributes == []
    hrefs = page.evaluate("""() => [...document.querySelectorAll('.junis-chat-conversation a')]
        .map(a => a.getAttribute('href'))""")
    assert hrefs, "the safe links of the corpus should survive"
    assert all(allowed_href(h) for h in hrefs), hrefs
    text = conversation.inner_text()
    assert "window.__xss" in text and "<script>" in text   # shown to the reader as text


def test_copy_puts_a_code_block_on_the_clipboard(page: Any, lab: LabServer) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.url)
    panel = open_panel(page, lab, "chat.ipynb")
    box = panel.locator(".junis-chat-input textarea")
    box.click()
    page.keyboard.type("Some code please [[chunks=6]]")
    page.keyboard.press("Enter")
    wait_state(page, "done", 1)
    code = last_answer(page).locator(".junis-code").first
    # Highlighted: the code is in Pygments' token spans, coloured by the panel's CSS.
    assert code.locator("pre code span.k, pre code span.n, pre code span.nb").count() > 0
    keyword = code.locator("pre code span.nb").first
    assert keyword.evaluate("e => getComputedStyle(e).color") != \
        code.locator("pre code").evaluate("e => getComputedStyle(e).color")
    expected = code.locator("pre").inner_text().rstrip("\n")
    assert "prompt = " in expected
    code.locator(".junis-copy").click()
    page.wait_for_function(
        "() => document.querySelector('.junis-chat-conversation .junis-copy').textContent === 'Copied'",
        timeout=10_000)
    assert page.evaluate("navigator.clipboard.readText()") == expected
    assert "Copy" not in expected                       # the label is not part of what is copied
    assert page.dialogs == [] and page.evaluate("window.__xssHits.length") == 0


def test_hostile_code_blocks_highlighted_run_nothing(page: Any, lab: LabServer) -> None:
    panel = open_panel(page, lab, "chat.ipynb")
    corpus = "\n\n".join(f"```{lang}\n{p}\n```" for lang in ("html", "javascript", "python")
                         for p in HOSTILE if "```" not in p)
    box = panel.locator(".junis-chat-input textarea")
    box.fill("[[echo]]\n\n" + corpus)
    box.press("Enter")
    wait_state(page, "done", 1)
    conversation = panel.locator(".junis-chat-conversation")
    assert conversation.locator(".junis-code pre code span[class]").count() > 100   # highlighted
    page.evaluate("""() => document.querySelectorAll('.junis-chat-conversation *').forEach(el => {
        el.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
        el.dispatchEvent(new FocusEvent('focus')); })""")
    for i in range(min(5, conversation.locator(".junis-copy").count())):
        conversation.locator(".junis-copy").nth(i).click()      # Copy runs nothing either
    page.wait_for_timeout(1500)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=str(SCREENSHOTS / "chat_panel_hostile_code.png"))
    assert page.evaluate("Array.from(window.__xssHits)") == [] and page.dialogs == []
    dangerous = conversation.locator(
        "script, img, svg, iframe, object, embed, form, input, video, audio, source, math, "
        "details, style, meta, link, base, button")
    assert dangerous.count() == 0
    on_attributes = page.evaluate("""() => [...document.querySelectorAll('.junis-chat-panel *')]
        .flatMap(el => [...el.attributes].map(a => a.name)).filter(n => n.startsWith('on'))""")
    assert on_attributes == []
    assert "<script>window.__xss = 'script'</script>" in conversation.inner_text()  # as text
