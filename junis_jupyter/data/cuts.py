"""What was left out of a prompt, said once: a value shortened on its way into a prompt is cut
here, marked where it was cut (`… 4,900 more characters`), and recorded as a `Cut`, so every
surface can name every cut beside the answer (`{notes}: 2,000 of 217,225 characters`).

Keys are masked before a value is cut and again at the cut: a key cut in half by a cap is no
longer the key, nor the 32-character shape a mask looks for, yet still most of a secret.

A `Cutter` puts one prompt together: it reads the key once (a table's every cell is masked), and
keeps the cuts in the order they were made. Parts of a value cut each to the same size (a table's
cells, a list's items) are one cut: how many were cut, to what, and the longest.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .. import config

__all__ = ["Cut", "Cutter", "Tally", "cap_text", "describe", "mask"]

# A Junis key's beginning, up to the end of the text: what is left of a key cut by a cap.
_KEY_PREFIX = re.compile(r"jns_live_[A-Za-z0-9]*\Z")


@dataclass(frozen=True)
class Cut:
    """One value shortened on its way into a prompt: `shown` of its `total` `unit`s went. With
    `each` ("cell", "item"), `count` such parts of the value were each cut to `shown` units, the
    longest having `total`."""
    name: str           # how the user wrote it: "{df}", "{notes}", "notes.txt"
    shown: int
    total: int
    unit: str           # "rows", "characters", "items"
    each: str = ""
    count: int = 0

    def describe(self) -> str:
        if self.each:
            parts = f"{self.count:,} {self.each}{'' if self.count == 1 else 's'}"
            return (f"{self.name}: {parts} cut to {self.shown:,} {self.unit} (the longest had "
                    f"{self.total:,})")
        return f"{self.name}: {self.shown:,} of {self.total:,} {self.unit}"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, for an output's metadata."""
        return {"name": self.name, "shown": self.shown, "total": self.total, "unit": self.unit,
                **({"each": self.each, "count": self.count} if self.each else {})}


def describe(cuts: Iterable[Cut]) -> str:
    """Every cut, on one line ("" when nothing was cut)."""
    return " · ".join(cut.describe() for cut in cuts)


def mask(text: str) -> str:
    """`text` with the current key and every key-shaped string masked."""
    return config.scrub_keys(text, config.current_key())


def _cut(text: str, limit: int) -> str:
    """`text` (masked) cut to `limit` characters, a key-shaped beginning left at the cut masked,
    and marked with how many more there were."""
    head = _KEY_PREFIX.sub("jns_live_…", text[:limit])     # none of what is left of it
    return f"{head}… {len(text) - limit:,} more characters"


def cap_text(name: str, text: str, limit: int) -> tuple[str, Cut | None]:
    """`text` masked, then cut to `limit` characters with a marker saying how many more there
    were, and the cut (None when it fits). A key-shaped beginning left at the cut is masked."""
    text = mask(text)
    if limit < 0 or len(text) <= limit:
        return text, None
    return _cut(text, limit), Cut(name, limit, len(text), "characters")


class Tally:
    """The parts of one value cut each to one size: counted, the longest kept."""

    def __init__(self, each: str, limit: int) -> None:
        self.each, self.limit = each, limit
        self.count = self.longest = 0


class Cutter:
    """Masks and cuts the values of one prompt, and keeps every cut, in order. A limit of 0 or
    less cuts nothing (as the magic's `max_string_chars = 0` always read)."""

    def __init__(self) -> None:
        self._key = config.current_key()
        self.cuts: list[Cut] = []

    def mask(self, text: str) -> str:
        return config.scrub_keys(text, self._key)

    def add(self, cut: Cut | None) -> None:
        if cut is not None:
            self.cuts.append(cut)

    def rows(self, name: str, shown: int, total: int, unit: str = "rows") -> None:
        """`shown` of `total` rows (items) went; a cut when that is fewer."""
        if 0 <= shown < total:
            self.cuts.append(Cut(name, shown, total, unit))

    def text(self, name: str, text: str, limit: int) -> str:
        """`text` masked and cut to `limit` characters (a cut recorded when it was)."""
        text = self.mask(text)
        if limit <= 0 or len(text) <= limit:
            return text
        self.cuts.append(Cut(name, limit, len(text), "characters"))
        return _cut(text, limit)

    def parts(self, each: str, limit: int) -> Tally:
        """A tally for `part()`: the cells of one table, the items of one list."""
        return Tally(each, limit)

    def part(self, tally: Tally, text: str) -> str:
        """One part of a value, masked and cut to the tally's size (counted when it was)."""
        text = self.mask(text)
        if tally.limit <= 0 or len(text) <= tally.limit:
            return text
        tally.count += 1
        tally.longest = max(tally.longest, len(text))
        return _cut(text, tally.limit)

    def close(self, name: str, tally: Tally, unit: str = "characters") -> None:
        """The tally's parts as one cut, if any was cut."""
        if tally.count:
            self.cuts.append(Cut(name, tally.limit, tally.longest, unit, tally.each,
                                 tally.count))
