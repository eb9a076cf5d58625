"""Fenced code in Markdown, read one way for every use (CommonMark's rules).

An answer's code blocks (`--format code`, `%junis fix`, the panel's code list and export), the
JSON in it (`--format json`), where a growing answer may be cut between finished blocks (the
cell's and the panel's streaming), and the code that `{name}` leaves alone in a prompt
(interpolate.py) all hang on where a fence opens and closes. One reader, so they cannot disagree.

The rules (CommonMark 0.31, 4.5), at a text's top level:
- a fence is a run of three or more ``` or ~~~, indented at most 3 spaces;
- a backtick fence's info string holds no backtick (else the line is text with a code span);
- the block ends at a line of the same character, at least as many, indented at most 3 spaces,
  with nothing after it but spaces and tabs; a block never closed runs to the end of the text;
- up to the opening fence's indent is taken off each line of the code.
Containers are not followed: a fence indented 1 to 3 spaces is read as one whether or not it
sits in a list item, and one after a block quote's `>` is not seen. So an answer whose list-item
fence is closed at a different indent (or left open) may be cut where its blocks do not render
the same apart; answers whose fences pair up, the usual kind, are cut where they do.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

__all__ = ["code_blocks", "first_code_block", "json_block", "parse_json_answer", "open_fence",
           "code_regions", "block_boundaries", "settled_upto", "has_link_definition"]

# A fence's line, matched at a line's start or found by the newline before it (a search for a
# literal newline is fast; one for `^` tries every character of a long line).
_OPENING = re.compile(r"( {0,3})(`{3,}|~{3,})(.*)")
_NEXT_OPENING = re.compile(r"\n( {0,3})(`{3,}|~{3,})(.*)")
_TICKS = re.compile(r"`+")
_BLANK = re.compile(r"\n[ \t]*\r?(?=\n)")          # a blank line, found by the newline before it
_LEADING_BLANK = re.compile(r"[ \t]*\r?\n")
_LIST_OR_INDENT = re.compile(r"[ \t]|[-*+][ \t\r\n]|\d{1,9}[.)][ \t\r\n]")
_MAYBE_LIST = re.compile(r"[-*+]|\d{1,9}[.)]?")     # a line begun so far that may still be one
_LINK_DEFINITION = re.compile(r" {0,3}\[[^\]\n]+\]:")
_NEXT_LINK_DEFINITION = re.compile(r"\n {0,3}\[[^\]\n]+\]:")


@lru_cache(maxsize=64)
def _closing(fence: str) -> re.Pattern[str]:
    """The line that closes a block opened by `fence`, found by the newline before it."""
    return re.compile(rf"\n {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*\r?(?=\n|\Z)")


def _fences(text: str, pos: int = 0) -> Iterator[tuple[re.Match[str], re.Match[str] | None]]:
    """Each fenced block from `pos` (a line's start) on: the match of its opening line (its first
    group starts where the line does), and of its closing line (None: it runs to the end); each
    match ends where its line does."""
    opened = _OPENING.match(text, pos) if pos == 0 or text[pos - 1] == "\n" else None
    # (no newline, no next line: str.find says so many times faster than a regex search)
    while opened is not None or (text.find("\n", pos) >= 0
                                 and (opened := _NEXT_OPENING.search(text, pos)) is not None):
        if opened.group(2)[0] == "`" and "`" in opened.group(3):
            pos, opened = opened.end(), None       # text with a code span, not a fence
            continue
        closed = _closing(opened.group(2)).search(text, opened.end())
        yield opened, closed
        if closed is None:
            return
        pos, opened = closed.end(), None


def _blocks(text: str) -> Iterator[tuple[str, str]]:
    for opened, closed in _fences(text):
        info = opened.group(3).split(None, 1)
        code = text[opened.end() + 1:len(text) if closed is None else closed.start()]
        indent = len(opened.group(1))
        if indent:
            code = re.sub(rf"^ {{1,{indent}}}", "", code, flags=re.M)
        yield (info[0] if info else ""), code


def code_blocks(markdown: str) -> list[tuple[str, str]]:
    """(language, code) of each fenced code block of `markdown`, in order ("" when no language is
    given). A fence left open at the end runs to the end, as CommonMark reads it."""
    return list(_blocks(markdown))


def first_code_block(text: str) -> tuple[str, str] | None:
    """(language, code) of the first fenced block, its trailing blank lines dropped (the code a
    new cell gets), or None."""
    for language, code in _blocks(text):
        return language, code.rstrip("\n")
    return None


def json_block(text: str) -> str | None:
    """The code of the first block marked `json` or not marked at all, or None."""
    for language, code in _blocks(text):
        if language.lower() in ("json", ""):
            return code
    return None


MAX_JSON_DEPTH = 100    # levels of nesting an answer's JSON may have: showing one recurses a level


class _TooDeep(ValueError):
    pass


def _loads(text: str) -> Any:
    """JSON `text`, refused (a ValueError) when nested deeper than MAX_JSON_DEPTH: the decoder and
    IPython's pretty printer recurse once a level or more, and a deep answer would end either
    with a RecursionError (the cell failed, or a traceback shown in place of the value)."""
    too_deep = _TooDeep(f"nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        value = json.loads(text)
    except RecursionError:
        raise too_deep from None
    if not _depth_within(value, MAX_JSON_DEPTH):
        raise too_deep
    return value


def _depth_within(value: Any, limit: int) -> bool:
    """Whether `value` nests at most `limit` lists and dicts deep (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth > limit:
                return False
            stack.extend((child, depth + 1)
                         for child in (item.values() if isinstance(item, dict) else item))
    return True


def parse_json_answer(text: str) -> Any:
    """The answer as JSON: the whole text, else its first ```json (or bare) fenced block.
    ValueError when neither is JSON, or it nests too deeply to show."""
    try:
        return _loads(text)
    except _TooDeep:
        raise
    except ValueError:
        pass
    block = json_block(text)
    if block is None:
        raise ValueError("no JSON text or ```json block")
    return _loads(block)


def open_fence(text: str) -> str | None:
    """The fence of the block `text` ends inside (what would close it), or None."""
    last = None
    for opened, closed in _fences(text):
        last = opened.group(2) if closed is None else None
    return last


def code_regions(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each fenced block and inline code span, in order: a fenced block from its
    opening line's start to its closing fence's end (or the text's end); a span from its opening
    run of backticks to the closing run of the same length (CommonMark's rules, simplified: a run
    never closed is literal)."""
    pos = 0
    for opened, closed in _fences(text):
        yield from _spans(text, pos, opened.start(1))
        pos = len(text) if closed is None else closed.end()
        yield opened.start(1), pos
    yield from _spans(text, pos, len(text))


def _spans(text: str, start: int, stop: int) -> Iterator[tuple[int, int]]:
    pos = start
    while (opening := _TICKS.search(text, pos, stop)) is not None:
        run = opening.group(0)
        closing = _TICKS.search(text, opening.end(), stop)
        while closing is not None and closing.group(0) != run:
            closing = _TICKS.search(text, closing.end(), stop)
        if closing is None:
            pos = opening.end()          # no closing run: these backticks are literal
        else:
            yield opening.start(), closing.end()
            pos = closing.end()


def has_link_definition(text: str) -> bool:
    """Whether a line of `text` may be a link reference definition, which can change links
    anywhere before it (so a text holding one is rendered whole, never in pieces)."""
    return bool(_LINK_DEFINITION.match(text) or _NEXT_LINK_DEFINITION.search(text))


def settled_upto(text: str, start: int = 0) -> int:
    """Where the finished blocks of `text` after `start` (0 or a cut) end; `start` when none has
    finished, or when a link reference definition may change links before it (keep it whole)."""
    if has_link_definition(text):
        return start
    return max(block_boundaries(text, start), default=start)     # the cuts only grow


def block_boundaries(text: str, pos: int = 0) -> Iterator[int]:
    """Where `text` may be cut between finished top-level blocks, after `pos` (0 or a cut): at a
    blank line outside a code fence followed by a line that starts a new top-level block (not
    indented, not a list item, so a loose list stays one list). The line need not be finished,
    only begun far enough to tell: a paragraph written on one long line settles the one before
    it as soon as it starts, not when it ends."""
    if text.find("\n", pos) < 0:
        return                           # one line, the one being written: nothing has finished
    for opened, closed in _fences(text, pos):
        yield from _cuts(text, pos, opened.start(1))
        if closed is None:
            return
        pos = closed.end() + 1
    yield from _cuts(text, pos, len(text))


def _cuts(text: str, pos: int, stop: int) -> Iterator[int]:
    """The cuts at line starts in (pos, stop], no fence between (a fence may open at `stop`)."""
    end = len(text)
    if pos >= end or text.find("\n", pos, stop) < 0:
        return
    if pos and text[pos - 1] == "\n":
        pos -= 1                         # a blank line right at `pos` is found by its newline
    elif (first := _LEADING_BLANK.match(text, pos, stop)) is not None and _begun(text, first.end()):
        yield first.end()
    for blank in _BLANK.finditer(text, pos, stop):
        if _begun(text, blank.end() + 1):
            yield blank.end() + 1


def _begun(text: str, line: int) -> bool:
    """Whether a new top-level block has begun at `line` (the start of a line after a blank one)."""
    if line >= len(text) or text[line] in "\r\n" or _LIST_OR_INDENT.match(text, line):
        return False
    # an unfinished line may still become a list item
    return text.find("\n", line) >= 0 or not _MAYBE_LIST.fullmatch(text, line)
