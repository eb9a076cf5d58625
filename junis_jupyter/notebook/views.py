"""How a value reads inside a prompt: `{df}`, `{df:schema}`, `{df:head=5}`, `{arr}`, `{long_list}`.

A model reads text, so a DataFrame becomes a compact Markdown table, its schema, a seeded sample,
CSV or JSON records; and anything big is capped with a marker that says what was cut (`… 9,980
more rows`), so a prompt never silently ends mid-value, and recorded as a cut (`data/cuts.py`),
so the answer's footer names it (`{df}: 20 of 3,500 rows`). Every piece of text is masked of keys
before it is cut. An explicit size (`{df:csv=3500}`, `head=`, `sample=`, `json=`) is sent whole,
up to the prompt cap, or refused naming the cap. Samples are seeded: a re-run sends the same
rows, which the answer cache depends on.

The text is the same whichever pandas the kernel has (pandas 2 on Python 3.10, pandas 3 after;
the CI runs both): dtypes whose pandas name changed between them are named by kind (`datetime
(UTC)`, not `datetime64[ns, UTC]` or `[us, UTC]`; `str` for a column of text, which pandas 2 calls
`object`), and a missing value in a text column reads `nan`, as pandas 3 stores it.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..data.cuts import Cutter, Tally
from ..errors import ConfigurationError

__all__ = ["VIEWS", "SIZED", "dtype_name", "format_value", "frame_to_markdown", "render_view"]

_SAMPLE_SEED = 0
VIEW_CAP = 20_000       # characters of a view's text, unless its size was asked for
SIZED = ("head", "sample", "csv", "json")   # the views whose `=N` asks for N rows


def _pandas() -> Any:
    return sys.modules.get("pandas")   # a DataFrame exists only if pandas was imported


def _cell(cutter: Cutter, tally: Tally, value: Any) -> str:
    return cutter.part(tally, str(value)).replace("|", "\\|").replace("\r", " ") \
        .replace("\n", " ")


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


def frame_to_markdown(df: Any, *, max_rows: int = 20, max_cell_chars: int = 200,
                      name: str = "{df}", cutter: Cutter | None = None) -> str:
    """A compact markdown table of the first `max_rows` rows, saying how many were left out
    (and `cutter`, if given, recording the rows and the cells cut under `name`)."""
    cutter = cutter if cutter is not None else Cutter()
    cells = cutter.parts("cell", max_cell_chars)
    show_index = type(df.index).__name__ != "RangeIndex"
    head = df.head(max_rows) if max_rows > 0 else df.head(0)
    columns = ([str(df.index.name or "")] if show_index else []) + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(_cell(cutter, cells, c) for c in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    # pandas 2 keeps None in a column of text where pandas 3 stores NaN: both read `nan`. Only a
    # column with a missing value among the rows shown is asked (asking reads the whole column).
    missing = head.isna().any().to_numpy()
    text = ([False] if show_index else []) + [bool(missing[i]) and _is_text(df.iloc[:, i])
                                              for i in range(len(df.columns))]
    pd = _pandas()
    for row in head.itertuples(index=show_index, name=None):
        values = (float("nan") if is_text and pd.isna(v) else v
                  for v, is_text in zip(row, text, strict=True))
        lines.append("| " + " | ".join(_cell(cutter, cells, v) for v in values) + " |")
    omitted = len(df) - len(head)
    if omitted > 0:
        lines.append(f"({omitted} more rows omitted; {len(df)} rows x {len(df.columns)} columns "
                     "in all)")
    cutter.rows(name, len(head), len(df))
    cutter.close(name, cells)
    return "\n".join(lines)


def _more(count: int, what: str) -> str:
    return f"… {count:,} more {what}"


def _sequence(value: Any, limit: int, string_chars: int, name: str, cutter: Cutter) -> str:
    items = list(value)
    shown = items[:limit] if limit > 0 else []
    parts = cutter.parts("item", string_chars)
    body = ", ".join(cutter.part(parts, repr(v)) for v in shown)
    opening, closing = ("(", ")") if isinstance(value, tuple) else ("[", "]")
    if len(items) > len(shown):
        body = f"{body}, {_more(len(items) - len(shown), 'items')}" if body else \
            _more(len(items), "items")
    cutter.rows(name, len(shown), len(items), "items")
    cutter.close(name, parts)
    return f"{opening}{body}{closing}"


def _mapping(value: dict, limit: int, string_chars: int, name: str, cutter: Cutter) -> str:
    pairs = list(value.items())
    shown = pairs[:limit] if limit > 0 else []
    parts = cutter.parts("key or value", string_chars)
    body = ", ".join(f"{cutter.part(parts, repr(k))}: {cutter.part(parts, repr(v))}"
                     for k, v in shown)
    if len(pairs) > len(shown):
        body = f"{body}, {_more(len(pairs) - len(shown), 'items')}" if body else \
            _more(len(pairs), "items")
    cutter.rows(name, len(shown), len(pairs), "items")
    cutter.close(name, parts)
    return "{" + body + "}"


def _array(value: Any, limit: int, name: str, cutter: Cutter) -> str:
    shape = "x".join(str(n) for n in value.shape) or "scalar"
    head = value[:limit] if value.ndim else value
    text = repr(head.tolist()) if value.ndim else repr(value.item())
    cut = value.ndim and value.shape[0] > limit
    note = f"; {_more(value.shape[0] - limit, 'rows')}" if cut else ""
    if cut:
        cutter.rows(name, limit, value.shape[0])
    return f"array of {shape} {value.dtype}: {text}{note}"


def format_value(value: Any, *, max_table_rows: int = 20, max_string_chars: int = 2000,
                 name: str = "{value}", cutter: Cutter | None = None) -> str:
    """The default view: frames as markdown tables, containers and text capped with a marker;
    every cut recorded in `cutter` under `name` (how the prompt wrote the value)."""
    cutter = cutter if cutter is not None else Cutter()
    pd = _pandas()
    if pd is not None:
        if isinstance(value, pd.Series):
            value = value.to_frame()
        if isinstance(value, pd.DataFrame):
            return frame_to_markdown(value, max_rows=max_table_rows,
                                     max_cell_chars=min(200, max_string_chars), name=name,
                                     cutter=cutter)
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray):
        return cutter.text(name, _array(value, max_table_rows, name, cutter), max_string_chars)
    if isinstance(value, (list, tuple)) and len(value) > max_table_rows:
        return _sequence(value, max_table_rows, min(200, max_string_chars), name, cutter)
    if isinstance(value, dict) and len(value) > max_table_rows:
        return _mapping(value, max_table_rows, min(200, max_string_chars), name, cutter)
    text = value if isinstance(value, str) else str(value)
    return cutter.text(name, text, max_string_chars)


# -- the DataFrame views --------------------------------------------------------------------

@dataclass(frozen=True)
class _Asked:
    """What a view is asked for: `arg` (the `=N`, None when not given), the magic's limits, how
    the prompt named it and where its cuts go."""
    arg: int | None
    rows: int           # max_table_rows
    chars: int          # the characters of a cell
    name: str
    cutter: Cutter


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    pd = _pandas()
    if isinstance(value, pd.Timedelta):
        # to the millisecond: pandas 2 computes a duration's stats in ns, pandas 3 often in us
        return str(value.round("ms"))
    return str(value)


def _schema(df: Any, asked: _Asked) -> str:
    pd = _pandas()
    cutter, names = asked.cutter, asked.cutter.parts("cell", asked.chars)
    lines = [f"DataFrame: {len(df):,} rows x {len(df.columns):,} columns",
             "| column | dtype | nulls |", "|---|---|---|"]
    nulls = df.isna().sum()
    for i, column in enumerate(df.columns):   # by position: a name may be there twice
        lines.append(f"| {_cell(cutter, names, column)} | {dtype_name(df.iloc[:, i])} | "
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
            cells = ["" if pd.isna(v) else _cell(cutter, names, _number(v)) for v in row]
            lines.append(f"| {_cell(cutter, names, name)} | " + " | ".join(cells) + " |")
    cutter.close(asked.name, names)
    return "\n".join(lines)


def _head(df: Any, asked: _Asked) -> str:
    n = 5 if asked.arg is None else asked.arg
    return frame_to_markdown(df, max_rows=n, max_cell_chars=asked.chars, name=asked.name,
                             cutter=asked.cutter)


def _sample(df: Any, asked: _Asked) -> str:
    n = min(5 if asked.arg is None else asked.arg, len(df))
    picked = df.sample(n=n, random_state=_SAMPLE_SEED)
    text = frame_to_markdown(picked, max_rows=n, max_cell_chars=asked.chars, name=asked.name,
                             cutter=asked.cutter)
    asked.cutter.rows(asked.name, n, len(df), "rows, sampled")
    return f"{text}\n({n} of {len(df):,} rows, sampled with seed {_SAMPLE_SEED})"


def _limit(df: Any, asked: _Asked) -> int:
    """The rows a view of the first rows sends: `=N`, else the magic's table rows."""
    n = asked.rows if asked.arg is None else asked.arg
    asked.cutter.rows(asked.name, max(n, 0), len(df))
    return n


