"""The local usage ledger: one SQLite row per client call, kept across kernel restarts.

Several kernels (processes) may write to the same file at once, so the file is in WAL mode, every
connection waits on a busy timeout, and each row is its own short transaction. The ledger is an
observer of the client: it must never raise into a call, so a write that still fails after a few
retries is kept in memory (written with the next row that gets through) and reported once.

A damaged file (not SQLite, or corrupt) is never moved or repaired here: the warning, and
`%junis usage`'s one error line, name the file and say to move it aside; the next write then
starts a new one. Text is stored as valid Unicode (a lone surrogate in an id becomes U+FFFD).
"""
from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
import warnings
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..client._isotime import fromisoformat
from ..errors import ConfigurationError
from .store_file import connect_store, immediate
from .text import storable

if TYPE_CHECKING:
    import pandas as pd

    from ..client.types import CallRecord

__all__ = ["Ledger", "default_path", "default_ledger", "record", "install", "uninstall", "COLUMNS"]

HOME_ENV = "JUNIS_HOME"
FILENAME = "usage.sqlite3"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"   # fixed width, so text order is time order
_WRITE_ATTEMPTS = 5

# Column order of `Ledger.rows()`, the table and the usage frame.
COLUMNS = ("started_at", "endpoint", "agent", "session_id", "stream", "status", "error_code",
           "prompt_tokens", "completion_tokens", "total_tokens", "latency_s", "first_token_s",
           "request_id", "attempts", "origin", "notebook", "cell_id")
# Where the call came from (the client's tags, set by the answer pipeline): added after the first
# release, so an older file gains them when opened (`_add_columns`).
_LATER = {"origin": "TEXT", "notebook": "TEXT", "cell_id": "TEXT"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at        TEXT    NOT NULL,
    endpoint          TEXT    NOT NULL,
    agent             TEXT,
    session_id        TEXT,
    stream            INTEGER NOT NULL,
    status            INTEGER,
    error_code        TEXT,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    total_tokens      INTEGER,
    latency_s         REAL    NOT NULL,
    first_token_s     REAL,
    request_id        TEXT,
    attempts          INTEGER NOT NULL DEFAULT 1,
    origin            TEXT,
    notebook          TEXT,
    cell_id           TEXT
);
CREATE INDEX IF NOT EXISTS calls_started_at ON calls (started_at);
"""
_INSERT = f"INSERT INTO calls ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def default_path() -> Path:
    """`$JUNIS_HOME/usage.sqlite3`, else the platform's per-user data directory."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser() / FILENAME
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "junis-jupyter" / FILENAME


def format_time(t: datetime) -> str:
    """UTC text in the ledger's fixed-width format (naive datetimes are taken as UTC)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).strftime(_TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """A time written by `format_time`, as an aware UTC datetime."""
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=timezone.utc)


def _row(call: CallRecord) -> tuple[Any, ...]:
    u = call.usage
    return (format_time(call.started_at), storable(call.endpoint), storable(call.agent),
            storable(call.session_id), int(bool(call.stream)), call.status,
            storable(call.error_code), u.prompt_tokens if u else None,
            u.completion_tokens if u else None, u.total_tokens if u else None,
            float(call.latency_s),
            None if call.first_token_s is None else float(call.first_token_s),
            storable(call.request_id), int(call.attempts),
            *(storable(call.tags.get(name)) for name in _LATER))


def _add_columns(conn: sqlite3.Connection) -> None:
    """The columns a file written by an older version lacks (another process may be adding them
    at the same moment: a column already there is fine)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(calls)")}
    for name, kind in _LATER.items():
        if name not in have:
            try:
                conn.execute(f"ALTER TABLE calls ADD COLUMN {name} {kind}")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):
                    raise


def _damaged(exc: BaseException) -> bool:
    """SQLite's "file is not a database" or "database disk image is malformed": the file itself
    is bad (an OperationalError, such as a lock or a full disk, is a passing state)."""
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError)


