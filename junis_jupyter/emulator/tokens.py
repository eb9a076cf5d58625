"""The emulator's tokenizer: a token is a run of word characters or one other non-space character.

Simple enough for any test to recompute, honest enough that longer text costs more.
"""
from __future__ import annotations

import re

TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    return len(TOKEN_RE.findall(text))


def truncate_tokens(text: str, limit: int) -> tuple[str, bool]:
    """The prefix of `text` holding at most `limit` tokens, and whether anything was cut."""
    for index, match in enumerate(TOKEN_RE.finditer(text)):
        if index == limit - 1:
            end = match.end()
            return text[:end], bool(TOKEN_RE.search(text, end))
    return text, False
