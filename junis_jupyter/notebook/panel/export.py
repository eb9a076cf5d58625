"""A conversation kept: as Markdown (the panel's `to_markdown()`, `%junis history --markdown`), as
a notebook (`to_notebook(path)`) and as a messages frame (`to_frame()`), all from its turns.

What is kept is never worse than what the panel shows. Every text is valid Unicode (a lone
surrogate, which UTF-8 cannot hold, becomes U+FFFD, so writing it cannot fail) and has every
Junis-key-shaped string masked, as the magic masks what it sends.

A notebook is rendered by whoever opens it (JupyterLab, nbconvert, GitHub) with Markdown's full
trust, raw HTML and every link scheme included, so a turn goes into its Markdown cell as written
only when it cannot make markup (no `<`, `[`, `]`, `$`, `\\` or `&`: no raw HTML, link, image,
entity or math). Otherwise it goes in as the panel shows it: an answer as the safe HTML of
`markdown.render_markdown`, a question escaped, in one HTML block on one line (a Markdown
renderer passes an HTML block through untouched until a blank line, so newlines become `&#10;`)
that MathJax skips (`tex2jax_ignore`: its `\\href` could make a link of any scheme).
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ... import config
from ...client.types import Message
from ..markdown import escape_html, render_markdown, valid_unicode
from .code import code_blocks

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["speaker", "turns_to_frame", "turns_to_markdown", "turns_to_notebook"]

Turnish = Sequence[str | None]     # (role, text) or (role, text, agent name)

_MARKUP = re.compile(r"[<\[\]$\\&]")
# Every character Python (and so some renderers) takes for a line break, as an entity: in the
# HTML block they mean what they did (a newline in <pre>, a space elsewhere), and no blank line
# can end the block early.
_LINE_BREAKS = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def speaker(role: str, name: str | None = None) -> str:
    """Who said it, as the panel labels turns: You, the agent's name, or the role."""
    if role == "user":
        return "You"
    return name or (role.capitalize() if role else "Assistant")


def _kept(text: str) -> str:
    """Text as every export keeps it: valid Unicode, with key-shaped strings masked."""
    return config.scrub_keys(valid_unicode(text), config.current_key())


def _parts(turn: Turnish) -> tuple[str, str, str | None]:
    role, text = turn[0] or "", _kept(turn[1] or "")
    name = _kept(turn[2]) if len(turn) > 2 and turn[2] is not None else None
    return role, text, name


def _turn_markdown(role: str, text: str, name: str | None) -> str:
    return f"### {speaker(role, name)}\n\n{text.strip()}\n"


def turns_to_markdown(turns: Iterable[Turnish]) -> str:
    """The conversation as Markdown: a `### You` / `### <agent>` heading per turn, then its text
    (answers are Markdown already; questions are kept as typed)."""
    return "\n".join(_turn_markdown(*_parts(t)) for t in turns)


def _safe_cell(role: str, text: str, name: str | None) -> str:
    """A turn's Markdown cell: as written if it cannot make markup, else one inert HTML block."""
    who = speaker(role, name)
    if role == "user":
        if not _MARKUP.search(text):
            return _turn_markdown(role, text, name).rstrip("\n")
        body = "<p>" + _LINE_BREAKS.sub("<br>", escape_html(text.strip())) + "</p>"
    else:
        body = render_markdown(text)
    heading = "" if not _MARKUP.search(who) else f"<h3>{escape_html(who)}</h3>"
    block = f'<div class="junis-{escape_html(role)} tex2jax_ignore">{heading}{body}</div>'
    block = _LINE_BREAKS.sub("&#10;", block)
    return block if heading else f"### {who}\n\n{block}"


def turns_to_notebook(turns: Iterable[Turnish], path: str | os.PathLike[str]) -> None:
    """Write the conversation as a notebook: a Markdown cell per turn and, under each answer, a
    code cell per code block it holds (not executed; its language in the cell's metadata)."""
    import nbformat
    from nbformat import v4

    cells = []
    for turn in turns:
        role, text, name = _parts(turn)
        cells.append(v4.new_markdown_cell(_safe_cell(role, text, name)))
        if role != "user":
            for language, code in code_blocks(text):
                cells.append(v4.new_code_cell(code, metadata={"junis": {"language": language}}))
    notebook = v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(notebook)
    with open(path, "w", encoding="utf-8") as f:
        nbformat.write(notebook, f)


def turns_to_frame(messages: Iterable[Message]) -> pd.DataFrame:
    """The messages frame (`junis_jupyter.frames`' schema) of the turns as `Message`s, their
    text kept as every export keeps it."""
    from ...data.frames import messages_from_objects
    return messages_from_objects([
        replace(m, content=_kept(m.content),
                agent_name=None if m.agent_name is None else _kept(m.agent_name))
        for m in messages])
