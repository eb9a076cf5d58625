"""`{name}` in a prompt becomes the value of `name` in the user namespace; code is left alone.

The rules, in order:
- Inline code spans and fenced code blocks are sent byte for byte: f-strings, dict
  comprehensions and JSON inside code survive whatever the namespace holds.
- Outside code, `{{` and `}}` are literal braces (as in `str.format` and IPython).
- `{name}`, `{obj.attr}` (public attributes), `In[n]` / `Out[n]` / `Err` / `Err[n]`, each optionally
  with a view (`{df:schema}`, `{df:head=10}`, see views.py), are looked up; written exactly so,
  with no spaces. No expression is evaluated.
- Anything else in braces (`{ x }`, `{"a": 1}`, `{x + 1}`, a name that does not exist) is left as
  written.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterator, Mapping

from .views import format_value, render_view

__all__ = ["interpolate", "code_regions"]

_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.M)
_TICKS = re.compile(r"`+")
_BRACES = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}")
_FIELD = re.compile(r"(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*|(?:In|Out|Err)\[-?\d+\])"
                    r"(?::(?P<view>[A-Za-z_]\w*)(?:=(?P<arg>\d+))?)?")
_HISTORY = re.compile(r"(In|Out|Err)\[(-?\d+)\]")
_MISSING = object()


def code_regions(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each fenced block and inline code span, in order (CommonMark's rules,
    simplified: a fence runs to its closing fence or the end; a span needs a closing run of the
    same number of backticks)."""
    pos = 0
    end = len(text)
    while pos < end:
        fence = _FENCE_OPEN.search(text, pos)
        stop = fence.start() if fence else end
        yield from _spans(text, pos, stop)
        if fence is None:
            return
        marker = fence.group(1)
        closing = re.compile(r"^ {0,3}" + re.escape(marker[0]) + "{" + str(len(marker)) +
                             r",}[ \t]*$", re.M)
        line_end = text.find("\n", fence.end())
        after = end if line_end < 0 else line_end + 1
        close = closing.search(text, after)
        block_end = end if close is None else close.end()
        yield fence.start(), block_end
        pos = block_end


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


def interpolate(text: str, namespace: Mapping[str, Any], *, max_table_rows: int = 20,
                max_string_chars: int = 2000,
                errors: Callable[[int | None], str | None] | None = None) -> str:
    """The prompt with every resolvable `{...}` outside code replaced (see the module's rules).
    `errors(n)` gives the text of cell n's error (None: the last), for `{Err}` / `{Err[n]}`."""

    def replace(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        field = _FIELD.fullmatch(m.group(1))
        if field is None:
            return token
        value = _lookup(field.group("name"), namespace, errors)
        if value is _MISSING:
            return token
        view = field.group("view")
        if view is None:
            return format_value(value, max_table_rows=max_table_rows,
                                max_string_chars=max_string_chars)
        arg = field.group("arg")
        return render_view(value, view, int(arg) if arg else None,
                           max_table_rows=max_table_rows, max_string_chars=max_string_chars)

    out: list[str] = []
    pos = 0
    for start, end in code_regions(text):
        out.append(_BRACES.sub(replace, text[pos:start]))
        out.append(text[start:end])
        pos = end
    out.append(_BRACES.sub(replace, text[pos:]))
    return "".join(out)


def _lookup(expr: str, ns: Mapping[str, Any],
            errors: Callable[[int | None], str | None] | None) -> Any:
    if expr == "Err":
        found = errors(None) if errors else None
        return _MISSING if found is None else found
    hist = _HISTORY.fullmatch(expr)
    if hist:
        index = int(hist.group(2))
        if hist.group(1) == "Err":
            found = errors(index) if errors else None
            return _MISSING if found is None else found
        store = ns.get(hist.group(1))
        try:
            return store[index] if store is not None else _MISSING
        except (IndexError, KeyError, TypeError):
            return _MISSING
    head, *attrs = expr.split(".")
    value = ns.get(head, _MISSING)
    for attr in attrs:
        if value is _MISSING or attr.startswith("_"):
            return _MISSING
        try:
            value = getattr(value, attr)
        except Exception:  # a property that raises is just "not resolvable"
            return _MISSING
    return value
