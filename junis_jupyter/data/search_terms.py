"""What a user types to search the transcript log, as a query for SQLite's FTS5 index.

Users type words, not FTS5's query language: `C++ (beta)` or `"Q3` would be syntax errors there.
Each word (or "a quoted phrase") becomes a quoted FTS5 phrase, and all of them must appear in the
turn. One that ends in a letter or digit matches at the start of a word (`churn` finds Churn and
churning); one that ends otherwise matches whole words (`C++` finds the word C, not every word
starting with c). `"net revenue"` finds those words in a row. The index folds case and accents
(unicode61, remove_diacritics 2), so `cafe` finds Café.
"""
from __future__ import annotations

import re

__all__ = ["fts_query", "plain_terms"]

_TERM = re.compile(r'"([^"]*)"?|(\S+)')     # "a phrase" (closed or not), or a word
_WORDY = re.compile(r"\w")


def plain_terms(q: str) -> list[str]:
    """The words and phrases of `q`, quotes taken off, empty ones dropped."""
    terms = [(m.group(1) if m.group(2) is None else m.group(2)).strip()
             for m in _TERM.finditer(q)]
    return [t for t in terms if t]


def fts_query(q: str) -> str | None:
    """The FTS5 MATCH expression for `q`; None when no term holds a letter or digit (the index
    keeps only those, so such a search goes to the plain scan instead)."""
    terms = [t for t in plain_terms(q) if _WORDY.search(t)]
    if not terms:
        return None
    return " ".join('"' + t.replace('"', '""') + ('"*' if _WORDY.match(t[-1]) else '"')
                    for t in terms)
