"""A conversation kept: as Markdown (the panel's `to_markdown()`, `%junis history --markdown`) and
as a notebook (`to_notebook(path)`), both from (role, text) turns.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from .code import code_blocks

__all__ = ["speaker", "turns_to_markdown", "turns_to_notebook"]

Turnish = Sequence[str | None]     # (role, text) or (role, text, agent name)


def speaker(role: str, name: str | None = None) -> str:
    """Who said it, as the panel labels turns: You, the agent's name, or the role."""
    if role == "user":
        return "You"
    return name or (role.capitalize() if role else "Assistant")


def _parts(turn: Turnish) -> tuple[str, str, str | None]:
    role, text = turn[0] or "", turn[1] or ""
    name = turn[2] if len(turn) > 2 else None
    return role, text, name


def _turn_markdown(role: str, text: str, name: str | None) -> str:
    return f"### {speaker(role, name)}\n\n{text.strip()}\n"


def turns_to_markdown(turns: Iterable[Turnish]) -> str:
    """The conversation as Markdown: a `### You` / `### <agent>` heading per turn, then its text
    (answers are Markdown already; questions are kept as typed)."""
    return "\n".join(_turn_markdown(*_parts(t)) for t in turns)


def turns_to_notebook(turns: Iterable[Turnish], path: str | os.PathLike[str]) -> None:
    """Write the conversation as a notebook: a Markdown cell per turn and, under each answer, a
    code cell per code block it holds (not executed; its language in the cell's metadata)."""
    import nbformat
    from nbformat import v4

    cells = []
    for turn in turns:
        role, text, name = _parts(turn)
        cells.append(v4.new_markdown_cell(_turn_markdown(role, text, name).rstrip("\n")))
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
