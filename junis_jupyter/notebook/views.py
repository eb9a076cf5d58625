"""How a value reads inside a prompt: `{df}`, `{df:schema}`, `{df:head=5}`, `{arr}`, `{long_list}`.

A model reads text, so a DataFrame becomes a compact Markdown table, its schema, a seeded sample,
CSV or JSON records; and anything big is capped with a marker that says what was cut (`… 9,980
more rows`), so a prompt never silently ends mid-value. Samples are seeded: a re-run sends the
same rows, which the answer cache depends on.

The text is the same whichever pandas the kernel has (pandas 2 on Python 3.10, pandas 3 after;
the CI runs both): dtypes whose pandas name changed between them are named by kind (`datetime
(UTC)`, not `datetime64[ns, UTC]` or `[us, UTC]`; `str` for a column of text, which pandas 2 calls
`object`), and a missing value in a text column reads `nan`, as pandas 3 stores it.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from ..errors import ConfigurationError

__all__ = ["VIEWS", "dtype_name", "format_value", "frame_to_markdown", "render_view"]

_SAMPLE_SEED = 0


def _pandas() -> Any:
    return sys.modules.get("pandas")   # a DataFrame exists only if pandas was imported


def _cap(text: str, limit: int) -> str:
    if limit <= 0 or len(text) <= limit:
        return text
    return f"{text[:limit]}… {len(text) - limit:,} more characters"


def _cell(value: Any, limit: int) -> str:
    return _cap(str(value), limit).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _is_text(column: Any) -> bool:
    """A column of text: pandas 3's `str` dtype, or what pandas 2 makes of the same strings (an
    `object` column whose every value is a string or missing)."""
    pd = _pandas()
    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype):
        return _is_nan(getattr(dtype, "na_value", None))
    return (pd.api.types.is_object_dtype(dtype)
            and pd.api.types.infer_dtype(column, skipna=True) == "string")


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def dtype_name(column: Any) -> str:
    """The dtype the schema view gives a column: pandas' own name, except for the dtypes whose
    name differs between pandas 2 and 3 for the same data (datetimes and durations carry their
    unit, `ns` in 2 and often `us` in 3; text is `object` in 2 and `str` in 3). Those are named by
    kind, so a prompt, and the answer cache's key, do not change with the kernel's pandas."""
    pd = _pandas()
    dtype = column.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return f"datetime ({dtype.tz})"
    if isinstance(dtype, sys.modules["numpy"].dtype) and dtype.kind in "Mm":   # not pyarrow's
        return "datetime" if dtype.kind == "M" else "timedelta"
    if _is_text(column):
        return "str"
    return str(dtype)


def frame_to_markdown(df: Any, *, max_rows: int = 20, max_cell_chars: int = 200) -> str:
    """A compact markdown table of the first `max_rows` rows, saying how many were left out."""
    show_index = type(df.index).__name__ != "RangeIndex"
    head = df.head(max_rows) if max_rows > 0 else df.head(0)
    columns = ([str(df.index.name or "")] if show_index else []) + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(_cell(c, max_cell_chars) for c in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    # pandas 2 keeps None in a column of text where pandas 3 stores NaN: both read `nan`
    text = ([False] if show_index else []) + [_is_text(df.iloc[:, i])
                                              for i in range(len(df.columns))]
    pd = _pandas()
    for row in head.itertuples(index=show_index, name=None):
        cells = (float("nan") if is_text and pd.isna(v) else v
                 for v, is_text in zip(row, text, strict=True))
        lines.append("| " + " | ".join(_cell(v, max_cell_chars) for v in cells) + " |")
    omitted = len(df) - len(head)
    if omitted > 0:
        lines.append(f"({omitted} more rows omitted; {len(df)} rows x {len(df.columns)} columns "
                     "in all)")
    return "\n".join(lines)


def _more(count: int, what: str) -> str:
    return f"… {count:,} more {what}"


def _sequence(value: Any, limit: int, string_chars: int) -> str:
    items = list(value)
    shown = items[:limit] if limit > 0 else []
    body = ", ".join(_cap(repr(v), string_chars) for v in shown)
    opening, closing = ("(", ")") if isinstance(value, tuple) else ("[", "]")
    if len(items) > len(shown):
        body = f"{body}, {_more(len(items) - len(shown), 'items')}" if body else \
            _more(len(items), "items")
    return f"{opening}{body}{closing}"


def _mapping(value: dict, limit: int, string_chars: int) -> str:
    pairs = list(value.items())
    shown = pairs[:limit] if limit > 0 else []
    body = ", ".join(f"{_cap(repr(k), string_chars)}: {_cap(repr(v), string_chars)}"
                     for k, v in shown)
    if len(pairs) > len(shown):
        body = f"{body}, {_more(len(pairs) - len(shown), 'items')}" if body else \
            _more(len(pairs), "items")
    return "{" + body + "}"


def _array(value: Any, limit: int) -> str:
    shape = "x".join(str(n) for n in value.shape) or "scalar"
    head = value[:limit] if value.ndim else value
    text = repr(head.tolist()) if value.ndim else repr(value.item())
    cut = value.ndim and value.shape[0] > limit
    note = f"; {_more(value.shape[0] - limit, 'rows')}" if cut else ""
    return f"array of {shape} {value.dtype}: {text}{note}"


def format_value(value: Any, *, max_table_rows: int = 20, max_string_chars: int = 2000) -> str:
    """The default view: frames as markdown tables, containers and text capped with a marker."""
    pd = _pandas()
    if pd is not None:
        if isinstance(value, pd.Series):
            value = value.to_frame()
        if isinstance(value, pd.DataFrame):
            return frame_to_markdown(value, max_rows=max_table_rows,
                                     max_cell_chars=min(200, max_string_chars))
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray):
        return _cap(_array(value, max_table_rows), max_string_chars)
    if isinstance(value, (list, tuple)) and len(value) > max_table_rows:
        return _sequence(value, max_table_rows, min(200, max_string_chars))
    if isinstance(value, dict) and len(value) > max_table_rows:
        return _mapping(value, max_table_rows, min(200, max_string_chars))
    text = value if isinstance(value, str) else str(value)
    return _cap(text, max_string_chars)


# -- the DataFrame views --------------------------------------------------------------------

def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    pd = _pandas()
    if isinstance(value, pd.Timedelta):
        # to the millisecond: pandas 2 computes a duration's stats in ns, pandas 3 often in us
        return str(value.round("ms"))
    return str(value)


def _schema(df: Any, arg: int | None, rows: int, chars: int) -> str:
    pd = _pandas()
    lines = [f"DataFrame: {len(df):,} rows x {len(df.columns):,} columns",
             "| column | dtype | nulls |", "|---|---|---|"]
    nulls = df.isna().sum()
    for i, column in enumerate(df.columns):   # by position: a name may be there twice
        lines.append(f"| {_cell(column, chars)} | {dtype_name(df.iloc[:, i])} | "
                     f"{int(nulls.iloc[i]):,} |")
    described = df.select_dtypes(include=["number", "category"])
    described = described.loc[:, [c for c in described.columns
                                  if not pd.api.types.is_bool_dtype(described[c])]]
    if len(described.columns) and len(df):
        stats = described.describe(include="all").T
        stats = stats.loc[:, [c for c in stats.columns if stats[c].notna().any()]]
        lines.append("")
        lines.append("describe():")
        lines.append("| column | " + " | ".join(str(c) for c in stats.columns) + " |")
        lines.append("|---|" + "---|" * len(stats.columns))
        for name, row in stats.iterrows():
            cells = ["" if pd.isna(v) else _cell(_number(v), chars) for v in row]
            lines.append(f"| {_cell(name, chars)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _head(df: Any, arg: int | None, rows: int, chars: int) -> str:
    n = 5 if arg is None else arg
    return frame_to_markdown(df, max_rows=n, max_cell_chars=chars)


def _sample(df: Any, arg: int | None, rows: int, chars: int) -> str:
    n = min(5 if arg is None else arg, len(df))
    picked = df.sample(n=n, random_state=_SAMPLE_SEED)
    text = frame_to_markdown(picked, max_rows=n, max_cell_chars=chars)
    return f"{text}\n({n} of {len(df):,} rows, sampled with seed {_SAMPLE_SEED})"


def _limit(arg: int | None, rows: int) -> int:
    return rows if arg is None else arg


def _csv(df: Any, arg: int | None, rows: int, chars: int) -> str:
    n = _limit(arg, rows)
    text = df.head(n).to_csv(index=type(df.index).__name__ != "RangeIndex").rstrip("\n")
    return f"{text}\n{_more(len(df) - n, 'rows')}" if len(df) > n else text


def _durations_in_ns(df: Any) -> Any:
    """`df` with its durations in ns: pandas 2's to_json reads a timedelta64 of any unit as ns
    (1.5 s of a `timedelta64[us]` column, pandas 3's usual unit, is written as 0.0015 s). A
    duration too long for ns (292 years) is sent as its ISO text instead."""
    pd = _pandas()
    np = sys.modules["numpy"]
    ns = np.dtype("m8[ns]")
    others = [i for i, dtype in enumerate(df.dtypes)
              if isinstance(dtype, np.dtype) and dtype.kind == "m" and dtype != ns]
    if not others:
        return df
    df = df.copy()
    for i in others:
        column = df.iloc[:, i]
        try:
            column = column.astype(ns)
        except (OverflowError, ValueError):   # pandas' OutOfBoundsTimedelta is a ValueError
            column = column.map(lambda v: None if pd.isna(v) else v.isoformat())
        df.isetitem(i, column)
    return df


def _json(df: Any, arg: int | None, rows: int, chars: int) -> str:
    n = _limit(arg, rows)
    # default_handler: what JSON has no type for (a Period, an object) is sent as its str();
    # without it to_json raises, OverflowError in pandas 2 and ValueError in pandas 3
    text = _durations_in_ns(df.head(n)).to_json(orient="records", date_format="iso",
                                                force_ascii=False, default_handler=str)
    return f"{text}\n{_more(len(df) - n, 'rows')}" if len(df) > n else text


VIEWS: dict[str, Callable[[Any, int | None, int, int], str]] = {
    "schema": _schema, "head": _head, "sample": _sample, "csv": _csv, "json": _json,
}


def render_view(value: Any, view: str, arg: int | None, *, max_table_rows: int = 20,
                max_string_chars: int = 2000) -> str:
    """`{name:view}` / `{name:view=N}` for a DataFrame or Series; one clear error otherwise."""
    if view not in VIEWS:
        raise ConfigurationError(
            f"unknown view {view!r}: the views are {', '.join(VIEWS)} (e.g. {{df:schema}}, "
            "{df:head=10}), or none for the default table.")
    pd = _pandas()
    if pd is not None and isinstance(value, pd.Series):
        value = value.to_frame()
    if pd is None or not isinstance(value, pd.DataFrame):
        raise ConfigurationError(
            f"the view {view!r} is for DataFrames and Series, not {type(value).__name__}.")
    text = VIEWS[view](value, arg, max_table_rows, min(200, max_string_chars))
    return _cap(text, max(max_string_chars, 20_000))
