"""Code in a `%%junis` answer looks as it does in the panel (issue 22, finding 10): highlighted by
the same code (notebook/highlight.py), in the panel's colours and on its background, carried in
`style` attributes a cell output keeps through JupyterLab's sanitiser (the panel has a stylesheet
instead), with no Copy control (nothing in a cell could answer it). Highlighting runs on finished
blocks: a code block still being written is plain."""
from __future__ import annotations

import re
from html.parser import HTMLParser

from support.hostile import HOSTILE, assert_safe_html
from junis_jupyter.notebook.highlight import CELL_BLOCK, COPY, TOKEN_STYLES, highlight_code
from junis_jupyter.notebook.markdown import render_markdown
from junis_jupyter.notebook.panel.html import CSS, answer_html
from junis_jupyter.notebook.render import StreamRenderer

CODE = "Try:\n\n```python\ndef f(x):\n    return x + 1  # add\n```\n"


class Outputs:
    def __init__(self) -> None:
        self.outputs: list = []

    def __call__(self, obj, display_id=None, **kwargs):
        self.outputs.append(obj)
        outputs = self.outputs
        index = len(outputs) - 1

        class Handle:
            def update(self, obj):
                outputs[index] = obj
        return Handle()

    def html(self) -> str:
        return "".join(o._repr_mimebundle_()["text/html"] for o in self.outputs)


def test_a_cells_code_is_highlighted_in_inline_colours_without_copy() -> None:
    shown = Outputs()
    r = StreamRenderer("markdown", display=shown, update_hz=0)
    r.feed(CODE)
    r.finish()
    page = shown.html()
    assert '<span class="k" style="color:#008000;font-weight:bold">def</span>' in page
    assert '<span class="c1" style="color:#408080;font-style:italic"># add</span>' in page
    assert f'<div class="junis-code"><pre style="{CELL_BLOCK}"><code class="language-python">' \
        in page
    assert COPY not in page and "junis-copy" not in page
    assert_safe_html(page)


def test_the_panel_keeps_classes_and_copy() -> None:
    page = answer_html(CODE)
    assert '<span class="k">def</span>' in page and COPY in page and "style=" not in page


def test_a_block_being_written_is_plain_until_it_is_done() -> None:
    shown = Outputs()
    r = StreamRenderer("markdown", display=shown, update_hz=0, segment_chars=1 << 62)
    r.feed("Intro\n\n```python\ndef f(x):\n")
    assert "<span" not in shown.html()                  # streaming: the open block is plain
    r.feed("    return x\n```\n\nAfter.\n")
    assert '<span class="k" style=' in shown.html()     # finished: highlighted, kept
    r.finish()
    assert shown.html().count("junis-code") == 1


def test_a_closed_block_is_highlighted_at_once_and_an_unclosed_one_at_the_end() -> None:
    whole = Outputs()                               # --no-stream, a cache hit: one message
    r = StreamRenderer("markdown", display=whole, update_hz=0)
    r.feed(CODE)
    assert '<span class="k" style=' in whole.html()
    r.finish()
    assert len(whole.outputs) == 1
    unclosed = Outputs()                            # a model that never closed its fence
    r = StreamRenderer("markdown", display=unclosed, update_hz=0)
    r.feed("Try:\n\n```python\ndef f(x):\n    return x\n")
    assert "<span" not in unclosed.html()
    r.finish()
    assert '<span class="k" style=' in unclosed.html()


def test_the_cells_colours_are_the_panels_fallbacks() -> None:
    """One palette: the panel's CSS names JupyterLab's theme colour first and these after."""
    for rule in re.findall(r"((?:\.junis-code \.[a-z0-9]+,?\s*)+)\{([^}]*)\}", CSS):
        tokens = re.findall(r"\.junis-code \.([a-z0-9]+)", rule[0])
        colour = re.search(r"color: var\(--[a-z0-9-]+, (#[0-9a-f]+)\)", rule[1]).group(1)
        for token in tokens:
            assert TOKEN_STYLES[token].startswith(f"color:{colour}"), token
            assert ("font-weight:bold" in TOKEN_STYLES[token]) == ("bold" in rule[1]), token
            assert ("italic" in TOKEN_STYLES[token]) == ("italic" in rule[1]), token
    assert len(TOKEN_STYLES) >= 30


def style_attributes(page: str) -> set[str]:
    """Every `style` attribute's value, parsed (text may hold `style="..."`, shown as text)."""
    found: set[str] = set()

    class Parser(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.update(v or "" for k, v in attrs if k == "style")

    Parser().feed(page)
    return found


def test_hostile_code_in_a_cell_stays_inert_and_only_our_styles_survive() -> None:
    for payload in HOSTILE:
        page = highlight_code(render_markdown(f"```html\n{payload}\n```\n\n{payload}"),
                              copy=False, inline=True)
        assert_safe_html(page)
        styles = style_attributes(page)
        assert styles <= set(TOKEN_STYLES.values()) | {CELL_BLOCK} | {
            "text-align:left", "text-align:center", "text-align:right"}
    forged = ('<pre><code class="language-py">x</code></pre>'
              '<span style="background:url(https://evil.example/x)">y</span>')
    assert "evil" not in highlight_code(forged, copy=False, inline=True)


def test_code_past_the_highlight_limit_is_shown_plain(monkeypatch) -> None:
    from junis_jupyter.notebook import render
    monkeypatch.setattr(render, "HIGHLIGHT_UPTO", 20_000)
    block = "Some words.\n\n```python\ndef f(x):\n    return x\n```\n\n"
    text = block * (40_000 // len(block))
    shown = Outputs()
    clock = iter(range(10**6)).__next__     # a second a feed: the answer settles into outputs
    r = StreamRenderer("markdown", display=shown, update_hz=0, clock=clock)
    for at in range(0, len(text), 1000):
        r.feed(text[at:at + 1000])
    r.finish()
    assert len(shown.outputs) > 10          # the late outputs are past the limit too
    page = shown.html()
    blocks = page.count('<code class="language-python">')
    coloured = page.count('<div class="junis-code">')
    assert blocks == text.count("```python")    # every block shown, coloured or not
    assert page.count('<span class="k" style=') == 2 * coloured     # def, return
    # the blocks in the first 20,000 characters coloured (give or take a rendered piece), the
    # later ones plain
    assert abs(coloured - 20_000 // len(block)) <= render.PIECE // len(block) + 1
    assert '<span' not in page[page.rindex('<div class="junis-code">'):].split("</pre>", 1)[1]


def test_the_highlight_limit_is_the_same_streamed_or_whole(monkeypatch) -> None:
    from junis_jupyter.notebook import render
    monkeypatch.setattr(render, "HIGHLIGHT_UPTO", 20_000)
    block = "Some words.\n\n```python\ndef f(x):\n    return x\n```\n\n"
    text = block * 800
    whole = render.IncrementalMarkdown(render._cell_code).render(text, final=True)
    coloured = whole.count('<div class="junis-code">')
    assert abs(coloured - 20_000 // len(block)) <= render.PIECE // len(block) + 1
    assert whole.count('<code class="language-python">') == 800
