"""Which Junis session each chat file continues, kept on this machine across server restarts.

One row per chat file (by its absolute path) in `chats.sqlite3`, beside the usage ledger (under
JUNIS_HOME when it is set). The session id is not written into the `.chat` file: a chat file is
shared with other people, whose keys cannot continue this machine's sessions, so a chat that
arrives from elsewhere (or was renamed, or whose row was lost) is unknown here and is continued
from its own messages instead (history.py).

Several Jupyter servers may share the file: each call is its own short transaction, waiting on
a busy timeout.
"""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from ..data import ledger

__all__ = ["ChatSessions", "default_path"]

FILENAME = "chats.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS chat_sessions (
    chat        TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
)"""


def default_path() -> Path:
    """Beside the usage ledger: `$JUNIS_HOME/chats.sqlite3`, else the user's data directory."""
    return ledger.default_path().with_name(FILENAME)


class ChatSessions:
    """chat file -> Junis session id."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10.0)
        if not self._ready:
            conn.execute(_SCHEMA)
            conn.commit()
            self._ready = True
        return conn

    def get(self, chat: str) -> str | None:
        conn = self._connect()
        try:
            row = conn.execute("SELECT session_id FROM chat_sessions WHERE chat = ?",
                               (chat,)).fetchone()
        finally:
            conn.close()
        return row[0] if row else None

    def remember(self, chat: str, session_id: str) -> None:
        now = datetime.now(timezone.utc).isoformat()
        conn = self._connect()
        try:
            with conn:
                conn.execute("INSERT INTO chat_sessions (chat, session_id, updated_at) "
                             "VALUES (?, ?, ?) ON CONFLICT(chat) DO UPDATE SET "
                             "session_id = excluded.session_id, updated_at = excluded.updated_at",
                             (chat, session_id, now))
        finally:
            conn.close()

    def forget(self, chat: str) -> None:
        conn = self._connect()
        try:
            with conn:
                conn.execute("DELETE FROM chat_sessions WHERE chat = ?", (chat,))
        finally:
            conn.close()
