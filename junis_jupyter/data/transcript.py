"""The local transcript log: every prompt and answer that goes through the answer pipeline
(pipeline.py), from every surface, with where it came from. Kept so a user can ask "what did I
ask last week about churn, and what did the agent say?" (`frames.log(q="churn")`).

One SQLite file beside the usage ledger (`transcript.sqlite3` in the ledger's folder), written as
the ledger is: WAL, a busy timeout, one short transaction a turn, so several kernels write at
once. Writing never raises into the user's answer: a write that keeps failing is dropped with one
warning. Every text is masked of the key and of key-shaped strings before it is stored
(`cuts.mask`), and stored as valid Unicode (`text.storable`).

Prompts and answers are indexed by SQLite's FTS5 (an external-content table its triggers keep),
so a search of 100,000 turns takes milliseconds (`make bench`, log search); a Python built
without FTS5 searches by a plain scan instead.

On by default. Off: JUNIS_LOG=off in the environment, `transcript.configure(enabled=False)`, or
`%junis log --off` in a kernel.
"""
from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..client.types import Usage
from ..errors import ConfigurationError
from .cuts import mask
from .ledger import bound, format_time, parse_time
from .ledger import default_path as ledger_path
from .search_terms import fts_query, plain_terms
from .store_file import connect_store, immediate
from .text import storable

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LogEntry", "Conversation", "Transcript", "enabled", "configure", "default_path",
           "default_transcript", "record", "recent_conversations", "title_of",
           "CONVERSATION_ORIGINS", "SWITCH_ENV"]

FILENAME = "transcript.sqlite3"
SWITCH_ENV = "JUNIS_LOG"
_OFF = {"0", "off", "false", "no"}
# The surfaces a person converses on; a batch row's session is one question, not a conversation.
CONVERSATION_ORIGINS = ("cell", "background", "panel", "jupyter-ai")
_WRITE_ATTEMPTS = 3
_TITLE_WIDTH = 80

_STORED = ("at", "origin", "notebook", "cell_id", "agent", "session_id", "message_id", "model",
           "prompt", "answer", "prompt_tokens", "completion_tokens", "total_tokens", "latency_s",
           "cached", "cache_key", "error")
# The prompt and the answer go in as UTF-8 bytes, cast to text by SQLite: handed a str, the
# sqlite3 module keeps its UTF-8 form inside the str for the str's life, and the answer's str
# lives on in `_junis` (a second copy of a long answer, held for nothing).
_BYTES = ("prompt", "answer")
_INSERT = (f"INSERT INTO turns ({', '.join(_STORED)}) VALUES ("
           + ", ".join("CAST(? AS TEXT)" if c in _BYTES else "?" for c in _STORED) + ")")
# An answer longer than _LONG characters is written into the row a _PIECE at a time
# (incremental blob I/O, Python 3.11+): bound whole, SQLite holds two more copies of it while it
# writes the row, about 24 MB for a 10-million-character answer. Such an answer is stored as a
# UTF-8 BLOB, which the index and every read take as text. The row is made with a zeroblob in
# its place, which SQLite leaves unmade only in a row's last column.
_LONG = 1 << 20
_PIECE = 1 << 16
_INSERT_LONG = (f"INSERT INTO turns ({', '.join(_STORED)}) VALUES ("
                + ", ".join("CAST(? AS TEXT)" if c == "prompt" else "zeroblob(?)"
                            if c == "answer" else "?" for c in _STORED) + ")")
