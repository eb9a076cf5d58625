"""Records to frames: the client's result objects, and raw message dicts as the API sends them.

Columns are taken with C-level `map`s over the list (or Arrow's C converter for raw records) and
each is parsed once, vectorised, into its schema's dtype: several times faster than
`pandas.json_normalize`, which only flattens and leaves object columns.
"""
from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from itertools import compress, repeat
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .schemas import INT, SCHEMAS, STRING, build, empty, strings, times

if TYPE_CHECKING:
    from ..client.types import Agent, Message, Session

__all__ = ["agents_from_objects", "sessions_from_objects", "messages_from_objects",
           "messages_from_records"]

_TOKENS = ("prompt_tokens", "completion_tokens", "total_tokens")
_ROLE_DTYPE = SCHEMAS["messages"]["role"]


# --- the client's objects ---------------------------------------------------------------------

def _columns(objects: Sequence[Any], fields: Iterable[str]) -> dict[str, list[Any]]:
    return {f: list(map(attrgetter(f), objects)) for f in fields}


def agents_from_objects(found: Sequence[Agent]) -> pd.DataFrame:
    """The agents frame from the client's `Agent` objects."""
    return build("agents", _columns(found, SCHEMAS["agents"]))


def sessions_from_objects(found: Sequence[Session]) -> pd.DataFrame:
    """The sessions frame from the client's `Session` objects."""
    return build("sessions", _columns(found, SCHEMAS["sessions"]))


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
    for field in _TOKENS:
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


# --- raw message records ----------------------------------------------------------------------

def messages_from_records(records: Sequence[Mapping[str, Any]],
                          session_id: str | None = None) -> pd.DataFrame:
    """The messages frame from raw message dicts as `GET /sessions/{id}/messages` returns them.

    Records carry their session in `session_id` unless `session_id=` names it for all of them;
    `position` (0-based, within the session) is taken from the records when present, else counted
    in record order. Built column-wise (in Arrow's C converter when the records fit its types,
    else with C-level maps over the list), then one vectorised parse per column.
    """
    n = len(records)
    if n == 0:
        return empty("messages")
    columns = _arrow_columns(records) or _python_columns(records)
    if session_id is not None:
        columns["session_id"] = strings([session_id]).take(np.zeros(n, dtype=np.intp))
    if columns.get("position") is None:
        codes, _ = pd.factorize(columns["session_id"], use_na_sentinel=False)
        columns["position"] = _positions(codes)
    return build("messages", columns)


def _arrow_columns(records: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Columns through `pyarrow.array(records, type=struct)`; None when the records do not fit."""
    if STRING.storage != "pyarrow":
        return None
    import pyarrow as pa
    import pyarrow.compute as pc
    tokens = pa.struct([(f, pa.int64()) for f in _TOKENS])
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
        **{f: _arrow_ints(pc.struct_field(usage, f)) for f in _TOKENS},
    }


def _arrow_times(values: Any) -> Any:
    """ISO 8601 with a zone (as the API writes) parsed by Arrow's cast, ~8x faster than pandas;
    anything else (no zone: taken as UTC) goes through `schemas.times`."""
    import pyarrow as pa
    import pyarrow.compute as pc
    try:
        parsed = pc.cast(values, pa.timestamp("ns", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return times(pd.array(values, dtype=STRING))
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
        "session_id": strings(uniques.tolist()).take(codes),
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
