"""The frames' schemas: one fixed set of columns and dtypes per frame, whether empty or full.

Every frame is built here, column by column, from arrays of its schema's dtypes, so an empty frame
has the same columns and dtypes as a full one and code written against one works on the other.
The dtypes (UTC nanosecond datetimes, nullable Int64/Float64, boolean, category, string) map one
to one onto Arrow types, so Parquet files read in DuckDB or Polars without conversion.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SCHEMAS", "build", "empty", "strings", "times"]

STRING = pd.StringDtype()
UTC = pd.DatetimeTZDtype("ns", "UTC")
INT = pd.Int64Dtype()
FLOAT = pd.Float64Dtype()
BOOL = pd.BooleanDtype()
DAY = np.dtype("datetime64[ns]")    # a UTC calendar day, shown as a date (2026-03-01)
# Known values first, in a fixed order, so the dtype is the same in every frame; a value the API
# adds later is appended rather than lost.
AGENT_TYPES = ("ORCHESTRATOR", "LLM_AGENT", "SEQUENTIAL_AGENT", "PARALLEL_AGENT", "LOOP_AGENT")
ROLES = ("system", "user", "assistant", "tool")

SCHEMAS: dict[str, dict[str, Any]] = {
    "agents": {
        "id": STRING, "name": STRING, "description": STRING,
        "agent_type": pd.CategoricalDtype(AGENT_TYPES), "is_active": BOOL, "model": STRING,
        "created_at": UTC,
        "invocable": BOOL,      # what `--agent` / `agent=` accepts: an LLM agent
    },
    "sessions": {   # the service's listing, and what this machine knows of each (sessions.py)
        "session_id": STRING, "title": STRING, "origin": STRING, "notebook": STRING,
        "cell_id": STRING, "created_at": UTC, "last_update_time": UTC, "is_active": BOOL,
        "message_count": INT, "total_tokens": INT, "credits": INT,
    },
    "messages": {
        "session_id": STRING, "position": INT, "message_id": STRING,
        "role": pd.CategoricalDtype(ROLES), "content": STRING, "created_at": UTC,
        "agent_name": STRING, "prompt_tokens": INT, "completion_tokens": INT, "total_tokens": INT,
    },
    "batch": {    # ask_many / df.junis.ask
        "input": STRING, "answer": STRING, "session_id": STRING, "tokens": INT,
        "latency": FLOAT, "error": STRING,
    },
    "usage": {
        "started_at": UTC, "endpoint": STRING, "agent": STRING, "session_id": STRING,
        "stream": BOOL, "status": INT, "error_code": STRING, "prompt_tokens": INT,
        "completion_tokens": INT, "total_tokens": INT, "credits": INT, "latency_s": FLOAT,
        "first_token_s": FLOAT, "request_id": STRING, "origin": STRING, "notebook": STRING,
        "cell_id": STRING,
    },
    "usage_summary": {   # `%junis usage`: chat calls by agent and UTC day (usage_report.py)
        "agent": STRING, "day": DAY, "calls": INT, "failed": INT, "total_tokens": INT,
        "credits": INT, "p50_latency_s": FLOAT, "p95_latency_s": FLOAT,
    },
    "log": {   # the transcript log (transcript.py), what a reader looks at first leftmost
        "at": UTC, "origin": STRING, "agent": STRING, "prompt": STRING, "answer": STRING,
        "total_tokens": INT, "credits": INT, "cached": BOOL, "error": STRING,
        "notebook": STRING, "cell_id": STRING, "session_id": STRING, "message_id": STRING,
        "model": STRING, "cache_key": STRING, "prompt_tokens": INT, "completion_tokens": INT,
        "latency_s": FLOAT,
    },
    "session_agents": {   # who took part in a session (`%junis history ID --agents`)
        "session_id": STRING, "agent": STRING, "answers": INT, "prompt_tokens": INT,
        "completion_tokens": INT, "total_tokens": INT, "credits": INT, "first_at": UTC,
        "last_at": UTC,
    },
    "provenance": {   # the answers of a saved notebook and where each came from (provenance.py)
        "cell": INT, "cell_id": STRING, "execution_count": INT, "answered_at": UTC,
        "session_id": STRING, "message_id": STRING, "agent": STRING, "model": STRING,
        "cache_key": STRING, "cached": BOOL, "version": STRING, "answer": STRING,
    },
}


def build(kind: str, columns: Mapping[str, Any], index: Any = None) -> pd.DataFrame:
    """The frame of `kind` from one sequence per column (missing columns: all NA)."""
    schema = SCHEMAS[kind]
    n = len(next(iter(columns.values()))) if columns else 0
    data = {name: _convert(columns[name] if name in columns else [None] * n, dtype)
            for name, dtype in schema.items()}
    return pd.DataFrame(data, index=index if index is not None else pd.RangeIndex(n), copy=False)


def empty(kind: str) -> pd.DataFrame:
    """The empty frame of `kind` (a name in SCHEMAS: "agents", "sessions", "log", ...)."""
    return build(kind, {name: [] for name in SCHEMAS[kind]})


# --- one column to its dtype ------------------------------------------------------------------

def _convert(values: Any, dtype: Any) -> Any:
    if isinstance(values, pd.api.extensions.ExtensionArray) and values.dtype == dtype:
        return values
    if dtype is UTC:
        return times(values)
    if dtype is DAY:
        return pd.to_datetime(values).as_unit("ns").array
    if isinstance(dtype, pd.CategoricalDtype):
        return _categorical(values, dtype)
    if dtype is STRING:
        return strings(values)
    return pd.array(values, dtype=dtype)


def times(values: Sequence[Any]) -> Any:
    """ISO 8601 strings or datetimes (None allowed) to a UTC nanosecond array, in C."""
    return pd.to_datetime(values, format="ISO8601", utc=True).as_unit("ns").array


def _categorical(values: Sequence[str | None], dtype: pd.CategoricalDtype) -> Any:
    """Codes through a dict lookup (fast for few distinct values); unknown values are appended."""
    categories = list(dtype.categories)
    lookup: dict[Any, int] = {None: -1, **{c: i for i, c in enumerate(categories)}}
    try:
        codes = np.fromiter(map(lookup.__getitem__, values), np.int16, len(values))
    except KeyError:
        categories += sorted({v for v in values if v is not None and v not in lookup})
        return _categorical(values, pd.CategoricalDtype(categories))
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories))


def strings(values: Sequence[str | None]) -> Any:
    """A string array; through Arrow directly when that is the storage (about 3x faster)."""
    if STRING.storage == "pyarrow":
        import pyarrow as pa
        try:
            return pd.array(pa.array(values, type=pa.large_string()), dtype=STRING)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass   # not all str: let pandas convert or refuse with its own message
    return pd.array(values, dtype=STRING)
