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
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..client.types import Usage
from . import ledger

__all__ = ["CacheMode", "CachedAnswer", "AnswerCache", "answer_key", "default_path", "CACHE_ENV"]

CACHE_ENV = "JUNIS_CACHE"
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


def answer_key(agent: str | None, history: Iterable[tuple[str | None, str, str]], prompt: str,
               options: Mapping[str, Any]) -> str:
    """`history`: the (agent, prompt, answer) of each turn the asked one follows."""
    import hashlib      # at the first cached cell, not at %load_ext (OpenSSL's load is slow)
    material = {"agent": agent, "history": [list(turn) for turn in history],
                "prompt": prompt, "options": dict(sorted(options.items()))}
    # surrogatepass: a prompt may hold lone surrogates (undecodable bytes); the client refuses
    # those with its own clear line, the key must not fail first
    return hashlib.sha256(json.dumps(material, ensure_ascii=False)
                          .encode("utf-8", "surrogatepass")).hexdigest()


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
    stored_at         TEXT NOT NULL
)"""


class AnswerCache:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._broken = False

    def _connect(self, create: bool) -> sqlite3.Connection | None:
        if self._broken:
            return None
        if self._db is None:
            if not create and not self.path.exists():
                return None
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=10)
                db.execute(_SCHEMA)
                db.execute("SELECT key FROM answers LIMIT 1").fetchall()
            except (sqlite3.Error, OSError) as exc:
                self._give_up(exc)
                return None
            self._db = db
        return self._db

    def _give_up(self, exc: BaseException) -> None:
        self._broken = True
        warnings.warn(f"Junis: the answer cache {self.path} cannot be used ({exc}); every answer "
                      "is asked anew and the file is left as it is.", stacklevel=3)

    def get(self, key: str) -> CachedAnswer | None:
        db = self._connect(create=False)
        if db is None:
            return None
        try:
            row = db.execute("SELECT answer, session_id, agent, prompt_tokens, completion_tokens, "
                             "total_tokens FROM answers WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            self._give_up(exc)
            return None
        if row is None:
            return None
        return CachedAnswer(row[0], row[1], row[2], Usage(row[3], row[4], row[5]))

    def put(self, key: str, recorded: CachedAnswer) -> None:
        db = self._connect(create=True)
        if db is None:
            return
        u = recorded.usage
        stamp = datetime.now(timezone.utc).isoformat()
        try:
            with db:
                db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (key, recorded.answer, recorded.session_id, recorded.agent,
                            u.prompt_tokens, u.completion_tokens, u.total_tokens, stamp))
        except sqlite3.Error as exc:
            self._give_up(exc)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
