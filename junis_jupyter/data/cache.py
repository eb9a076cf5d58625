"""Recorded answers, so a re-run notebook need not ask again, and CI can replay it with no key.

The key of an answer is everything that decides it: the agent, the conversation the turn
continues (the chain's turns before it), the prompt after interpolation, and the options that
change the answer. The store is one SQLite file holding answers and hashes, never a key or a
prompt in clear. A file that cannot be read gives one warning and then behaves as empty; it is
not written over, so nothing in it is lost.
"""
from __future__ import annotations

import enum
import json
import os
import sqlite3
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import ledger
from .text import storable

if TYPE_CHECKING:
    from ..client.types import Usage

__all__ = ["CacheMode", "CachedAnswer", "AnswerCache", "answer_key", "default_path", "CACHE_ENV",
           "CACHE_PATH_ENV", "BATCH_DEFAULTS", "batch_cache", "env_mode"]

CACHE_ENV = "JUNIS_CACHE"
CACHE_PATH_ENV = "JUNIS_CACHE_PATH"
SUFFIX = ".junis-cache.sqlite"


class CacheMode(enum.Enum):
    OFF = "off"            # always ask, store nothing
    USE = "use"            # a hit is shown at once; a miss asks and stores
    REPLAY = "replay"      # a hit is shown; a miss is an error and nothing touches the network
    REFRESH = "refresh"    # always ask, store the new answer


@dataclass(frozen=True)
class CachedAnswer:
    answer: str
    session_id: str | None
    agent: str | None
    usage: Usage
    message_id: str | None = None   # the recorded answer's, for its provenance (None: an older
    model: str | None = None        # file's row, recorded before they were kept)


def answer_key(agent: str | None, history: Iterable[tuple[str | None, str, str]], prompt: str,
               options: Mapping[str, Any]) -> str:
    """`history`: the (agent, prompt, answer) of each turn the asked one follows."""
    import hashlib  # at the first cached cell, not at %load_ext (OpenSSL's load is slow)
    material = {"agent": agent, "history": [list(turn) for turn in history],
                "prompt": prompt, "options": dict(sorted(options.items()))}
    # surrogatepass: a prompt may hold lone surrogates (undecodable bytes); the client refuses
    # those with its own clear line, the key must not fail first
    return hashlib.sha256(json.dumps(material, ensure_ascii=False)
                          .encode("utf-8", "surrogatepass")).hexdigest()


# Where a batch (`ask_many`, `df.junis.ask`) finds its cache when the caller names no mode: the
# IPython extension puts a function here that gives `JunisMagics.cache` and the cell's cache
# file, so a notebook's cells and batches share one (notebook/extension.py installs and removes it).
BATCH_DEFAULTS: list[Callable[[], tuple[CacheMode, Path]]] = []


def env_mode() -> CacheMode:
    """$JUNIS_CACHE's mode (off when unset); a value that is no mode is one clear error."""
    from ..errors import ConfigurationError
    value = os.environ.get(CACHE_ENV, "").strip().lower() or "off"
    try:
        return CacheMode(value)
    except ValueError:
        raise ConfigurationError(f"{CACHE_ENV}={value!r} is not a cache mode: use one of "
                                 f"{', '.join(m.value for m in CacheMode)}.") from None


def batch_cache() -> tuple[CacheMode, Path]:
    """A batch's default mode and cache file: the extension's, else $JUNIS_CACHE's mode and
    $JUNIS_CACHE_PATH (else the user data directory)."""
    if BATCH_DEFAULTS:
        return BATCH_DEFAULTS[-1]()
    chosen = os.environ.get(CACHE_PATH_ENV)
    return env_mode(), Path(chosen).expanduser() if chosen else default_path(None)


def default_path(notebook: str | None) -> Path:
    """Beside the notebook when its path is known, else in the user data directory."""
    if notebook:
        path = Path(notebook)
        return path.with_name(path.stem + SUFFIX)
    return ledger.default_path().parent / ("answers" + SUFFIX)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key               TEXT PRIMARY KEY,
    answer            TEXT NOT NULL,
    session_id        TEXT,
    agent             TEXT,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    total_tokens      INTEGER NOT NULL,
    stored_at         TEXT NOT NULL,
    message_id        TEXT,
    model             TEXT
)"""
# Added to the table after its first release: a file made before them gains them when opened.
_ADDED = (("message_id", "TEXT"), ("model", "TEXT"))
# The answer goes in as UTF-8 bytes, cast to text by SQLite: handed a str, the sqlite3 module
# keeps its UTF-8 form inside the str for the str's life (a second copy of a long answer).
_PUT = ("INSERT OR REPLACE INTO answers (key, answer, session_id, agent, prompt_tokens, "
        "completion_tokens, total_tokens, stored_at, message_id, model) "
        "VALUES (?, CAST(? AS TEXT), ?, ?, ?, ?, ?, ?, ?, ?)")


class AnswerCache:
    """One cache file. Safe to share between threads (a batch's workers): one connection, used
    under a lock."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._broken = False
        self._lock = threading.RLock()

    def _connect(self, create: bool) -> sqlite3.Connection | None:
        if self._broken:
            return None
        if self._db is None:
            if not create and not self.path.exists():
                return None
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
                db.execute(_SCHEMA)
                have = {row[1] for row in db.execute("PRAGMA table_info(answers)")}
                for name, kind in _ADDED:
                    if name not in have:
                        db.execute(f"ALTER TABLE answers ADD COLUMN {name} {kind}")
                db.execute("SELECT key FROM answers LIMIT 1").fetchall()
            except (sqlite3.Error, OSError, ValueError) as exc:   # ValueError: a NUL in the path
                self._give_up(exc)
                return None
            self._db = db
        return self._db

    def _give_up(self, exc: BaseException) -> None:
        self._broken = True
        warnings.warn(f"Junis: the answer cache {self.path} cannot be used ({exc}); every answer "
                      "is asked anew and the file is left as it is.", stacklevel=3)

    def get(self, key: str) -> CachedAnswer | None:
        with self._lock:
            return self._get(key)

    def _get(self, key: str) -> CachedAnswer | None:
        db = self._connect(create=False)
        if db is None:
            return None
        try:
            row = db.execute("SELECT answer, session_id, agent, prompt_tokens, completion_tokens, "
                             "total_tokens, message_id, model FROM answers WHERE key = ?",
                             (key,)).fetchone()
        except sqlite3.Error as exc:
            self._give_up(exc)
            return None
        if row is None:
            return None
        from ..client.types import Usage  # at the first cached answer, not at %load_ext
        return CachedAnswer(row[0], row[1], row[2], Usage(row[3], row[4], row[5]), row[6], row[7])

    def put(self, key: str, recorded: CachedAnswer) -> None:
        with self._lock:
            self._put(key, recorded)

    def _put(self, key: str, recorded: CachedAnswer) -> None:
        db = self._connect(create=True)
        if db is None:
            return
        u = recorded.usage
        stamp = datetime.now(timezone.utc).isoformat()
        try:
            with db:
                db.execute(_PUT, (key, storable(recorded.answer).encode("utf-8"),
                                  recorded.session_id, recorded.agent, u.prompt_tokens,
                                  u.completion_tokens, u.total_tokens, stamp,
                                  recorded.message_id, recorded.model))
        except sqlite3.Error as exc:
            self._give_up(exc)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