class Ledger:
    """One SQLite file of call records. Cheap to create: the file is opened on first use."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_path()
        self._ready = False
        self._lock = threading.Lock()       # guards _ready, _pending and _warned
        self._pending: list[tuple[Any, ...]] = []
        self._warned = False

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        return connect_store(self.path, "FULL", None if self._ready else self._setup)

    def _setup(self, conn: sqlite3.Connection) -> None:
        conn.executescript(_SCHEMA)
        _add_columns(conn)
        self._ready = True

    def _advice(self, exc: BaseException) -> str:
        """What is wrong with the file and what to do, in one clause naming it."""
        if _damaged(exc):
            return (f"the usage ledger {self.path} is damaged ({exc}): move it aside (rename it "
                    f"to {self.path.name}.damaged, say) and a new one is started with the next "
                    "call")
        return f"cannot read the usage ledger {self.path} ({exc})"

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        """Write `rows` over one connection, one short transaction each (writers never wait
        long), popping each row only once committed: a failure half-way leaves the rest."""
        conn = self._connect()
        try:
            while rows:
                with immediate(conn):
                    conn.execute(_INSERT, rows[0])
                rows.pop(0)
        finally:
            conn.close()

    def record(self, call: CallRecord) -> None:
        """Observer: store one call. Never raises; a failed write is retried, then kept."""
        try:
            row = _row(call)
        except Exception as exc:   # a malformed record must not break the user's call
            self._warn_once(f"junis usage ledger: could not read a call record ({exc!r}).")
            return
        with self._lock:
            rows = self._pending + [row]
            self._pending = []
        # Locks are waited for by the busy timeout; these retries are for passing errors. Once
        # the ledger is known broken, one try per call, so calls are not slowed down.
        for attempt in range(1 if self._warned else _WRITE_ATTEMPTS):
            try:
                self._write(rows)
                return
            except (sqlite3.Error, OSError) as exc:
                error = exc
                self._ready = False     # the file may be replaced (moved aside) before the next try
                if _damaged(exc):
                    break               # trying again changes nothing
                time.sleep(0.02 * 2 ** attempt)
        with self._lock:
            self._pending = rows + self._pending
        said = self._advice(error) if _damaged(error) else \
            f"junis usage ledger: cannot write to {self.path} ({error})"
        self._warn_once(f"{said}; rows are kept in memory and written when it works again.")

    def _warn_once(self, message: str) -> None:
        with self._lock:
            if self._warned:
                return
            self._warned = True
        warnings.warn(message, RuntimeWarning, stacklevel=3)

    def rows(self, since: datetime | str | None = None,
             until: datetime | str | None = None) -> list[dict[str, Any]]:
        """Calls with since <= started_at < until, oldest first (an absent file holds none)."""
        if not self.path.exists():
            return []
        clauses, params = [], []
        if since is not None:
            clauses.append("started_at >= ?")
            params.append(bound(since))
        if until is not None:
            clauses.append("started_at < ?")
            params.append(bound(until))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        found = self._select(f"SELECT {', '.join(COLUMNS)} FROM calls{where} "
                             "ORDER BY started_at, id", params)
        return [dict(zip(COLUMNS, r, strict=True)) for r in found]

    def session_calls(self) -> list[tuple[Any, ...]]:
        """(session_id, total_tokens, origin, notebook, cell_id) of every chat call made in a
        session, oldest first: what each session cost from this machine, and where it began."""
        if not self.path.exists():
            return []
        return self._select(
            "SELECT session_id, total_tokens, origin, notebook, cell_id FROM calls WHERE "
            "session_id IS NOT NULL AND endpoint IN ('chat', 'agent_chat') "
            "ORDER BY started_at, id")

    def _select(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        try:
            conn = self._connect()
            try:
                return conn.execute(sql, params or []).fetchall()
            finally:
                conn.close()
        except (sqlite3.Error, OSError) as exc:
            self._ready = False
            raise ConfigurationError(f"{self._advice(exc)}.") from None

    def frame(self, since: datetime | str | None = None,
              until: datetime | str | None = None) -> pd.DataFrame:
        """`rows()` as the usage frame (`frames.usage`), each call's credits estimated
        (credits.py). pandas is imported here, on first use, not when the extension loads the
        ledger."""
        from .credits import estimate
        from .schemas import build
        rows = self.rows(since, until)
        columns = {name: [r[name] for r in rows] for name in COLUMNS}
        columns["credits"] = [estimate(t) for t in columns["total_tokens"]]
        return build("usage", columns)

    @property
    def pending(self) -> int:
        """Rows not yet written (only non-zero after write failures)."""
        return len(self._pending)


def bound(value: datetime | date | str) -> str:
    """A `since`/`until` (a datetime, naive meaning UTC; a date, meaning its UTC midnight; or
    ISO 8601 text such as 2026-03-01) in the stored format, for comparing with stored times."""
    if isinstance(value, str):
        value = fromisoformat(value.replace("Z", "+00:00"))   # as 3.11 reads it
    elif not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return format_time(value)


_ledgers: dict[Path, Ledger] = {}
_ledgers_lock = threading.Lock()


def default_ledger() -> Ledger:
    """The ledger at `default_path()`, resolved now (so a changed JUNIS_HOME is followed)."""
    path = default_path()
    with _ledgers_lock:
        if path not in _ledgers:
            _ledgers[path] = Ledger(path)
        return _ledgers[path]


def record(call: CallRecord) -> None:
    """The observer `install()` registers: writes to the default ledger."""
    default_ledger().record(call)


def install() -> None:
    """Make every client created from now on write to the default ledger (idempotent)."""
    from .. import client
    if record not in client.DEFAULT_OBSERVERS:
        client.DEFAULT_OBSERVERS.append(record)


def uninstall() -> None:
    """Undo `install()`; clients already created keep their observers."""
    from .. import client
    while record in client.DEFAULT_OBSERVERS:
        client.DEFAULT_OBSERVERS.remove(record)
