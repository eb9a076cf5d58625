"""Agents, sessions, messages and usage as pandas DataFrames, one fixed schema per frame.

Every frame is built column by column from arrays of its schema's dtypes, so an empty frame has the
same columns and dtypes as a full one, and code written against one works on the other. The dtypes
(UTC nanosecond datetimes, nullable Int64/Float64, boolean, category, string) map one to one onto
Arrow types, so Parquet files written with `to_parquet` read in DuckDB or Polars without conversion.
"""
from __future__ import annotations

import inspect
import operator
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime
from itertools import compress, repeat
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..client.sync import JunisClient
    from ..client.types import Message

__all__ = ["SCHEMAS", "build", "agents", "sessions", "messages", "messages_from_records",
           "messages_from_objects", "usage",
           "to_parquet", "empty"]

STRING = pd.StringDtype()
UTC = pd.DatetimeTZDtype("ns", "UTC")
INT = pd.Int64Dtype()
FLOAT = pd.Float64Dtype()
BOOL = pd.BooleanDtype()
# Known values first, in a fixed order, so the dtype is the same in every frame; a value the API
# adds later is appended rather than lost.
AGENT_TYPES = ("ORCHESTRATOR", "LLM_AGENT", "SEQUENTIAL_AGENT", "PARALLEL_AGENT", "LOOP_AGENT")
ROLES = ("system", "user", "assistant", "tool")

SCHEMAS: dict[str, dict[str, Any]] = {
    "agents": {
        "id": STRING, "name": STRING, "description": STRING,
        "agent_type": pd.CategoricalDtype(AGENT_TYPES), "is_active": BOOL, "model": STRING,
        "created_at": UTC,
    },
    "sessions": {
        "session_id": STRING, "created_at": UTC, "last_update_time": UTC, "is_active": BOOL,
        "message_count": INT,
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
        "completion_tokens": INT, "total_tokens": INT, "latency_s": FLOAT,
        "first_token_s": FLOAT, "request_id": STRING,
    },
}

_PROGRESS_OVER = 5   # more requests than this get a progress bar


# --- column conversion ------------------------------------------------------------------------

def _times(values: Sequence[Any]) -> Any:
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


def _convert(values: Any, dtype: Any) -> Any:
    if isinstance(values, pd.api.extensions.ExtensionArray) and values.dtype == dtype:
        return values
    if dtype is UTC:
        return _times(values)
    if isinstance(dtype, pd.CategoricalDtype):
        return _categorical(values, dtype)
    if dtype is STRING:
        return _strings(values)
    return pd.array(values, dtype=dtype)


def _strings(values: Sequence[str | None]) -> Any:
    """A string array; through Arrow directly when that is the storage (about 3x faster)."""
    if STRING.storage == "pyarrow":
        import pyarrow as pa
        try:
            return pd.array(pa.array(values, type=pa.large_string()), dtype=STRING)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass   # not all str: let pandas convert or refuse with its own message
    return pd.array(values, dtype=STRING)


def build(kind: str, columns: Mapping[str, Any], index: Any = None) -> pd.DataFrame:
    """The frame of `kind` from one sequence per column (missing columns: all NA)."""
    schema = SCHEMAS[kind]
    n = len(next(iter(columns.values()))) if columns else 0
    data = {name: _convert(columns[name] if name in columns else [None] * n, dtype)
            for name, dtype in schema.items()}
    return pd.DataFrame(data, index=index if index is not None else pd.RangeIndex(n), copy=False)


def empty(kind: str) -> pd.DataFrame:
    """The empty frame of `kind` ("agents", "sessions", "messages", "usage")."""
    return build(kind, {name: [] for name in SCHEMAS[kind]})


@contextmanager
def sync_client(client: Any, user: str = "frames") -> Iterator[JunisClient]:
    """The client given, or one made from the environment and closed afterwards (shared with
    `ask_many`). An AsyncJunisClient, or anything else that is not a JunisClient, is refused."""
    if client is None:
        from ..client.sync import JunisClient
        with JunisClient() as own:
            yield own
        return
    if not hasattr(client, "resolve_agent") or \
            inspect.iscoroutinefunction(getattr(client, "chat", None)):
        raise TypeError(f"{user} needs a JunisClient (sync); an AsyncJunisClient was given.")
    yield client


def _columns(objects: Sequence[Any], fields: Iterable[str]) -> dict[str, list[Any]]:
    return {f: list(map(attrgetter(f), objects)) for f in fields}


# --- frames from the API ----------------------------------------------------------------------

def agents(client: JunisClient | None = None) -> pd.DataFrame:
    """The organisation's agents (GET /agents)."""
    with sync_client(client) as c:
        found = c.agents()
    return build("agents", _columns(found, SCHEMAS["agents"]))


