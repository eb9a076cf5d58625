"""Sessions with meaning: the service's listing joined to what this machine knows of each.

The service lists a session's id, times and message count, so 70 sessions look alike. This
machine knows more: its transcript log holds each session's first user message (the `title`) and
where it was started (`origin`, `notebook`, `cell_id`); its usage ledger what each session's calls
cost (`total_tokens`, estimated `credits`). A session started elsewhere has no origin here; its
title (and, if this machine never called it, its tokens) are read from its messages, a request
per session, for the newest few only, and the titles are remembered in the log.

Also who took part in a session: `agents_in(messages)` sums an orchestrated session by agent.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..client.pool import run_threads
from ..errors import ConfigurationError, JunisError
from . import credits, transcript
from .ledger import default_ledger

if TYPE_CHECKING:
    import pandas as pd

    from ..client.sync import JunisClient
    from ..client.types import Message, Session

__all__ = ["sessions_frame", "agents_in", "FETCHED_TITLES"]

FETCHED_TITLES = 20     # sessions started elsewhere whose messages a listing reads, newest first


def _local(read: Any, empty: Any) -> Any:
    """What a local file says, or `empty` with a warning when it cannot be read: the listing
    itself comes from the service and should still be shown."""
    try:
        return read()
    except ConfigurationError as exc:
        warnings.warn(f"junis: {exc} The sessions are listed without it.", RuntimeWarning,
                      stacklevel=4)
        return empty


def _spend() -> tuple[dict[str, list[int]], dict[str, tuple[Any, Any, Any]]]:
    """From the usage ledger: session -> [tokens, credits] of its chat calls from here, and
    session -> (origin, notebook, cell_id) of its first tagged call."""
    spent: dict[str, list[int]] = {}
    began: dict[str, tuple[Any, Any, Any]] = {}
    for session_id, tokens, origin, notebook, cell_id in _local(
            default_ledger().session_calls, []):
        total = spent.setdefault(session_id, [0, 0])
        total[0] += tokens or 0
        total[1] += credits.estimate(tokens)
        if origin is not None:
            began.setdefault(session_id, (origin, notebook, cell_id))
    return spent, began


def _read_messages(client: JunisClient, ids: list[str]) -> dict[str, list[Message]]:
    """Each session's messages (a session that cannot be read is left out, not an error)."""
    if not ids:
        return {}
    # No progress bar: a listing stays one table (at most FETCHED_TITLES quick requests).
    done = run_threads(lambda sid: client.messages(sid), ids, concurrency=5,
                       catch=(JunisError,), name="junis-titles")
    if done.interrupted is not None:
        raise done.interrupted
    return {sid: found for sid, found in zip(ids, done.outcomes, strict=True)
            if isinstance(found, list)}


def sessions_frame(found: Sequence[Session], client: JunisClient,
                   fetch_titles: int | None = FETCHED_TITLES) -> pd.DataFrame:
    """The sessions frame of `found` (the service's listing, newest activity first).
    `fetch_titles`: how many untitled sessions, newest first, to read the messages of (None:
    all; 0: none)."""
    from .schemas import build
    log = transcript.default_transcript()
    titles: dict[str, str] = _local(log.titles, {})
    logged: dict[str, tuple[Any, Any, Any]] = _local(log.origins, {})
    spent, began = _spend()
    untitled = [s.session_id for s in found
                if s.session_id not in titles and s.message_count != 0]
    read = _read_messages(client, untitled[:fetch_titles])
    fetched: dict[str, str] = {}
    for sid, messages in read.items():
        first = next((m.content for m in messages if m.role == "user" and m.content), None)
        title = transcript.title_of(first)
        if title:
            fetched[sid] = titles[sid] = title
        if sid not in spent:
            answers = [m.usage.total_tokens for m in messages if m.usage is not None]
            spent[sid] = [sum(answers), sum(credits.estimate(t) for t in answers)]
    if fetched and transcript.enabled():
        log.remember_titles(fetched)
    where = [logged.get(s.session_id) or began.get(s.session_id) or (None, None, None)
             for s in found]
    cost = [spent.get(s.session_id) for s in found]
    return build("sessions", {
        "session_id": [s.session_id for s in found],
        "title": [titles.get(s.session_id) for s in found],
        "origin": [w[0] for w in where], "notebook": [w[1] for w in where],
        "cell_id": [w[2] for w in where],
        "created_at": [s.created_at for s in found],
        "last_update_time": [s.last_update_time for s in found],
        "is_active": [s.is_active for s in found],
        "message_count": [s.message_count for s in found],
        "total_tokens": [c[0] if c else None for c in cost],
        "credits": [c[1] if c else None for c in cost],
    })


def agents_in(messages: pd.DataFrame) -> pd.DataFrame:
    """Who answered in each session of a messages frame, with their tokens and estimated credits
    (one row per session and agent, in the order each agent first answered)."""
    import pandas as pd

    from .schemas import build
    answers = messages[messages["role"] == "assistant"]
    keys = [answers["session_id"], answers["agent_name"].fillna("(unnamed)")]
    rows = []
    for (session_id, agent), group in answers.groupby(keys, sort=False):
        tokens = group["total_tokens"]
        rows.append({"session_id": session_id, "agent": agent, "answers": len(group),
                     "prompt_tokens": int(group["prompt_tokens"].sum()),
                     "completion_tokens": int(group["completion_tokens"].sum()),
                     "total_tokens": int(tokens.sum()),
                     "credits": sum(credits.estimate(None if pd.isna(t) else int(t))
                                    for t in tokens),
                     "first_at": group["created_at"].min(), "last_at": group["created_at"].max()})
    names = ("session_id", "agent", "answers", "prompt_tokens", "completion_tokens",
             "total_tokens", "credits", "first_at", "last_at")
    return build("session_agents", {n: [r[n] for r in rows] for n in names})
