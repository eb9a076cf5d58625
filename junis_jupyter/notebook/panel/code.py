"""Code in answers: fenced blocks found in the markdown (`fences.code_blocks`, the one fence reader,
named here too for the panel's modules), and highlighted with a Copy control in the HTML the safe
renderer made.

Highlighting works on `markdown.render_markdown`'s output, never on the raw answer: each
`<pre><code class="language-X">` block's (escaped) text is unescaped, lexed by Pygments (whose HTML
is the code escaped again inside `<span class="token">`), and the result goes through one more
nh3 allow-list pass, the renderer's own tags plus `span` and `div` with Pygments' and the panel's
classes only. Whatever the lexer or this module did, nh3 has the last word on what reaches the page.

The Copy control is a `<span class="junis-copy">` (no button element, no script, no attribute
beyond `class` and `title`): the panel's key hook (`html.KEYS_JS`) listens for clicks on it and
copies the text of the block it sits in.
"""
from __future__ import annotations

import html as _html
import re

import nh3

from ..fences import code_blocks
from ..markdown import is_safe_url

__all__ = ["code_blocks", "highlight_code"]

_BLOCK = re.compile(r'<pre><code(?: class="language-([^"]*)")?>(.*?)</code></pre>', re.S)
_MAX_HIGHLIGHT = 200_000        # characters of one block; a longer one is shown unhighlighted
_TOKEN_CLASS = re.compile(r"[a-z]{1,3}[0-9]?")       # Pygments' short token classes: k, nf, s2, ...
_OURS = {"div": {"junis-code"}, "span": {"junis-copy"}}
_LANGUAGE_CLASS = re.compile(r"language-[^\s]+")

COPY = '<span class="junis-copy" title="Copy the code">Copy</span>'


def _lexer(language: str) -> object | None:
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound
    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def _highlighted(match: re.Match[str]) -> str:
    language, body = match.group(1) or "", match.group(2)
    code = _html.unescape(body)
    lexer = _lexer(_html.unescape(language)) if language and len(code) <= _MAX_HIGHLIGHT else None
    if lexer is not None:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        body = highlight(code, lexer, HtmlFormatter(nowrap=True))
    label = f' class="language-{language}"' if language else ""
    return f'<div class="junis-code">{COPY}<pre><code{label}>{body}</code></pre></div>'


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "href":
        return value if is_safe_url(value) else None
    if attribute != "class":
        return value
    if tag == "code":
        return value if _LANGUAGE_CLASS.fullmatch(value) else None
    if value in _OURS.get(tag, ()):
        return value
    return value if tag == "span" and _TOKEN_CLASS.fullmatch(value) else None


# The renderer's allow-list (notebook/markdown.py), plus the spans and the frame of code blocks.
_CLEANER = nh3.Cleaner(
    tags={"p", "br", "hr", "em", "strong", "s", "code", "pre", "blockquote", "ul", "ol", "li",
          "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td",
          "span", "div"},
    clean_content_tags={"script", "style"},
    attributes={"a": {"href", "title"}, "ol": {"start"}, "code": {"class"},
                "span": {"class", "title"}, "div": {"class"}},
    tag_attribute_values={"th": {"style": {"text-align:left", "text-align:center",
                                           "text-align:right"}},
                          "td": {"style": {"text-align:left", "text-align:center",
                                           "text-align:right"}}},
    set_tag_attribute_values={"a": {"target": "_blank"}},
    link_rel="noopener noreferrer nofollow",
    url_schemes={"http", "https", "mailto"},
    attribute_filter=_attribute_filter,
    strip_comments=True,
)


def highlight_code(safe_html: str) -> str:
    """`safe_html` (the renderer's output) with its code blocks highlighted and given a Copy
    control, cleaned by nh3 again; unchanged (and not cleaned again) when it has no code block."""
    if "<pre><code" not in safe_html:
        return safe_html
    return _CLEANER.clean(_BLOCK.sub(_highlighted, safe_html))
