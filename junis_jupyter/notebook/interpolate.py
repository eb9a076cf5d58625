"""`{name}` in a prompt becomes the value of `name` in the user namespace; code is left alone.

The rules, in order:
- Inline code spans and fenced code blocks (`fences.code_regions`) are sent byte for byte:
  f-strings, dict comprehensions and JSON inside code survive whatever the namespace holds.
- Outside code, `{{` and `}}` are literal braces (as in `str.format` and IPython).
- `{name}`, `{obj.attr}` (public attributes), `In[n]` / `Out[n]` / `Err` / `Err[n]`, each optionally
  with a view (`{df:schema}`, `{df:head=10}`, see views.py), are looked up; written exactly so,
  with no spaces. No expression is evaluated.
- Anything else in braces (`{ x }`, `{"a": 1}`, `{x + 1}`, a name that does not exist) is left as
  written.

Every value is masked of keys, then capped (views.py); each cap is a cut the `cutter` keeps under
the name the prompt wrote (`{df}`, `{notes}`, `{Err}`), for the answer's footer and `--dry-run`.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ..data.cuts import Cutter
from .fences import code_regions
from .views import format_value, render_view

__all__ = ["interpolate"]

_BRACES = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}")
_FIELD = re.compile(r"(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*|(?:In|Out|Err)\[-?\d+\])"
                    r"(?::(?P<view>[A-Za-z_]\w*)(?:=(?P<arg>\d+))?)?")
_HISTORY = re.compile(r"(In|Out|Err)\[(-?\d+)\]")
_MISSING = object()


def interpolate(text: str, namespace: Mapping[str, Any], *, max_table_rows: int = 20,
                max_string_chars: int = 2000,
                errors: Callable[[int | None], str | None] | None = None,
                cutter: Cutter | None = None, max_prompt_chars: int | None = None) -> str:
    """The prompt with every resolvable `{...}` outside code replaced (see the module's rules).
    `errors(n)` gives the text of cell n's error (None: the last), for `{Err}` / `{Err[n]}`.
    `cutter` keeps every cut; a view of an asked-for size over `max_prompt_chars` is refused."""
    cutter = cutter if cutter is not None else Cutter()

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
        name = "{" + m.group(1) + "}"
        if view is None:
            return format_value(value, max_table_rows=max_table_rows,
                                max_string_chars=max_string_chars, name=name, cutter=cutter)
        arg = field.group("arg")
        return render_view(value, view, int(arg) if arg else None,
                           max_table_rows=max_table_rows, max_string_chars=max_string_chars,
                           name=name, cutter=cutter, max_prompt_chars=max_prompt_chars)

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
