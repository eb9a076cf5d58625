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

What can go wrong with the file, and what the batch does (docs/reliability.md):
- it is not SQLite, is damaged, or was edited into something this module did not write: one
  ConfigurationError naming the file and what to do, before any request;
- it cannot be written (a read-only file or volume): its answered rows are still read, so a
  finished batch comes back whole, but a batch with rows left to ask is refused before any
  request (`read_only` says why): nothing has been paid for yet, and the rows asked would not be
  saved;
- a write fails mid-batch (a full disk): `record` says so and the checkpoint stops saving; the
  batch goes on and returns every row. Answers already paid for are never lost to the file.
Text is stored as valid Unicode (a lone surrogate becomes U+FFFD), which SQLite can always take.
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
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .text import storable

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


_NOT_OURS = "pass another path."
_DAMAGED = "move it aside (or delete it) to start this batch again, or pass another path."


def _reason(exc: BaseException) -> str:
    """An error's own words, for one line ("database or disk is full")."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, (sqlite3.Error, OSError)) else f"{type(exc).__name__}: {text}"


def _unwritable(exc: sqlite3.Error) -> bool:
    """SQLite's words for a file or folder it may read but not write (a read-only volume gives
    "unable to open database file": the WAL index cannot be made beside it)."""
    text = str(exc)
    return "readonly" in text or "read-only" in text or "unable to open database file" in text


def _read_only(path: str) -> sqlite3.Connection:
    """A connection that writes nothing beside the file: read-only, and immutable when the WAL
    index cannot be opened there (a read-only folder or volume; rows still in a WAL file left
    by a killed batch are then not seen)."""
    uri = f"{Path(os.path.abspath(path)).as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
    return sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None,
                           check_same_thread=False)


def _read_only_reason(path: str, exc: BaseException) -> str:
    """Why `path` cannot be written, in plain words first (SQLite says "unable to open database
    file" of a read-only volume), then SQLite's own."""
    words = _reason(exc)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f"the volume is read-only: {words}"
    except (OSError, AttributeError):       # no statvfs on Windows
        pass
    effective = os.access in os.supports_effective_ids    # as root without the override too
    if os.path.exists(path) and not os.access(path, os.W_OK, effective_ids=effective):
        return f"the file is read-only: {words}"
    if not os.access(folder, os.W_OK, effective_ids=effective):
        return f"its folder is read-only: {words}"
    return words


def _damaged(path: str, what: str) -> ConfigurationError:
    return ConfigurationError(f"checkpoint {path} is damaged ({what}): {_DAMAGED}")


class Checkpoint:
    """The checkpoint file of one batch: `open` it for the batch's prompts and options (refused
    with a ConfigurationError if it belongs to another or cannot be read), read `done()`,
    `record` each row.

    `read_only`: why the file cannot be written (None when it can). `stopped`: why it stopped
    saving mid-batch (None while it saves)."""

    def __init__(self, path: str | os.PathLike[str], conn: sqlite3.Connection, rows: int = 0,
                 read_only: str | None = None) -> None:
        self.path = os.fspath(path)
        self.rows = rows
        self.read_only = read_only
        self.stopped: str | None = None
        self._conn = conn
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | os.PathLike[str], prompts: Sequence[str],
             options: Mapping[str, Any], *, create: bool = True) -> Checkpoint | None:
        """The checkpoint at `path` for these prompts and options; created if missing (or None
        when `create` is false and there is no file: a dry run writes nothing). Every failure
        is one ConfigurationError naming the file, and leaves no connection open."""
        path = os.fspath(path)
        existed = os.path.exists(path)
        if os.path.isdir(path):
            raise ConfigurationError(f"checkpoint {path} is a folder: pass the path of a file "
                                     "(new or a checkpoint), or pass another path.")
        if not existed:
            if not create:
                return None
            try:
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            except OSError as exc:
                raise ConfigurationError(f"cannot create checkpoint {path} ({_reason(exc)}): "
                                         "pass a path in a folder you can write to.") from None
        key = options_key(options)
        try:
            return cls._open(path, prompts, key, probe=create)
        except sqlite3.OperationalError as exc:
            if not (existed and _unwritable(exc)):
                why = _read_only_reason(path, exc) if _unwritable(exc) else _reason(exc)
                raise ConfigurationError(
                    f"cannot {'open' if existed else 'create'} checkpoint {path} ({why}): pass "
                    "a path to a file you can write to, in a folder with free space.") from None
            cannot = _read_only_reason(path, exc)
        except (sqlite3.DatabaseError, ValueError, KeyError, IndexError, TypeError,
                OverflowError) as exc:
            raise cls._unreadable(path, exc) from None
        try:      # a read-only folder or volume: read it as it is, touching nothing
            return cls._open(path, prompts, key, read_only=cannot)
        except (sqlite3.DatabaseError, ValueError, KeyError, IndexError, TypeError,
                OverflowError) as exc:
            raise ConfigurationError(f"checkpoint {path} cannot be written ({cannot}), nor "
                                     f"read ({_reason(exc)}): {_NOT_OURS}") from None

    @staticmethod
    def _unreadable(path: str, exc: BaseException) -> ConfigurationError:
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
            return ConfigurationError(f"checkpoint {path} is not an ask_many checkpoint "
                                      f"({_reason(exc)}): {_NOT_OURS}")
        return _damaged(path, _reason(exc))

    @classmethod
    def _open(cls, path: str, prompts: Sequence[str], options: str, *, probe: bool = False,
              read_only: str | None = None) -> Checkpoint:
        """Connect, make the tables (unless read-only) and claim the file for this batch; the
        connection is closed on every failure. `probe`: find out now whether it can be written
        (a no-op write), so that a batch is refused before it asks rather than after."""
        if read_only is None:
            conn = sqlite3.connect(path, timeout=10.0, isolation_level=None,
                                   check_same_thread=False)
        else:
            conn = _read_only(path)
        try:
            if read_only is None:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.executescript(_SCHEMA)
            self = cls(path, conn, read_only=read_only)
            self._claim(prompts, options)
            if probe and read_only is None:
                try:
                    conn.execute("UPDATE meta SET value = value WHERE key = 'format'")
                except sqlite3.OperationalError as exc:
                    if not _unwritable(exc):
                        raise
                    self.read_only = _read_only_reason(path, exc)
            return self
        except BaseException:
            conn.close()
            raise

    def _claim(self, prompts: Sequence[str], options: str) -> None:
        meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        hashes = [_sha(p) for p in prompts]
        if not meta:
            if self.read_only is not None:
                raise ConfigurationError(f"checkpoint {self.path} cannot be written "
                                         f"({self.read_only}) and holds no batch: {_NOT_OURS}")
            with self._conn:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("format", FORMAT), ("rows", str(len(prompts))), ("options", options),
                    ("created_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))])
                self._conn.executemany("INSERT INTO prompts VALUES (?, ?)", enumerate(hashes))
            self.rows = len(prompts)
            return
        refuse = f"checkpoint {self.path} belongs to another batch"
        advice = "pass a new checkpoint path, or delete the file to start again."
        if meta.get("format") != FORMAT:
            raise ConfigurationError(f"checkpoint {self.path} is not an ask_many checkpoint "
                                     f"({meta.get('format', 'no format')}): {_NOT_OURS}")
        count = meta.get("rows")
        if not (isinstance(count, str) and count.isdigit() and count.isascii()):
            raise _damaged(self.path, f"its row count is {count!r}, not a number")
        if "options" not in meta:
            raise _damaged(self.path, "it holds no options")
        self.rows = int(count)
        if self.rows != len(prompts):
            raise ConfigurationError(f"{refuse} (it has {self.rows:,} prompts, this "
                                     f"batch {len(prompts):,}): {advice}")
        stored = [h for (h,) in self._conn.execute(
            "SELECT sha256 FROM prompts ORDER BY position")]
        if len(stored) != len(hashes):
            raise _damaged(self.path, f"it holds {len(stored):,} prompts of its "
                                      f"{self.rows:,}")
        if stored != hashes:
            first = next(i for i, (a, b) in enumerate(zip(stored, hashes, strict=True)) if a != b)
            raise ConfigurationError(f"{refuse} (the prompt of row {first} differs): {advice}")
        if meta["options"] != options:
            raise ConfigurationError(f"{refuse} ({_differences(meta['options'], options)}): "
                                     f"{advice}")

    def done(self) -> dict[int, Recorded]:
        """The answered rows by position (failed rows are not done: they are asked again).
        A rows table this module did not write is one ConfigurationError."""
        try:
            with self._lock:
                found = self._conn.execute(
                    "SELECT position, answer, session_id, tokens, latency, error FROM rows "
                    "WHERE error IS NULL").fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(self.path, exc) from None
        done = {}
        for position, answer, session_id, tokens, latency, error in found:
            if not (isinstance(position, int) and 0 <= position < self.rows):
                raise _damaged(self.path, f"it holds a row at position {position!r}, outside "
                                          f"its {self.rows:,} rows")
            if not (isinstance(answer, str) and isinstance(session_id, (str, type(None)))
                    and isinstance(tokens, (int, type(None)))
                    and isinstance(latency, (int, float, type(None)))):
                raise _damaged(self.path, f"row {position} holds values of the wrong kinds")
            done[position] = Recorded(answer, session_id, tokens,
                                      None if latency is None else float(latency), error)
        return done

    def record(self, position: int, row: Recorded) -> bool:
        """Write one row, committed before this returns; True when it was. A write that fails
        (a full disk, a file that cannot be written) sets `stopped` and is never raised: the
        checkpoint stops saving (no later row is tried) and the batch goes on without it."""
        if self.stopped is not None:
            return False
        if self.read_only is not None:
            self.stopped = self.read_only
            return False
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        values = (position, storable(row.answer), storable(row.session_id), row.tokens,
                  row.latency, storable(row.error), stamp)
        with self._lock:
            try:
                self._conn.execute("INSERT OR REPLACE INTO rows VALUES (?, ?, ?, ?, ?, ?, ?)",
                                   values)
            except Exception as exc:  # noqa: BLE001 - a row that cannot be saved loses no answer
                self.stopped = _reason(exc)
                return False
        return True

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
