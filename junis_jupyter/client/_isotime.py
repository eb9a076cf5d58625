"""ISO 8601 times read alike on every Python the package supports.

Python 3.11's `datetime.fromisoformat` reads most ISO 8601 (a trailing `Z`, any number of
fraction digits, `+0000` offsets, a comma before the fraction); 3.10's reads only what
`isoformat()` writes, and raised on the rest, so `parse_time` turned a session's `created_at`
of `...:00.12Z` or `...+0000` into None (NaT in the frames) on 3.10 alone. On 3.10 the common
forms are rewritten into the one it reads; 3.11 and later parse the text as it is.
"""
from __future__ import annotations

import re
import sys
from datetime import datetime

__all__ = ["fromisoformat"]

# date, then [T or space] time to the second, an optional fraction, an optional offset
_EXTENDED = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,](\d+))?"
                       r"(?:(Z)|([+-]\d{2})(?::?(\d{2}))?)?")


def fromisoformat(text: str) -> datetime:
    """`datetime.fromisoformat(text)` as Python 3.11 reads it; ValueError if it is no time."""
    if sys.version_info >= (3, 11):
        return datetime.fromisoformat(text)
    match = _EXTENDED.fullmatch(text)
    if match is None:
        return datetime.fromisoformat(text)
    date, time, fraction, zulu, hours, minutes = match.groups()
    if fraction:
        time += "." + fraction[:6].ljust(6, "0")    # 3.11 drops digits past the microsecond
    if zulu:
        time += "+00:00"
    elif hours:
        time += f"{hours}:{minutes or '00'}"
    return datetime.fromisoformat(f"{date}T{time}")
