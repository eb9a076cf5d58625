"""Agents, sessions, messages, usage and the transcript log as pandas DataFrames: the fetchers
users call.

`from junis_jupyter import frames` is this module. Each frame has one fixed schema (`schemas`),
built from the client's objects by `converters` (sessions joined to what this machine knows of
them by `session_facts`); this module only fetches. Many sessions' messages are fetched on the
pool (`client.pool`): within a concurrency cap, riding out rate limits, with a progress bar when
there are more than a handful.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..client.pool import run_threads
from . import provenance as _provenance
from .converters import (
    agents_from_objects,
    messages_from_objects,
    messages_from_records,
)
from .default_client import sync_client
from .ledger import Ledger
from .parquet import to_parquet
from .progress import progress_bar
from .schemas import SCHEMAS, empty
from .session_facts import FETCHED_TITLES, agents_in, sessions_frame
from .transcript import Transcript

if TYPE_CHECKING:
    import pandas as pd

    from ..client.sync import JunisClient

__all__ = ["SCHEMAS", "agents", "sessions", "messages", "messages_from_records",
           "messages_from_objects", "usage", "log", "session_agents", "provenance",
           "to_parquet", "empty"]

_PAGE = 100


def agents(client: JunisClient | None = None) -> pd.DataFrame:
    """The organisation's agents (GET /agents)."""
    with sync_client(client) as c:
        return agents_from_objects(c.agents())


def sessions(client: JunisClient | None = None, *,
             fetch_titles: int | None = FETCHED_TITLES) -> pd.DataFrame:
    """Every session of the key, all pages, newest activity first, with what this machine knows
    of each: its title (first user message), where it was started (origin, notebook, cell_id)
    and its cost (total_tokens, estimated credits).

    Sessions this machine did not log get their title from their messages: the newest
    `fetch_titles` of them (a request each; None: all of them, 0: none), remembered afterwards.
    """
    with sync_client(client) as c:
        return sessions_frame(c.sessions(page_size=_PAGE), c, fetch_titles)


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


def session_agents(client: JunisClient | None = None,
                   session_ids: Iterable[str] | str | None = None) -> pd.DataFrame:
    """Who took part in these sessions (an orchestrated session hands turns to several agents):
    one row per session and agent, with its answers, tokens and estimated credits."""
    if session_ids is None:
        raise ValueError("session_agents needs the session ids (one, or several).")
    return agents_in(messages(client, session_ids))


def log(q: str | None = None, since: datetime | str | None = None,
        until: datetime | str | None = None, agent: str | None = None,
        notebook: str | None = None, *, session_id: str | None = None,
        limit: int | None = None, path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Turns from the local transcript log (default: this user's), oldest first.

    `q` searches prompts and answers: words in any case, each matching the start of a word
    (`churn` finds "Churn" and "churning"), all of them in the same turn; "a quoted phrase"
    matches words in a row. `since` <= at < `until`; `agent` (any case) and `notebook` (its path,
    or its file name) narrow it; `limit` keeps the newest that many. Credits are estimated.
    """
    return Transcript(path).frame(q, since, until, agent, notebook, session_id, limit)


def provenance(notebook: str | os.PathLike[str] | Any) -> pd.DataFrame:
    """The answers of a saved notebook (a path, or what nbformat read) and where each came
    from: session, message id, agent, model, cache key and hit, package version, time."""
    return _provenance.from_notebook(notebook)
