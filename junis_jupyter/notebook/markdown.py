"""Markdown from a model to HTML that can go into the page without running anything.

The chat panel shows answers in an ipywidgets `HTML` widget, which puts its value into the page as
markup. Model output is untrusted (a prompt can make a model say anything), so the rules are:

- raw HTML in the markdown is escaped, never passed through (`html=False`);
- a link is kept only if its URL is http(s), mailto or relative; anything else (`javascript:`,
  `vbscript:`, `data:`, `file:`, unknown schemes, obfuscated schemes) leaves plain text;
- links open in a new tab with `rel="noopener noreferrer nofollow"`, so a click never replaces
  JupyterLab and the target page gets no handle on it;
- images are never loaded: they become a link with their alt text, so an answer cannot make the
  browser fetch a URL by itself (the usual way to smuggle data out of a chat);
- code blocks keep their formatting in `<pre><code>` (contents escaped);
- the result is always valid Unicode: a surrogate pair split across stream chunks is joined and a
  lone surrogate (undecodable bytes read with `surrogateescape`) becomes U+FFFD. Jupyter sends
  widget values as UTF-8, and a lone surrogate there fails in the kernel or arrives garbled.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

__all__ = ["render_markdown", "is_safe_url", "escape_html", "valid_unicode"]

_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
# Browsers drop these anywhere in a URL before parsing it ("java\tscript:" is javascript:).
_STRIPPED_BY_BROWSERS = re.compile(r"[\x00-\x20\x7f]")


def is_safe_url(url: str) -> bool:
    """True for http(s), mailto and relative URLs; False for every other scheme.

    Works on the URL as markdown-it hands it over (already percent-normalised) and on the raw
    text alike: whitespace and control characters are removed first, as a browser would, and a
    colon before the first `/`, `?` or `#` counts as a scheme even when the scheme is garbled.
    """
    candidate = _STRIPPED_BY_BROWSERS.sub("", url)
    if candidate.startswith("\\") or candidate.startswith("/\\"):
        return False        # "\\host" and "/\\host" are protocol-relative in browsers: be strict
    match = _SCHEME.match(candidate)
    if match:
        return match.group(1).lower() in _SAFE_SCHEMES
    head = re.split(r"[/?#]", candidate, maxsplit=1)[0]
    # "%6Aavascript:" and friends: anything colon-ish before a path is not a relative URL.
    return ":" not in head and "%3a" not in head.lower()


def valid_unicode(text: str) -> str:
    """`text` with surrogate pairs joined and lone surrogates replaced by U+FFFD."""
    if text.isascii():
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def escape_html(text: str) -> str:
    """Escape text for an HTML element or a double-quoted attribute."""
    return (valid_unicode(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#x27;"))


def _link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    token.attrSet("target", "_blank")
    token.attrSet("rel", "noopener noreferrer nofollow")
    return self.renderToken(tokens, idx, options, env)


def _image(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    label = f"[image: {escape_html(alt)}]"
    if not is_safe_url(src):      # markdown-it validated it already; checked again on purpose
        return label
    return (f'<a href="{escape_html(src)}" target="_blank" '
            f'rel="noopener noreferrer nofollow">{label}</a>')


def _build() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.validateLink = is_safe_url      # type: ignore[method-assign]
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("image", _image)
    return md


_MD = _build()


def render_markdown(text: str) -> str:
    """Markdown to HTML that is safe to put into the page (see the module docstring)."""
    return _MD.render(valid_unicode(text))