def sessions(client: JunisClient | None = None) -> pd.DataFrame:
    """Every session of the key, all pages, newest activity first."""
    with sync_client(client) as c:
        found = c.sessions(page_size=100)
    return build("sessions", _columns(found, SCHEMAS["sessions"]))


def messages(client: JunisClient | None = None, session_ids: Iterable[str] | str | None = None,
             *, concurrency: int = 5, progress: bool | None = None) -> pd.DataFrame:
    """Messages of the given sessions (default: all sessions), in session order then position.

    Sessions are fetched `concurrency` at a time: the Basic plan allows 5 requests in flight,
    Pro 20. A progress bar shows when there are more than a handful of sessions (`progress`
    forces it on or off).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1.")
    with sync_client(client) as c:
        if session_ids is None:
            ids = [s.session_id for s in c.sessions(page_size=100)]
        elif isinstance(session_ids, str):
            ids = [session_ids]
        else:
            ids = list(dict.fromkeys(session_ids))     # unique, order kept
        show = len(ids) > _PROGRESS_OVER if progress is None else progress
        fetched = _fetch_messages(c, ids, concurrency, show)
    return messages_from_objects([m for sid in ids for m in fetched[sid]])


def _fetch_messages(client: JunisClient, ids: Sequence[str], concurrency: int,
                    show: bool) -> dict[str, list[Message]]:
    fetched: dict[str, list[Message]] = {}
    if not ids:
        return fetched
    with ThreadPoolExecutor(max_workers=min(concurrency, len(ids)),
                            thread_name_prefix="junis-messages") as pool, \
            _progress(len(ids), "messages", show) as bar:
        futures = {pool.submit(client.messages, sid, page_size=100): sid for sid in ids}
        try:
            for future in as_completed(futures):
                fetched[futures[future]] = future.result()
                bar.update(1)
        except BaseException:       # one failed (or Ctrl-C): do not start the others
            for f in futures:
                f.cancel()
            raise
    return fetched


def _progress(total: int, desc: str, show: bool) -> Any:
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="req", disable=not show, leave=False)


def messages_from_objects(found: Sequence[Message]) -> pd.DataFrame:
    """The messages frame from the client's `Message` objects."""
    return build("messages", {
        **_columns(found, ("session_id", "position", "role", "content", "created_at",
                           "agent_name")),
        "message_id": list(map(attrgetter("id"), found)),
        **_usage_columns(list(map(attrgetter("usage"), found)), attrgetter),
    })


def _usage_columns(usages: Sequence[Any], getter: Any) -> dict[str, Any]:
    """Token columns from per-message usage (None on most turns), as masked int64 arrays.

    Every loop here is a C-level map over the list (no Python-level generator per item).
    """
    n = len(usages)
    missing = np.fromiter(map(operator.is_, usages, repeat(None)), bool, n)
    present = list(compress(usages, map(operator.is_not, usages, repeat(None))))
    out = {}
    for field in ("prompt_tokens", "completion_tokens", "total_tokens"):
        tokens = list(map(getter(field), present))
        values = np.zeros(n, dtype=np.int64)
        try:
            values[~missing] = np.fromiter(tokens, np.int64, len(tokens))
            out[field] = pd.arrays.IntegerArray(values, missing.copy())
        except TypeError:   # a usage object with a null count: NA there too
            full = np.full(n, None, dtype=object)
            full[~missing] = tokens
            out[field] = pd.array(full, dtype=INT)
    return out


def messages_from_records(records: Sequence[Mapping[str, Any]],
                          session_id: str | None = None) -> pd.DataFrame:
    """The messages frame from raw message dicts as `GET /sessions/{id}/messages` returns them.

    Records carry their session in `session_id` unless `session_id=` names it for all of them;
    `position` (0-based, within the session) is taken from the records when present, else counted
    in record order. Built column-wise (in Arrow's C converter when the records fit its types,
    else with C-level maps over the list), then one vectorised parse per column: several times
    faster than `pandas.json_normalize` on large histories.
    """
    n = len(records)
    if n == 0:
        return empty("messages")
    columns = _arrow_columns(records) or _python_columns(records)
    if session_id is not None:
        columns["session_id"] = _strings([session_id]).take(np.zeros(n, dtype=np.intp))
    if columns.get("position") is None:
        codes, _ = pd.factorize(columns["session_id"], use_na_sentinel=False)
        columns["position"] = _positions(codes)
    return build("messages", columns)


_ROLE_DTYPE = SCHEMAS["messages"]["role"]


