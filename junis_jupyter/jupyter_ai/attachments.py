"""Files, notebooks and cells attached to a chat message, as text for the prompt.

Each attachment becomes one block (`File: path` or `Notebook: path, cell 2 (code)`, then the
text in a code fence), capped at `limit` characters by the same rule and with the same cut
notice as a `%%junis` cell's values (data/cuts.py): the key masked first, the cut marked, the
cut named beside the answer. A notebook is read as its cells' sources, never as its JSON. What
cannot be read (outside the server's root, not text, missing, too large to read) is named
instead, and the question is still asked.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..data.cuts import Cut, cap_text

__all__ = ["Attached", "attached", "DEFAULT_LIMIT", "MAX_READ_BYTES"]

DEFAULT_LIMIT = 20_000          # characters per attachment (docs/jupyter-ai.md says why)
MAX_READ_BYTES = 16 * 2 ** 20   # a larger file is named, not read


class Unreadable(Exception):
    """Why an attachment could not be read, in a few words."""


@dataclass(frozen=True)
class Attached:
    text: str = ""                              # the blocks, to follow the question
    cuts: tuple[Cut, ...] = ()
    unread: tuple[str, ...] = field(default=())  # "name (why)"


def attached(attachments: Iterable[Any], root_dir: str, limit: int = DEFAULT_LIMIT) -> Attached:
    """The text of every attachment (jupyterlab_chat FileAttachment / NotebookAttachment)."""
    blocks: list[str] = []
    cuts: list[Cut] = []
    unread: list[str] = []
    for item in attachments:
        name = str(getattr(item, "value", "") or "?")
        try:
            for title, text, language in _read(item, root_dir):
                text, cut = cap_text(name, text, limit)
                if cut is not None:
                    cuts.append(cut)
                blocks.append(_block(title, text, language))
        except Unreadable as why:
            unread.append(f"{name} ({why})")
    return Attached("\n\n".join(blocks), tuple(cuts), tuple(unread))


def _block(title: str, text: str, language: str) -> str:
    """`title`, then `text` in a fence longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{title}\n{fence}{language}\n{text}\n{fence}"


def _path(root_dir: str, value: str) -> str:
    """The attachment's file, which must lie inside the server's root directory."""
    root = os.path.realpath(root_dir)
    full = os.path.realpath(os.path.join(root, value))
    if not value or os.path.commonpath((root, full)) != root:
        raise Unreadable("outside the server's root directory")
    return full


def _text(path: str) -> str:
    try:
        if os.path.getsize(path) > MAX_READ_BYTES:
            raise Unreadable(f"over {MAX_READ_BYTES // 2 ** 20} MB")
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise Unreadable("not found") from None
    except UnicodeDecodeError:
        raise Unreadable("not text") from None
    except IsADirectoryError:
        raise Unreadable("a directory") from None
    except OSError as exc:
        raise Unreadable(exc.strerror or "cannot be read") from None


def _read(item: Any, root_dir: str) -> list[tuple[str, str, str]]:
    """(title, text, fence language) for each block the attachment gives."""
    value = str(getattr(item, "value", "") or "")
    if getattr(item, "type", "file") == "notebook":
        return _notebook(value, _path(root_dir, value), getattr(item, "cells", None))
    selection = getattr(item, "selection", None)
    if selection is not None:
        start, end = selection.start, selection.end
        return [(f"File: {value}, lines {start[0] + 1}-{end[0] + 1}", selection.content, "")]
    return [(f"File: {value}", _text(_path(root_dir, value)), "")]


def _notebook(value: str, path: str, cells: list[Any] | None) -> list[tuple[str, str, str]]:
    """The sources of the cells attached (all of them when none are named)."""
    import nbformat
    try:
        nb = nbformat.reads(_text(path), as_version=4)
    except Unreadable:
        raise
    except Exception:
        raise Unreadable("not a notebook") from None
    language = str(nb.metadata.get("kernelspec", {}).get("language", "") or "")
    by_id = {cell.get("id"): (number, cell) for number, cell in enumerate(nb.cells, 1)}
    wanted = [(c.id, c.selection) for c in cells] if cells else \
        [(cell.get("id"), None) for cell in nb.cells]
    out = []
    for cell_id, selection in wanted:
        if cell_id not in by_id:
            raise Unreadable(f"has no cell {cell_id}")
        number, cell = by_id[cell_id]
        text = selection.content if selection is not None else cell.source
        lang = language if cell.cell_type == "code" else ""
        out.append((f"Notebook: {value}, cell {number} ({cell.cell_type})", text, lang))
    return out
