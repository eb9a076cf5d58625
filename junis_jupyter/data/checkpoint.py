"""A batch's checkpoint: each row's result written to a SQLite file the moment it arrives.

Why SQLite and not Parquet: a checkpoint is appended to one row at a time, by a process that may
be killed at any instant. SQLite (standard library, no extra) commits each row as its own
transaction, atomically: after a `kill -9` the file holds every row committed before it and no
torn one. Parquet is written whole (appending a row means rewriting the file, or one file per
row), a crash mid-write leaves a broken file, and pyarrow is an optional extra. The same
discipline as the usage ledger: WAL, `synchronous=FULL`, a 10 s busy timeout.

Tables: `meta` (key, value: the format, the row count, the options as canonical JSON) and
`prompts` (position, sha256 of the prompt) describe the batch, so that a checkpoint is only ever
used for the batch it belongs to; `rows` (position, answer, session_id, tokens, latency, error,
recorded_at) holds the results. A failed row is recorded with its `error` but is not done: only
answered rows (error NULL) are skipped when the batch runs again; failed ones are asked again.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError

__all__ = ["Checkpoint", "Recorded", "options_key"]

FORMAT = "junis-jupyter ask_many checkpoint 1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prompts (position INTEGER PRIMARY KEY, sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    position INTEGER PRIMARY KEY, answer TEXT, session_id TEXT, tokens INTEGER, latency REAL,
    error TEXT, recorded_at TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Recorded:
    """One row as the checkpoint holds it."""
    answer: str | None
    session_id: str | None
    tokens: int | None
    latency: float | None
    error: str | None


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def options_key(options: Mapping[str, Any]) -> str:
    """The options as canonical JSON (sorted keys; what JSON cannot hold, as its repr)."""
    return json.dumps(dict(options), sort_keys=True, default=repr, ensure_ascii=False)


def _differences(old: str, new: str) -> str:
    try:
        before, after = json.loads(old), json.loads(new)
    except ValueError:
        return "its options differ"
    names = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    shown = ", ".join(f"{k} {before.get(k)!r} -> {after.get(k)!r}" for k in names[:3])
    return f"its options differ ({shown}{', ...' if len(names) > 3 else ''})"


class Checkpoint:
    """The checkpoint file of one batch: `open` it for the batch's prompts and options (refused
    with a ConfigurationError if it belongs to another), read `done()`, `record` each row."""

    def __init__(self, path: str | os.PathLike[str], conn: sqlite3.Connection) -> None:
        self.path = os.fspath(path)
        self._conn = conn
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | os.PathLike[str], prompts: Sequence[str],
             options: Mapping[str, Any], *, create: bool = True) -> Checkpoint | None:
        """The checkpoint at `path` for these prompts and options; created if missing (or None
        when `create` is false and there is no file: a dry run writes nothing)."""
        path = os.fspath(path)
        if not os.path.exists(path):
            if not create:
                return None
            parent = os.path.dirname(os.path.abspath(path))
            os.makedirs(parent, exist_ok=True)
        try:
            conn = sqlite3.connect(path, timeout=10.0, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ConfigurationError(
                f"checkpoint {path} is not an ask_many checkpoint ({exc}): pass another "
                "path.") from None
        self = cls(path, conn)
        try:
            self._claim(prompts, options_key(options))
        except BaseException:
            conn.close()
            raise
        return self

    def _claim(self, prompts: Sequence[str], options: str) -> None:
        meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        hashes = [_sha(p) for p in prompts]
        if not meta:
            with self._conn:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("format", FORMAT), ("rows", str(len(prompts))), ("options", options),
                    ("created_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))])
                self._conn.executemany("INSERT INTO prompts VALUES (?, ?)", enumerate(hashes))
            return
        refuse = f"checkpoint {self.path} belongs to another batch"
        advice = "pass a new checkpoint path, or delete the file to start again."
        if meta.get("format") != FORMAT:
            raise ConfigurationError(f"checkpoint {self.path} is not an ask_many checkpoint "
                                     f"({meta.get('format', 'no format')}): pass another path.")
        if int(meta["rows"]) != len(prompts):
            raise ConfigurationError(f"{refuse} (it has {int(meta['rows']):,} prompts, this "
                                     f"batch {len(prompts):,}): {advice}")
        stored = [h for (h,) in self._conn.execute(
            "SELECT sha256 FROM prompts ORDER BY position")]
        if stored != hashes:
            first = next(i for i, (a, b) in enumerate(zip(stored, hashes)) if a != b) \
                if len(stored) == len(hashes) else 0
            raise ConfigurationError(f"{refuse} (the prompt of row {first} differs): {advice}")
        if meta["options"] != options:
            raise ConfigurationError(f"{refuse} ({_differences(meta['options'], options)}): "
                                     f"{advice}")

    def done(self) -> dict[int, Recorded]:
        """The answered rows by position (failed rows are not done: they are asked again)."""
        with self._lock:
            found = self._conn.execute(
                "SELECT position, answer, session_id, tokens, latency, error FROM rows "
                "WHERE error IS NULL").fetchall()
        return {p: Recorded(*rest) for p, *rest in found}

    def record(self, position: int, row: Recorded) -> None:
        """Write one row, committed before this returns (a failed row replaces nothing done)."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO rows VALUES (?, ?, ?, ?, ?, ?, ?)",
                (position, row.answer, row.session_id, row.tokens, row.latency, row.error, stamp))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