def _arrow_columns(records: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Columns through `pyarrow.array(records, type=struct)`; None when the records do not fit."""
    if STRING.storage != "pyarrow":
        return None
    import pyarrow as pa
    import pyarrow.compute as pc
    tokens = pa.struct([(f, pa.int64()) for f in ("prompt_tokens", "completion_tokens",
                                                  "total_tokens")])
    record = pa.struct([("session_id", pa.large_string()), ("position", pa.int64()),
                        ("id", pa.large_string()), ("role", pa.large_string()),
                        ("content", pa.large_string()), ("created_at", pa.large_string()),
                        ("agent_name", pa.large_string()), ("usage", tokens)])
    try:
        table = pa.array(records, type=record)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    field = table.field
    roles = field("role")
    codes = pc.index_in(roles, value_set=pa.array(_ROLE_DTYPE.categories.tolist(),
                                                  type=pa.large_string()))
    if codes.null_count != roles.null_count:     # a role outside the known ones: append it
        role: Any = roles.to_pylist()
    else:
        role = pd.Categorical.from_codes(
            pc.fill_null(codes, -1).to_numpy(zero_copy_only=False).astype(np.int16),
            dtype=_ROLE_DTYPE)
    usage = field("usage")
    positions = field("position")
    return {
        "session_id": pd.array(field("session_id"), dtype=STRING),
        "position": None if positions.null_count == len(positions) else _arrow_ints(positions),
        "message_id": pd.array(field("id"), dtype=STRING),
        "role": role,
        "content": pd.array(field("content"), dtype=STRING),
        "created_at": _arrow_times(field("created_at")),
        "agent_name": pd.array(field("agent_name"), dtype=STRING),
        # struct_field, unlike .field(), carries the struct's own nulls (turns without usage)
        **{f: _arrow_ints(pc.struct_field(usage, f))
           for f in ("prompt_tokens", "completion_tokens", "total_tokens")},
    }


def _arrow_times(strings: Any) -> Any:
    """ISO 8601 with a zone (as the API writes) parsed by Arrow's cast, ~8x faster than pandas;
    anything else (no zone: taken as UTC) goes through `_times`."""
    import pyarrow as pa
    import pyarrow.compute as pc
    try:
        parsed = pc.cast(strings, pa.timestamp("ns", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _times(pd.array(strings, dtype=STRING))
    return pd.array(parsed.to_numpy(zero_copy_only=False)).tz_localize("UTC")


def _arrow_ints(values: Any) -> Any:
    """Arrow int64 (with nulls) to Int64 through numpy; `pd.array` would go through Python."""
    import pyarrow.compute as pc
    mask = values.is_null().to_numpy(zero_copy_only=False)
    data = pc.fill_null(values, 0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return pd.arrays.IntegerArray(data, mask)


def _python_columns(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Columns with one C-level `map(itemgetter(key), records)` each."""
    def column(key: str) -> list[Any]:
        try:
            return list(map(itemgetter(key), records))
        except KeyError:
            return [r.get(key) for r in records]

    codes, uniques = pd.factorize(np.array(column("session_id"), dtype=object),
                                  use_na_sentinel=False)
    return {
        "session_id": _strings(uniques.tolist()).take(codes),
        "position": column("position") if "position" in records[0] else None,
        "message_id": column("id"),
        "role": column("role"),
        "content": column("content"),
        "created_at": column("created_at"),
        "agent_name": column("agent_name"),
        **_usage_columns(column("usage"), itemgetter),
    }


def _positions(codes: np.ndarray) -> Any:
    """0-based running count of each record within its session (`codes`), in record order."""
    n = len(codes)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    if len(np.unique(codes[starts])) == len(starts):       # each session in one contiguous run
        run_start = np.repeat(starts, np.diff(np.r_[starts, n]))
        values = np.arange(n, dtype=np.int64) - run_start
    else:
        values = pd.Series(codes).groupby(codes).cumcount().to_numpy(np.int64)
    return pd.arrays.IntegerArray(values, np.zeros(n, dtype=bool))


# --- usage from the ledger --------------------------------------------------------------------

def usage(since: datetime | str | None = None, until: datetime | str | None = None,
          path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Calls recorded in the usage ledger (default: this user's) with since <= started_at < until."""
    from .ledger import Ledger
    rows = Ledger(path).rows(since, until)
    return build("usage", {name: [r[name] for r in rows] for name in SCHEMAS["usage"]})


# --- export -----------------------------------------------------------------------------------

def to_parquet(df: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a frame to Parquet with its dtypes intact (strings as Arrow `string`)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("to_parquet needs pyarrow: pip install 'junis-jupyter[parquet]'") from None
    table = pa.Table.from_pandas(df, preserve_index=False)
    # pandas 3 stores strings as large_string, pandas 2 as string: write one type either way.
    schema = pa.schema([f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f
                        for f in table.schema], metadata=table.schema.metadata)
    pq.write_table(table.cast(schema), path)