_ANSWER_AT = _STORED.index("answer")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    at                TEXT    NOT NULL,
    origin            TEXT,
    notebook          TEXT,
    cell_id           TEXT,
    agent             TEXT,
    session_id        TEXT,
    message_id        TEXT,
    model             TEXT,
    prompt            TEXT    NOT NULL,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    total_tokens      INTEGER,
    latency_s         REAL,
    cached            INTEGER NOT NULL DEFAULT 0,
    cache_key         TEXT,
    error             TEXT,
    answer            TEXT    NOT NULL    -- last: SQLite writes a long one without a copy
);
CREATE INDEX IF NOT EXISTS turns_at ON turns (at);
CREATE INDEX IF NOT EXISTS turns_session ON turns (session_id);
CREATE TABLE IF NOT EXISTS titles (session_id TEXT PRIMARY KEY, title TEXT NOT NULL);
"""
# The index is brought up to date when a search needs it (`_catch_up`), not as each turn is
# written: tokenizing an answer into the index costs about as much CPU as reading it off the
# wire (5 ms for an 80,000-character answer), and the answer's cell is where that would be paid.
# `indexed` holds the last turn's id the index has (an external-content index cannot say).
_FTS = """
CREATE VIRTUAL TABLE IF NOT EXISTS turns_text USING fts5(
    prompt, answer, content='turns', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2');
DROP TRIGGER IF EXISTS turns_indexed;
CREATE TABLE IF NOT EXISTS indexed (upto INTEGER NOT NULL);
INSERT INTO indexed SELECT COALESCE((SELECT MAX(rowid) FROM turns_text_docsize), 0)
    WHERE NOT EXISTS (SELECT 1 FROM indexed);
CREATE TRIGGER IF NOT EXISTS turns_unindexed AFTER DELETE ON turns BEGIN
    INSERT INTO turns_text (turns_text, rowid, prompt, answer)
    SELECT 'delete', old.id, old.prompt, old.answer FROM indexed WHERE old.id <= indexed.upto;
END;
"""
_CATCH_UP = """
INSERT INTO turns_text (rowid, prompt, answer)
    SELECT id, prompt, answer FROM turns WHERE id > (SELECT upto FROM indexed);
UPDATE indexed SET upto = COALESCE((SELECT MAX(id) FROM turns), upto);
"""


def title_of(text: str | None, width: int = _TITLE_WIDTH) -> str | None:
    """A session's title: its first user message on one line, cut at a word near `width`."""
    if not text:
        return None
    line = " ".join(text.split())
    if len(line) <= width:
        return line or None
    cut = line.rfind(" ", width // 2, width)
    return line[:cut if cut > 0 else width - 1].rstrip() + "…"


@dataclass(frozen=True)
class LogEntry:
    """One turn: the prompt as sent, the answer (what arrived of it), and its provenance.
    `opens` is the session's first user message when this turn started the session."""
    at: datetime
    prompt: str
    answer: str
    origin: str | None = None
    notebook: str | None = None
    cell_id: str | None = None
    agent: str | None = None
    session_id: str | None = None
    message_id: str | None = None
    model: str | None = None
    usage: Usage | None = None
    latency_s: float | None = None
    cached: bool = False
    cache_key: str | None = None
    error: str | None = None
    opens: str | None = None

    def row(self) -> tuple[Any, ...]:
        """The stored row: every text masked and valid Unicode."""
        def text(value: str | None) -> str | None:
            return None if value is None else storable(mask(value))
        u = self.usage
        return (format_time(self.at), text(self.origin), text(self.notebook), text(self.cell_id),
                text(self.agent), text(self.session_id), text(self.message_id), text(self.model),
                (text(self.prompt) or "").encode("utf-8"),
                text(self.answer) or "",
                u.prompt_tokens if u else None, u.completion_tokens if u else None,
                u.total_tokens if u else None,
                None if self.latency_s is None else float(self.latency_s), int(self.cached),
                text(self.cache_key), text(self.error))

    def title(self) -> tuple[str, str] | None:
        """(session_id, title) when this turn opened its session."""
        if not self.session_id or not self.opens:
            return None
        title = title_of(storable(mask(self.opens)))
        return (storable(mask(self.session_id)), title) if title else None


@dataclass(frozen=True)
class Conversation:
    """A session this machine started on a conversing surface, for a picker to list."""
    session_id: str
    title: str | None
    origin: str | None
    notebook: str | None
    started_at: datetime
    last_at: datetime
    turns: int


# Columns of the log frame (`frames.log`), in order: what a reader looks at first.
COLUMNS = ("at", "origin", "agent", "prompt", "answer", "total_tokens", "credits", "cached",
           "error", "notebook", "cell_id", "session_id", "message_id", "model", "cache_key",
           "prompt_tokens", "completion_tokens", "latency_s")
_READ = tuple(c for c in COLUMNS if c != "credits")


def _insert(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert turns in order; a long answer a piece at a time, where this Python can."""
    short: list[tuple[Any, ...]] = []
    for row in rows:
        answer: str = row[_ANSWER_AT]
        if len(answer) <= _LONG or not hasattr(conn, "blobopen"):
            short.append((*row[:_ANSWER_AT], answer.encode("utf-8"), *row[_ANSWER_AT + 1:]))
            continue
        conn.executemany(_INSERT, short)
        short = []
        pieces = range(0, len(answer), _PIECE)
        size = sum(len(answer[at:at + _PIECE].encode("utf-8")) for at in pieces)
        row_id = conn.execute(_INSERT_LONG, (*row[:_ANSWER_AT], size,
                                             *row[_ANSWER_AT + 1:])).lastrowid
        with conn.blobopen("turns", "answer", row_id) as blob:
            for at in pieces:
                blob.write(answer[at:at + _PIECE].encode("utf-8"))
    conn.executemany(_INSERT, short)


def _like(text: str) -> str:
    return re.sub(r"([\\%_])", r"\\\1", text)


def _contains(haystack: str | None, needle: str) -> bool:
    """The plain scan's test (SQLite's own LIKE folds ASCII letters only)."""
    return haystack is not None and needle in haystack.casefold()


class Transcript:
    """One transcript file. Cheap to create: the file is opened on first use."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_path()
        self._ready = False
        self.searchable: bool | None = None   # FTS5 index present (None: not opened yet)
        self._lock = threading.Lock()
        self._warned = False

    def __repr__(self) -> str:
        return f"Transcript({str(self.path)!r})"

    # -- the file ---------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # NORMAL: in WAL mode a crash loses no committed turn
        conn = connect_store(self.path, "NORMAL", None if self._ready else self._setup)
        try:
            conn.create_function("junis_contains", 2, _contains, deterministic=True)
        except BaseException:
            conn.close()
            raise
        return conn

    def _setup(self, conn: sqlite3.Connection) -> None:
        conn.executescript(_SCHEMA)
        self.searchable = _index(conn)
        self._ready = True

    def _fail(self, exc: BaseException) -> ConfigurationError:
        self._ready = False
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            return ConfigurationError(
                f"the transcript log {self.path} is damaged ({exc}): move it aside (rename it to "
                f"{self.path.name}.damaged, say) and a new one is started with the next answer.")
        return ConfigurationError(f"cannot read the transcript log {self.path} ({exc}).")

    # -- writing ----------------------------------------------------------------------------

    def record(self, entry: LogEntry) -> None:
        """Store one turn. Never raises: a failed write is tried again, then dropped (one
        warning)."""
        self.record_many([entry])

    def record_many(self, entries: Iterable[LogEntry]) -> None:
        """Store turns in one transaction (an import, the benchmark's 100,000). Never raises."""
        try:
            entries = list(entries)
            rows = [e.row() for e in entries]
            titles = [t for t in (e.title() for e in entries) if t is not None]
        except Exception as exc:    # a malformed entry must not break the user's answer
            self._warn_once(f"junis transcript log: could not read a turn ({exc!r}).")
            return
        error: ConfigurationError | None = None
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                self._write(rows, titles)
                return
            except (sqlite3.Error, OSError) as exc:
                error = self._fail(exc)
                time.sleep(0.02 * 2 ** attempt)
        self._warn_once(f"junis: {error} The turn was not logged; answers go on.")

    def _write(self, rows: list[tuple[Any, ...]], titles: list[tuple[str, str]]) -> None:
        conn = self._connect()
        try:
            with immediate(conn):
                _insert(conn, rows)
                conn.executemany("INSERT OR IGNORE INTO titles VALUES (?, ?)", titles)
        finally:
            conn.close()

    def remember_titles(self, titles: dict[str, str]) -> None:
        """Titles read from the service (a session started elsewhere), so they are read once."""
        try:
            self._write([], [(storable(mask(s)), storable(mask(t))) for s, t in titles.items()
                             if t])
        except (sqlite3.Error, OSError):
            self._ready = False     # only a cache: the next listing reads them again

    def _warn_once(self, message: str) -> None:
        with self._lock:
            if self._warned:
                return
            self._warned = True
        warnings.warn(message, RuntimeWarning, stacklevel=4)

    # -- reading ----------------------------------------------------------------------------

    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query (an absent file holds none); a bad file is one ConfigurationError."""
        if not self.path.exists():
            return []
        try:
            conn = self._connect()
            try:
                return conn.execute(sql, params).fetchall()
            finally:
                conn.close()
        except (sqlite3.Error, OSError) as exc:
            raise self._fail(exc) from None

    def _catch_up(self) -> None:
        """Index the turns written since the last search (one transaction: several kernels may
        search at once, and each turn is indexed once)."""
        try:
            conn = self._connect()
            try:
                with immediate(conn):
                    for statement in _CATCH_UP.strip().split(";\n"):
                        conn.execute(statement)
            finally:
                conn.close()
        except (sqlite3.Error, OSError) as exc:
            raise self._fail(exc) from None

    def _where(self, q: str | None, since: Any, until: Any, agent: str | None,
               notebook: str | None, session_id: str | None) -> tuple[str, list[Any]]:
        """(FROM ... WHERE ..., its parameters). A search joins the FTS5 index, which then
        drives the query in the order it keeps (rowid), so the newest matches come first
        without sorting every match."""
        source, clauses, params = "turns", [], []
        if q and q.strip():
            if self.searchable is None:
                self._select("SELECT 1")        # opens the file: learns whether FTS5 is there
            match = fts_query(q) if self.searchable else None
            if match is not None:
                self._catch_up()
                source = "turns_text JOIN turns ON turns.id = turns_text.rowid"
                clauses.append("turns_text MATCH ?")
                params.append(match)
            else:
                for term in plain_terms(q):
                    clauses.append("(junis_contains(turns.prompt, ?) OR "
                                   "junis_contains(CAST(turns.answer AS TEXT), ?))")
                    params += [term.casefold()] * 2
        for clause, value in (("turns.at >= ?", since), ("turns.at < ?", until)):
            if value is not None:
                clauses.append(clause)
                params.append(bound(value))
        if agent:
            clauses.append("turns.agent = ? COLLATE NOCASE")
            params.append(agent)
        if notebook:
            clauses.append("(turns.notebook = ? OR turns.notebook LIKE ? ESCAPE '\\')")
            params += [notebook, "%/" + _like(notebook.lstrip("/"))]
        if session_id:
            clauses.append("turns.session_id = ?")
            params.append(session_id)
        return f" FROM {source}" + (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def rows(self, q: str | None = None, since: Any = None, until: Any = None,
             agent: str | None = None, notebook: str | None = None,
             session_id: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Matching turns, oldest first; `limit`: only the newest that many (the last logged)."""
        where, params = self._where(q, since, until, agent, notebook, session_id)
        columns = ", ".join("CAST(turns.answer AS TEXT) AS answer" if c == "answer"
                            else f"turns.{c}" for c in _READ)
        if limit is None:
            sql = f"SELECT {columns}{where} ORDER BY turns.at, turns.id"
        else:
            newest = "turns_text.rowid" if "turns_text" in where else "turns.id"  # the same id
            sql = (f"SELECT {', '.join(_READ)} FROM (SELECT {columns}, turns.id AS turn{where} "
                   f"ORDER BY {newest} DESC LIMIT ?) ORDER BY at, turn")
            params.append(int(limit))
        return [dict(zip(_READ, r, strict=True)) for r in self._select(sql, params)]

    def count(self, q: str | None = None, since: Any = None, until: Any = None,
              agent: str | None = None, notebook: str | None = None,
              session_id: str | None = None) -> int:
        where, params = self._where(q, since, until, agent, notebook, session_id)
        found = self._select(f"SELECT COUNT(*){where}", params)
        return int(found[0][0]) if found else 0

    def frame(self, q: str | None = None, since: Any = None, until: Any = None,
              agent: str | None = None, notebook: str | None = None,
              session_id: str | None = None, limit: int | None = None) -> pd.DataFrame:
        """`rows()` as the log frame; credits estimated per turn (credits.py)."""
        from .credits import estimate
        from .schemas import build
        rows = self.rows(q, since, until, agent, notebook, session_id, limit)
        columns: dict[str, list[Any]] = {c: [r[c] for r in rows] for c in _READ}
        columns["cached"] = [bool(v) for v in columns["cached"]]
        columns["credits"] = [estimate(t) for t in columns["total_tokens"]]
        return build("log", columns)

    def titles(self) -> dict[str, str]:
        return {s: t for s, t in self._select("SELECT session_id, title FROM titles")}

    def origins(self) -> dict[str, tuple[str | None, str | None, str | None]]:
        """session_id -> (origin, notebook, cell_id) of the session's first logged turn."""
        found = self._select(
            "SELECT t.session_id, t.origin, t.notebook, t.cell_id FROM turns t WHERE t.id IN "
            "(SELECT MIN(id) FROM turns WHERE session_id IS NOT NULL GROUP BY session_id)")
        return {s: (o, n, c) for s, o, n, c in found}

    def conversations(self, limit: int = 20,
                      origins: Sequence[str] = CONVERSATION_ORIGINS) -> list[Conversation]:
        """Sessions started on these surfaces, the most recently active first."""
        marks = ", ".join("?" * len(origins))
        found = self._select(
            "WITH s AS (SELECT session_id, MIN(id) AS first, MAX(at) AS last, COUNT(*) AS n "
            "FROM turns WHERE session_id IS NOT NULL GROUP BY session_id) "
            "SELECT s.session_id, ti.title, t.origin, t.notebook, t.at, s.last, s.n FROM s "
            "JOIN turns t ON t.id = s.first LEFT JOIN titles ti ON ti.session_id = s.session_id "
            f"WHERE t.origin IN ({marks}) ORDER BY s.last DESC LIMIT ?", [*origins, int(limit)])
        return [Conversation(s, title, origin, notebook, parse_time(first), parse_time(last), n)
                for s, title, origin, notebook, first, last, n in found]


def _index(conn: sqlite3.Connection) -> bool:
    """Make the FTS5 index (and its triggers) if this SQLite has FTS5; whether it is there."""
    try:
        conn.executescript(_FTS)
        return True
    except sqlite3.OperationalError as exc:
        if "fts5" not in str(exc):
            raise
        return False


# -- the default log -------------------------------------------------------------------------

_switch: bool | None = None      # configure()'s word; None: the environment decides
_logs: dict[Path, Transcript] = {}
_logs_lock = threading.Lock()


def enabled() -> bool:
    """Whether turns are logged: `configure(enabled=...)` if called, else JUNIS_LOG (on unless
    it is off, 0, false or no)."""
    if _switch is not None:
        return _switch
    return os.environ.get(SWITCH_ENV, "").strip().lower() not in _OFF


def configure(enabled: bool | None = True) -> None:
    """Log turns (True), or not (False), in this process from now on; None: as JUNIS_LOG says."""
    global _switch
    _switch = enabled


def default_path() -> Path:
    """`transcript.sqlite3` in the usage ledger's folder ($JUNIS_HOME, else the data folder)."""
    return ledger_path().with_name(FILENAME)


def default_transcript() -> Transcript:
    """The log at `default_path()`, resolved now (a changed JUNIS_HOME is followed)."""
    path = default_path()
    with _logs_lock:
        if path not in _logs:
            _logs[path] = Transcript(path)
        return _logs[path]


def record(entry: LogEntry) -> None:
    """What the answer pipeline calls for every turn: logged unless logging is off."""
    if enabled():
        default_transcript().record(entry)


def session_origins() -> dict[str, str | None]:
    """session_id -> the surface that started it (cell, panel, batch, ...), for every session
    in the log. Never raises: a log that cannot be read knows none."""
    try:
        return {s: found[0] for s, found in default_transcript().origins().items()}
    except ConfigurationError:
        return {}


def recent_conversations(limit: int = 20) -> list[Conversation]:
    """The conversations this machine started (cells, background cells, the panel, Jupyter AI's
    chat; not batch rows), the most recently active first, with their titles: what a session
    picker lists. Never raises: a log that cannot be read lists nothing."""
    try:
        return default_transcript().conversations(limit)
    except ConfigurationError:
        return []