def _csv(df: Any, asked: _Asked) -> str:
    n = _limit(df, asked)
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


def _json(df: Any, asked: _Asked) -> str:
    n = _limit(df, asked)
    # default_handler: what JSON has no type for (a Period, an object) is sent as its str();
    # without it to_json raises, OverflowError in pandas 2 and ValueError in pandas 3
    text = _durations_in_ns(df.head(n)).to_json(orient="records", date_format="iso",
                                                force_ascii=False, default_handler=str)
    return f"{text}\n{_more(len(df) - n, 'rows')}" if len(df) > n else text


VIEWS: dict[str, Callable[[Any, _Asked], str]] = {
    "schema": _schema, "head": _head, "sample": _sample, "csv": _csv, "json": _json,
}

PROMPT_SETTING = "JunisMagics.max_prompt_chars"


def render_view(value: Any, view: str, arg: int | None, *, max_table_rows: int = 20,
                max_string_chars: int = 2000, name: str | None = None,
                cutter: Cutter | None = None, max_prompt_chars: int | None = None) -> str:
    """`{name:view}` / `{name:view=N}` for a DataFrame or Series; one clear error otherwise.

    A view's text is capped at VIEW_CAP characters (a cut), unless its size was asked for
    (`=N` of a SIZED view): then it goes whole, or, over `max_prompt_chars`, is refused in one
    line naming the cap and how to raise it."""
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
    cutter = cutter if cutter is not None else Cutter()
    name = name or f"{{{view}}}"
    text = VIEWS[view](value, _Asked(arg, max_table_rows, min(200, max_string_chars), name,
                                     cutter))
    if arg is None or view not in SIZED:
        return cutter.text(name, text, max(max_string_chars, VIEW_CAP))
    text = cutter.mask(text)
    if max_prompt_chars is not None and len(text) > max_prompt_chars:
        raise ConfigurationError(
            f"{name} is {len(text):,} characters, over the prompt cap of {max_prompt_chars:,} "
            f"({PROMPT_SETTING}): nothing was sent. Ask for fewer rows, or raise the cap: "
            f"%config {PROMPT_SETTING} = {_above(len(text))}")
    return text


def _above(size: int) -> int:
    """A round cap with room for `size` characters and the rest of a prompt."""
    return int(math.ceil((size + 2_000) / 10_000) * 10_000)
