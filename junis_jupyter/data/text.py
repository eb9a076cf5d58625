"""Text as the data floor stores it: valid Unicode, so a file or a frame can always take it.

SQLite, Arrow and JSON files hold UTF-8, which a lone surrogate (JSON's `"\\ud800"`, or bytes
read with `errors="surrogateescape"`) cannot be: storing one raises `UnicodeEncodeError`, and a
batch that raised there would lose every answer it had. The client may already have cleaned an
answer; the data floor does not count on it.
"""
from __future__ import annotations

from typing import TypeVar

__all__ = ["storable"]

_T = TypeVar("_T")
_PIECE = 1 << 20


def storable(value: _T) -> _T:
    """`value` with surrogate pairs joined and lone surrogates replaced by U+FFFD when it is a
    string (anything else, and valid text, comes back as it is)."""
    if not isinstance(value, str) or value.isascii():
        return value
    try:
        for at in range(0, len(value), _PIECE):     # a long answer not held twice as UTF-8
            value[at:at + _PIECE].encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")  # type: ignore[return-value]
