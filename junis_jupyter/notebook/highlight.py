"""Code blocks in answers highlighted, for the chat panel and for a `%%junis` cell alike.

Highlighting works on `markdown.render_markdown`'s output, never on the raw answer: each
`<pre><code class="language-X">` block's (escaped) text is unescaped, lexed by Pygments (whose HTML
is the code escaped again inside `<span class="token">`), and the result goes through one more
nh3 allow-list pass, the renderer's own tags plus `span` and `div` with Pygments' and the panel's
classes only, and only the styles made here. Whatever the lexer or this module did, nh3 has the
last word on what reaches the page.

Two ways to look the same. The panel has its own stylesheet (panel/html.py's CSS: JupyterLab's
theme colours, falling back to the ones below), so its blocks carry classes, and a Copy control
its key hook answers. A cell output has no stylesheet that lasts: JupyterLab's sanitiser, which
an untrusted notebook's outputs go through (one run by nbconvert, papermill or a colleague),
drops `<style>` elements, scripts, and `var(...)` in styles; classes and plain colours in a
`style` attribute survive. So a cell's blocks carry their colours inline (`inline=True`, the
panel's fallback colours on the panel's light background, the same in every theme), and no
Copy control: with no script to answer it, it would do nothing.
"""
from __future__ import annotations

import functools
import html as _html
import re
from typing import Any

import nh3

from .markdown import is_safe_url

__all__ = ["COPY", "TOKEN_STYLES", "CELL_BLOCK", "highlight_code"]

_BLOCK = re.compile(r'<pre><code(?: class="language-([^"]*)")?>(.*?)</code></pre>', re.S)
_MAX_HIGHLIGHT = 200_000        # characters of one block; a longer one is shown unhighlighted
_TOKEN_CLASS = re.compile(r"[a-z]{1,3}[0-9]?")       # Pygments' short token classes: k, nf, s2, ...
_OURS = {"div": {"junis-code"}, "span": {"junis-copy"}}
_LANGUAGE_CLASS = re.compile(r"language-[^\s]+")

COPY = '<span class="junis-copy" title="Copy the code">Copy</span>'

# Pygments' token classes and their look: the panel's CSS gives each JupyterLab's theme colour
# first and these as its fallback (a test keeps the two the same).
_LOOKS = (
    (("k", "kd", "kn", "kr", "kc", "ow"), "color:#008000;font-weight:bold"),
    (("s", "s1", "s2", "sa", "sb", "sd", "se", "sh", "si", "sx", "dl"), "color:#ba2121"),
    (("c", "c1", "cm", "ch", "cs", "cp"), "color:#408080;font-style:italic"),
    (("m", "mi", "mf", "mh", "mo"), "color:#080"),
    (("nf", "fm"), "color:#00f"),
    (("nc", "nn"), "color:#00f;font-weight:bold"),
    (("nb", "bp"), "color:#008000"),
    (("o",), "color:#a2f"),
    (("nd",), "color:#a2f"),
)
TOKEN_STYLES: dict[str, str] = {token: look for tokens, look in _LOOKS for token in tokens}

# A cell's code block: the panel's answer background (JupyterLab's light layout-color2) and text
# colour, scrolled sideways rather than wrapped.
CELL_BLOCK = ("background-color:#eeeeee;color:#212121;padding:6px 8px;border-radius:4px;"
              "overflow-x:auto;white-space:pre")
_STYLES = {"pre": {CELL_BLOCK}, "span": set(TOKEN_STYLES.values())}


@functools.lru_cache(maxsize=64)
def _lexer(language: str) -> object | None:
    """The lexer of a language, made once (finding one searches Pygments' table)."""
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound
    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


@functools.lru_cache(maxsize=1)
def _formatter() -> Any:
    """One formatter for every block: making one builds a stylesheet it never uses here."""
    from pygments.formatters import HtmlFormatter
    return HtmlFormatter(nowrap=True)


@functools.lru_cache(maxsize=1)
def _inline_looks() -> dict[Any, str]:
    """Each Pygments token type a look is given for, and its span (the class the panel's
    formatter would give it, and the look inline)."""
    from pygments.token import STANDARD_TYPES
    return {ttype: f'<span class="{name}" style="{TOKEN_STYLES[name]}">'
            for ttype, name in STANDARD_TYPES.items() if name in TOKEN_STYLES}


def _inline(code: str, lexer: Any) -> str:
    """The code escaped, its tokens of a known look in spans carrying it: no span for the rest
    (names, punctuation), which a cell has no stylesheet to colour anyway."""
    looks = _inline_looks()
    out = []
    held: str | None = None         # the open span: neighbours of one look share it
    for ttype, value in lexer.get_tokens(code):
        if not value:
            continue
        opening = looks.get(ttype)
        if opening != held:
            if held is not None:
                out.append("</span>")
            if opening is not None:
                out.append(opening)
            held = opening
        out.append(_html.escape(value, quote=False))
    if held is not None:
        out.append("</span>")
    return "".join(out)


def _highlighted(match: re.Match[str], copy: bool, inline: bool) -> str:
    language, body = match.group(1) or "", match.group(2)
    code = _html.unescape(body)
    lexer = _lexer(_html.unescape(language)) if language and len(code) <= _MAX_HIGHLIGHT else None
    if lexer is not None and inline:
        body = _inline(code, lexer)
    elif lexer is not None:
        from pygments import highlight
        body = highlight(code, lexer, _formatter())
    label = f' class="language-{language}"' if language else ""
    pre = f'<pre style="{CELL_BLOCK}">' if inline else "<pre>"
    return (f'<div class="junis-code">{COPY if copy else ""}{pre}<code{label}>{body}</code>'
            "</pre></div>")


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "href":
        return value if is_safe_url(value) else None
    if attribute == "style" and tag in _STYLES:
        return value if value in _STYLES[tag] else None
    if attribute != "class":
        return value
    if tag == "code":
        return value if _LANGUAGE_CLASS.fullmatch(value) else None
    if value in _OURS.get(tag, ()):
        return value
    return value if tag == "span" and _TOKEN_CLASS.fullmatch(value) else None


# The renderer's allow-list (notebook/markdown.py), plus the spans and the frame of code blocks.
_ALIGNS = {"text-align:left", "text-align:center", "text-align:right"}
_CLEANER = nh3.Cleaner(
    tags={"p", "br", "hr", "em", "strong", "s", "code", "pre", "blockquote", "ul", "ol", "li",
          "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td",
          "span", "div"},
    clean_content_tags={"script", "style"},
    attributes={"a": {"href", "title"}, "ol": {"start"}, "code": {"class"},
                "span": {"class", "title", "style"}, "div": {"class"}, "pre": {"style"}},
    tag_attribute_values={"th": {"style": _ALIGNS}, "td": {"style": _ALIGNS}},
    set_tag_attribute_values={"a": {"target": "_blank"}},
    link_rel="noopener noreferrer nofollow",
    url_schemes={"http", "https", "mailto"},
    attribute_filter=_attribute_filter,
    strip_comments=True,
)


def highlight_code(safe_html: str, *, copy: bool = True, inline: bool = False) -> str:
    """`safe_html` (the renderer's output) with its code blocks highlighted, cleaned by nh3 again;
    unchanged (and not cleaned again) when it has no code block. `copy`: a Copy control on each
    block (the panel's); `inline`: the colours and the block's background in `style` attributes
    (a cell's, which has no stylesheet)."""
    if "<pre><code" not in safe_html:
        return safe_html
    return _CLEANER.clean(_BLOCK.sub(lambda m: _highlighted(m, copy, inline), safe_html))
