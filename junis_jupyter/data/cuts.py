"""What was left out of a prompt, said once: a value shortened on its way into a prompt is cut
here, marked where it was cut (`… 4,900 more characters`), and recorded as a `Cut`, so every
surface can name every cut beside the answer (`{notes}: 2,000 of 217,225 characters`).

Keys are masked before a value is cut and again at the cut: a key cut in half by a cap is no
longer the key, nor the 32-character shape a mask looks for, yet still most of a secret.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .. import config

__all__ = ["Cut", "cap_text", "describe", "mask"]

# A Junis key's beginning, up to the end of the text: what is left of a key cut by a cap.
_KEY_PREFIX = re.compile(r"jns_live_[A-Za-z0-9]*\Z")


@dataclass(frozen=True)
class Cut:
    """One value shortened on its way into a prompt: `shown` of its `total` `unit`s went."""
    name: str           # how the user wrote it: "{df}", "{notes}", "notes.txt"
    shown: int
    total: int
    unit: str           # "rows", "characters", "items"

    def describe(self) -> str:
        return f"{self.name}: {self.shown:,} of {self.total:,} {self.unit}"


def describe(cuts: Iterable[Cut]) -> str:
    """Every cut, on one line ("" when nothing was cut)."""
    return " · ".join(cut.describe() for cut in cuts)


def mask(text: str) -> str:
    """`text` with the current key and every key-shaped string masked."""
    return config.scrub_keys(text, config.current_key())


def cap_text(name: str, text: str, limit: int) -> tuple[str, Cut | None]:
    """`text` masked, then cut to `limit` characters with a marker saying how many more there
    were, and the cut (None when it fits). A key-shaped beginning left at the cut is masked."""
    text = mask(text)
    if limit < 0 or len(text) <= limit:
        return text, None
    head = _KEY_PREFIX.sub("jns_live_…", text[:limit])     # none of what is left of it
    return f"{head}… {len(text) - limit:,} more characters", Cut(name, limit, len(text),
                                                                 "characters")
