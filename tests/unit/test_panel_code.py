"""Code in panel answers: highlighted inside the safe renderer's allow-list (nh3 cleans the
final HTML), a Copy control per block, and (language, code) pairs found in the markdown."""
from __future__ import annotations

import html as _html
import re

import pytest

from support.hostile import HOSTILE, assert_safe_html
from junis_jupyter.notebook.markdown import render_markdown
from junis_jupyter.notebook.panel.code import COPY, code_blocks, highlight_code
from junis_jupyter.notebook.panel.html import answer_html


def visible(html: str) -> str:
    return _html.unescape(re.sub(r"<[^>]+>", "", html))


def test_a_python_block_is_highlighted_with_token_spans_and_a_copy_control() -> None:
    html = answer_html("Try:\n\n```python\ndef f(x):\n    return x + 1  # add\n```\n")
    assert html.count('<div class="junis-code">') == 1 and COPY in html
    assert '<span class="k">def</span>' in html and '<span class="nf">f</span>' in html
    assert '<span class="c1"># add</span>' in html
    assert '<code class="language-python">' in html
    assert_safe_html(html)
    # The reader sees the code as written (and the Copy label), nothing else.
    assert visible(html).replace("Copy", "", 1).strip().startswith("Try:")
    assert "def f(x):\n    return x + 1  # add" in visible(html)


def test_unknown_or_missing_language_is_left_plain_but_gets_copy() -> None:
    for fence in ("```\nplain <b>\n```", "```no-such-language\nplain <b>\n```"):
        html = answer_html(fence)
        assert COPY in html and "<span class=\"k\"" not in html
        assert "plain &lt;b&gt;" in html
        assert_safe_html(html)


def test_text_without_code_is_the_renderer_output_unchanged() -> None:
    text = "# Title\n\nSome *text* and `inline <b>` code."
    assert answer_html(text) == render_markdown(text)


@pytest.mark.parametrize("language", ["python", "html", "javascript", "xml", "bash", "markdown"])
@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_code_highlighted_in_any_language_stays_inert(language: str, payload: str) -> None:
    # The lexer sees exactly what an attacker wrote: HTML lexers tokenise tags, JS lexers
    # strings and event handlers, and all of it must come out as escaped text in spans.
    html = answer_html(f"```{language}\n{payload}\n```\n\n{payload}")
    assert_safe_html(html)
    assert re.search(r"<(script|img|svg|iframe|style|object|embed|input|form)\b", html, re.I) is None
    # (a payload's own fence ends ours; the renderer replaces noncharacters and NULs on purpose)
    if "```" not in payload and "~~~" not in payload and payload.isascii() and "\x00" not in payload \
            and "%EF%B7%90" not in payload:
        assert payload.strip() in visible(html)     # shown as text, whole, in the block


def test_a_hostile_language_label_cannot_break_out() -> None:
    for info in ('"><script>alert(1)</script>', "python onload=alert(1)", "x\" onmouseover=\"y"):
        html = answer_html(f"```{info}\ncode\n```")
        assert_safe_html(html)
        # Whatever the label, it stays inside the one class attribute (escaped): no other attribute.
        code_tag = re.search(r"<code[^>]*>", html).group(0)
        assert re.fullmatch(r'<code class="language-[^"\s]+">', code_tag), code_tag


def test_highlight_is_cleaned_again_whatever_the_input() -> None:
    # Not from the renderer: even a forged code block with markup inside is cleaned by nh3.
    forged = '<pre><code class="language-html">&lt;b&gt;</code></pre><img src=x onerror=alert(1)>'
    out = highlight_code(forged)
    assert "<img" not in out and 'class="junis-code"' in out
    assert_safe_html(out)


def test_code_blocks_finds_fenced_blocks_with_their_language() -> None:
    text = ("Intro\n\n```python\nx = 1\n\nprint(x)\n```\n\ntext\n\n~~~~sql extra\nSELECT 1;\n"
            "```\nstill sql\n~~~~\n\n    indented is not fenced\n\n``` \nno language\n```\n"
            "\n```js\nunclosed(")
    assert code_blocks(text) == [("python", "x = 1\n\nprint(x)"), ("sql", "SELECT 1;\n```\nstill sql"),
                                 ("", "no language"), ("js", "unclosed(")]
    assert code_blocks("no code at all, ``inline`` only") == []
    assert code_blocks("```not a fence``` on one line") == []
