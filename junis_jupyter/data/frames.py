"""Agents, sessions, messages and usage as pandas DataFrames: the fetchers users call.

`from junis_jupyter import frames` is this module. Each frame has one fixed schema (`schemas`),
built from the client's objects by `converters`; this module only fetches. Many sessions'
messages are fetched on the pool (`client.pool`): within a concurrency cap, riding out rate
limits, with a progress bar when there are more than a handful.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from ..client.pool import run_threads
from .converters import (
    agents_from_objects,
    messages_from_objects,
    messages_from_records,
    sessions_from_objects,
)
from .default_client import sync_client
from .ledger import Ledger
from .parquet import to_parquet
from .progress import progress_bar
from .schemas import SCHEMAS, empty

if TYPE_CHECKING:
    import pandas as pd

    from ..client.sync import JunisClient

__all__ = ["SCHEMAS", "agents", "sessions", "messages", "messages_from_records",
           "messages_from_objects", "usage", "to_parquet", "empty"]

_PAGE = 100


def agents(client: JunisClient | None = None) -> pd.DataFrame:
    """The organisation's agents (GET /agents)."""
    with sync_client(client) as c:
        return agents_from_objects(c.agents())


def sessions(client: JunisClient | None = None) -> pd.DataFrame:
    """Every session of the key, all pages, newest activity first."""
    with sync_client(client) as c:
        return sessions_from_objects(c.sessions(page_size=_PAGE))


def messages(client: JunisClient | None = None, session_ids: Iterable[str] | str | None = None,
             *, concurrency: int = 5, progress: bool | None = None) -> pd.DataFrame:
    """Messages of the given sessions (default: all sessions), in session order then position.

    Sessions are fetched `concurrency` at a time: the Basic plan allows 5 requests in flight,
    Pro 20. A rate limit pauses every fetch for the server's wait, then the session is fetched
    again. A progress bar shows when there are more than a handful of sessions (`progress`
    forces it on or off). Any other error, or Ctrl-C, stops the fetching and is raised.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1.")
    with sync_client(client) as c:
        if session_ids is None:
            ids = [s.session_id for s in c.sessions(page_size=_PAGE)]
        elif isinstance(session_ids, str):
            ids = [session_ids]
        else:
            ids = list(dict.fromkeys(session_ids))     # unique, order kept
        with progress_bar(len(ids), "messages", "req", progress, leave=False) as bar:
            done = run_threads(lambda sid: c.messages(sid, page_size=_PAGE), ids,
                               concurrency=concurrency, catch=(), progress=bar,
                               name="junis-messages")
    if done.interrupted is not None:
        raise done.interrupted
    return messages_from_objects([m for found in done.outcomes for m in found])


def usage(since: datetime | str | None = None, until: datetime | str | None = None,
          path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Calls recorded in the usage ledger (default: this user's), since <= started_at < until."""
    return Ledger(path).frame(since, until)
