"""One answer, one output, for comparing notebooks (nbval) and for the stored example outputs.

A streamed `%%junis` answer settles its finished blocks into outputs of their own, and where it
cuts depends on when the chunks arrived, so two runs of the same notebook split the same answer
differently. Consecutive displays of an answer's parts (the same text mime types, text/plain and
text/html only) are merged into one, on both sides of nbval's comparison: here for the kernel's
messages (conftest.py) and for the stored notebook (scripts/refresh-notebooks).
"""
from __future__ import annotations

from typing import Any

_TEXT = {"text/plain", "text/html"}


def _part(item: dict[str, Any]) -> bool:
    data = item.get("data") or {}
    return bool(data) and set(data) <= _TEXT and not item.get("metadata")


def merge_answer_parts(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items with "data" and "metadata" (display messages' content, or notebook outputs):
    each run of consecutive answer parts with the same mime types becomes its first item, holding
    all their text."""
    merged: list[dict[str, Any]] = []
    for item in items:
        last = merged[-1] if merged else None
        if last is not None and _part(item) and _part(last) and set(item["data"]) == set(last["data"]):
            last["data"] = {k: last["data"][k] + item["data"][k] for k in last["data"]}
            continue
        merged.append(item)
    return merged
