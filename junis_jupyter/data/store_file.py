"""Opening one of the local stores' SQLite files (the usage ledger, the transcript log) the way
both need: a connection per operation, since calls are recorded from worker threads and forked
processes and a sqlite3 connection must cross neither; waiting up to BUSY_TIMEOUT_S for another
writer (other kernels write the same files); in WAL mode, so readers never block a writer."""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["BUSY_TIMEOUT_S", "connect_store", "immediate"]

BUSY_TIMEOUT_S = 10.0


def connect_store(path: Path, synchronous: str,
                  setup: Callable[[sqlite3.Connection], None] | None = None) -> sqlite3.Connection:
    """A connection to `path` in autocommit mode. `setup` (making the schema) is given on a
    process's first connection: the folder is made and WAL set (persistent: stored in the file)
    before it runs. The connection is closed if anything here fails."""
    if setup is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        if setup is not None:
            conn.execute("PRAGMA journal_mode = WAL")
            setup(conn)
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction on an autocommit connection, its write lock taken at the start (a
    writer waits at BEGIN, never half-way), rolled back if the block fails."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
