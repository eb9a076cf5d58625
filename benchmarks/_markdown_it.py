"""The renderer `%%junis` used before cmark-gfm + nh3: markdown-it-py with its own allow-list.

Kept here only as the magic-render benchmark's comparison (docs/performance.md, "magic render"),
verbatim but for the imports: markdown-it-py in commonmark mode with tables and strikethrough,
raw HTML escaped (`html=False`), links checked by `is_safe_url`, images turned into links.
`render_markdown` has the package renderer's contract, so the benchmark swaps it in for a round.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from junis_jupyter.notebook.markdown import escape_html, is_safe_url, valid_unicode


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
    if not is_safe_url(src):
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
    """Markdown to safe HTML, the markdown-it-py way (the package's renderer until issue 16)."""
    return _MD.render(valid_unicode(text))
