"""Where an answer came from, kept with the answer in the saved notebook.

A cell's answer is followed by a footer output whose metadata (`metadata["junis"]`) carries
`stamp()`'s fields: session id, message id (where the service gives one), agent, model, cache key
and whether the answer came from the cache, this package's version and the time. Jupyter saves
output metadata in the .ipynb, so a reader of the file (a colleague, a reviewer, a script) can tell
where every answer came from, with nbformat alone; `from_notebook()` reads them as a frame.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .._version import __version__

if TYPE_CHECKING:
    import pandas as pd

    from ..client.types import ChatResult

__all__ = ["stamp", "from_notebook", "KEY"]

KEY = "junis"     # the output metadata's key (shared with the footer's session and token figures)


def stamp(result: ChatResult, *, cache_key: str | None = None, cached: bool = False,
          at: datetime | None = None) -> dict[str, Any]:
    """The provenance of one answer, as JSON-ready values (None where unknown). A cached
    answer carries the message id and model of the answer it replays, marked `cached`."""
    when = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return {"session_id": result.session_id, "message_id": result.id, "agent": result.agent,
            "model": result.model, "cache_key": cache_key or None, "cached": bool(cached),
            "package_version": __version__,
            "answered_at": when.isoformat(timespec="milliseconds").replace("+00:00", "Z")}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(value: Any) -> str | None:
    """An ISO 8601 time, or None (a file edited by hand may hold anything)."""
    if not isinstance(value, str):
        return None
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value


def _fields(meta: Mapping[str, Any]) -> dict[str, Any]:
    """A footer's metadata as the frame's values, each of its kind or None."""
    cached = meta.get("cached")
    return {**{k: _text(meta.get(k)) for k in ("session_id", "message_id", "agent", "model",
                                                  "cache_key")},
            "cached": cached if isinstance(cached, bool) else None,
            "version": _text(meta.get("package_version")),
            "answered_at": _time(meta.get("answered_at"))}


def _answer_text(outputs: list[Any]) -> str:
    return "".join(str((o.get("data") or {}).get("text/plain", "")) for o in outputs
                   if o.get("output_type") in ("display_data", "execute_result"))


def from_notebook(notebook: Any) -> pd.DataFrame:
    """The answers of a saved notebook (a path, or a notebook nbformat read) and where each came
    from: one row per answer, in notebook order (the provenance frame)."""
    import nbformat

    from .schemas import build
    if isinstance(notebook, (str, os.PathLike)):
        notebook = nbformat.read(os.fspath(notebook), as_version=4)
    rows: list[dict[str, Any]] = []
    for index, cell in enumerate(notebook.cells):
        if cell.get("cell_type") != "code":
            continue
        before: list[Any] = []     # the outputs since the last footer: that answer's parts
        for output in cell.get("outputs", []):
            meta = (output.get("metadata") or {}).get(KEY)
            if not isinstance(meta, Mapping):
                before.append(output)
                continue
            rows.append({**_fields(meta), "cell": index, "cell_id": _text(cell.get("id")),
                         "execution_count": _count(cell.get("execution_count")),
                         "answer": _answer_text(before)})
            before = []
    names = ("cell", "cell_id", "execution_count", "answered_at", "session_id", "message_id",
             "agent", "model", "cache_key", "cached", "version", "answer")
    return build("provenance", {n: [r.get(n) for r in rows] for n in names})
