"""`{name}` in a prompt becomes the value of `name` in the user namespace.

Only a name, a dotted path of public attributes (`{df.columns}`) or `In[n]`/`Out[n]` is looked up;
no expression is evaluated. Anything else in braces (`{"a": 1}`, `{x for x in y}`, `{{`...`}}`, a name that does not
exist) is left exactly as written, so code pasted into a prompt survives.
"""
from __future__ import annotations

import re
import sys
from typing import Any, Mapping

__all__ = ["interpolate", "format_value", "frame_to_markdown"]

# `{{...}}` is matched first so that it is skipped whole; then a single `{...}` without braces inside.
_BRACES = re.compile(r"\{\{.*?\}\}|\{([^{}\n]*)\}", re.S)
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_HISTORY = re.compile(r"(In|Out)\[(-?\d+)\]")
_MISSING = object()


def interpolate(text: str, namespace: Mapping[str, Any], *, max_table_rows: int = 20,
                max_string_chars: int = 2000) -> str:
    """The prompt with every resolvable `{...}` replaced; unresolvable ones untouched."""

    def replace(m: re.Match[str]) -> str:
        inner = m.group(1)
        if inner is None:
            return m.group(0)
        value = _lookup(inner.strip(), namespace)
        if value is _MISSING:
            return m.group(0)
        return format_value(value, max_table_rows=max_table_rows,
                            max_string_chars=max_string_chars)

    return _BRACES.sub(replace, text)


def _lookup(expr: str, ns: Mapping[str, Any]) -> Any:
    hist = _HISTORY.fullmatch(expr)
    if hist:
        store = ns.get(hist.group(1))
        index = int(hist.group(2))
        try:
            return store[index] if store is not None else _MISSING
        except (IndexError, KeyError, TypeError):
            return _MISSING
    if not _DOTTED.fullmatch(expr):
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


def format_value(value: Any, *, max_table_rows: int = 20, max_string_chars: int = 2000) -> str:
    """How a value reads inside a prompt: frames as markdown tables, long text capped."""
    pd = sys.modules.get("pandas")   # a DataFrame exists only if pandas was imported
    if pd is not None:
        if isinstance(value, pd.Series):
            value = value.to_frame()
        if isinstance(value, pd.DataFrame):
            return frame_to_markdown(value, max_rows=max_table_rows,
                                     max_cell_chars=min(200, max_string_chars))
    text = value if isinstance(value, str) else str(value)
    return _cap(text, max_string_chars)


def _cap(text: str, limit: int) -> str:
    if limit <= 0 or len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters]"


def _cell(value: Any, limit: int) -> str:
    return _cap(str(value), limit).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def frame_to_markdown(df: Any, *, max_rows: int = 20, max_cell_chars: int = 200) -> str:
    """A compact markdown table of the first `max_rows` rows, saying how many were left out."""
    show_index = type(df.index).__name__ != "RangeIndex"
    head = df.head(max_rows) if max_rows > 0 else df.head(0)
    columns = ([str(df.index.name or "")] if show_index else []) + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(_cell(c, max_cell_chars) for c in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in head.itertuples(index=show_index, name=None):
        lines.append("| " + " | ".join(_cell(v, max_cell_chars) for v in row) + " |")
    omitted = len(df) - len(head)
    if omitted > 0:
        lines.append(f"({omitted} more rows omitted; {len(df)} rows x {len(df.columns)} columns "
                     "in all)")
    return "\n".join(lines)
