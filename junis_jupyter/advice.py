"""One table from an error to one line for the user: what happened, then what to do.

What happened is worded once per error kind; the remedy is worded per surface, since a cell, the
chat panel, a batch row and the Jupyter AI chat are fixed in different ways ("run the cell again",
"press New chat", "run the batch again for the failed rows", "send /new"). The Jupyter AI chat
runs in the Jupyter server, where `%junis login` never reaches: its key advice names
`junis-jupyter login` and the server's environment instead. It sits beside `errors.py`, not in
`notebook/`, because batches (in `data/`) and the persona (in `jupyter_ai/`) word their errors
with it too.
"""
from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from . import errors

__all__ = ["Surface", "advise", "what_happened"]


class Surface(enum.Enum):
    """Where the line is shown: the remedy depends on it."""
    CELL = "cell"
    PANEL = "panel"
    BATCH = "batch"
    CHAT = "chat"           # the Jupyter AI persona, in the Jupyter server process


_SCOPE = re.compile(r"\b(?:orchestrator|agents|sessions):[a-z_]+\b")
_AGAIN = {Surface.CELL: "run the cell again", Surface.PANEL: "send it again",
          Surface.BATCH: "run the batch again for the failed rows",
          Surface.CHAT: "send it again"}


E = TypeVar("E", bound=BaseException)


@dataclass(frozen=True)
class _Entry:
    cls: type[BaseException]
    matches: Callable[[Any], bool]
    what: Callable[[Any, str | None], str]
    remedy: Callable[[Any, Surface], str]


def _row(cls: type[E], matches: Callable[[E], bool], what: Callable[[E, str | None], str],
         remedy: Callable[[E, Surface], str]) -> _Entry:
    """One entry of the table; its functions are only ever called with a `cls` (checked: the
    type checker sees `e.message` on an APIError, not on any exception)."""
    return _Entry(cls, matches, what, remedy)


def _code(exc: BaseException, default: str) -> str:
    return getattr(exc, "code", None) or default


def _scope(exc: BaseException) -> str | None:
    found = _SCOPE.search(getattr(exc, "message", None) or "")
    return found.group(0) if found else None


def _wait(exc: BaseException) -> str:
    wait = getattr(exc, "retry_after", None)
    return f"wait {wait:.0f} s" if wait is not None else "wait a moment"


def _always(exc: BaseException) -> bool:
    return True


def _remedy(text: str) -> Callable[[BaseException, Surface], str]:
    return lambda exc, surface: text


def _unless_chat(text: str, chat: str) -> Callable[[BaseException, Surface], str]:
    """One remedy for the kernel's surfaces, another for the chat in the Jupyter server."""
    return lambda exc, surface: chat if surface is Surface.CHAT else text


# How the Jupyter server gets a key: `%junis login` is a kernel's, and never reaches it.
_SERVER_KEY = ("run `junis-jupyter login` in a terminal (it stores the key for your user; the "
               "next message uses it), or set JUNIS_API_KEY in the Jupyter server's environment "
               "and restart the server. `%junis login` in a notebook sets a key for that kernel "
               "only")


def _connection_where(exc: BaseException, base_url: str | None) -> str:
    if base_url and base_url not in str(exc):
        return f"{base_url}: {exc}"
    return str(exc)


_SESSION_GONE = {
    Surface.CELL: "use `--new`, or pick one from `%junis sessions`.",
    Surface.PANEL: "press New chat to start another.",
    Surface.BATCH: "leave session_id out, or pick one from `frames.sessions()`.",
    Surface.CHAT: "send /new to start a fresh session.",
}

_PICK = {Surface.CELL: "use --agent {names}, or leave --agent out for the Orchestrator",
         Surface.PANEL: "pick {names} or the Orchestrator in the Agent list",
         Surface.BATCH: "pass agent= {names}, or leave it out for the Orchestrator",
         Surface.CHAT: "pick {names} or the Orchestrator in the model picker"}


def _other_agents(exc: errors.AgentNotInvocableError, surface: Surface) -> str:
    """The agents that can be asked, named, as each surface picks one."""
    names = " or ".join(", ".join(exc.alternatives).rsplit(", ", 1)) if exc.alternatives else \
        "an LLM agent (the `invocable` column of `%junis agents`)"
    return _PICK[surface].format(names=names) + "."


# First match wins: subclasses and code-specific entries come before the general ones.
_TABLE: tuple[_Entry, ...] = (
    _row(errors.MissingKeyError, _always, lambda e, u: "no Junis API key is set",
           _unless_chat("run `%junis login`, set the JUNIS_API_KEY environment variable, run "
                        "`junis-jupyter login` in a terminal, or pass api_key=... to the client.",
                        _SERVER_KEY + ".")),
    _row(errors.AgentNotInvocableError, _always,
           lambda e, u: f"{e.message.rstrip('.')} (400 agent_not_invocable)",
           _other_agents),
    _row(errors.ConfigurationError, _always, lambda e, u: str(e), _remedy("")),
    _row(errors.StreamError, _always,
           lambda e, u: f"the answer broke off mid-stream ({e.message})",
           lambda e, s: {Surface.CELL: "the text that arrived is kept above; run the cell again "
                                       "to retry.",
                         Surface.PANEL: "the text that arrived is kept; send it again to retry.",
                         Surface.BATCH: "the text that arrived is kept; run the batch again for "
                                        "the failed rows.",
                         Surface.CHAT: "the text that arrived is kept above; send it again to "
                                       "retry."}[s]),
    _row(errors.AuthenticationError, _always,
           lambda e, u: f"the API key was refused (401 {_code(e, 'invalid_api_key')})",
           _unless_chat("check it, then run `%junis login` or set JUNIS_API_KEY.",
                        "check the key the Jupyter server uses (JUNIS_API_KEY in its environment, "
                        "else the one `junis-jupyter login` stored); to set another, "
                        + _SERVER_KEY + ".")),
    _row(errors.InsufficientCreditsError, _always,
           lambda e, u: f"no credits left for this call (402 {_code(e, 'insufficient_credits')})",
           _remedy("top up the organisation's credits in the Junis dashboard.")),
    _row(errors.PermissionDeniedError, lambda e: e.code == "subscription_required",
           lambda e, u: "the organisation has no active subscription (403 subscription_required)",
           _remedy("the External API needs a Basic or Pro plan.")),
    _row(errors.PermissionDeniedError, lambda e: _scope(e) is not None,
           lambda e, u: f"this API key lacks the scope `{_scope(e)}` "
                        f"(403 {_code(e, 'scope_not_allowed')})",
           _unless_chat("create a key with it in the Junis dashboard (API Keys), then "
                        "`%junis login`.",
                        "create a key with it in the Junis dashboard (API Keys), then run "
                        "`junis-jupyter login` in a terminal.")),
    _row(errors.PermissionDeniedError, _always,
           lambda e, u: f"permission denied (403 {_code(e, 'permission_denied')}): {e.message}",
           _remedy("check the key's scopes in the Junis dashboard (API Keys).")),
    _row(errors.RateLimitError, _always,
           lambda e, u: f"rate limited (429 {_code(e, 'rate_limit_exceeded')}: "
                        f"{e.message.rstrip('.')})",
           lambda e, s: f"{_wait(e)} and {_AGAIN[s]}."),
    _row(errors.NotFoundError, lambda e: e.code == "session_not_found",
           lambda e, u: "that session does not exist (404 session_not_found)",
           lambda e, s: _SESSION_GONE[s]),
    _row(errors.NotFoundError, _always,
           lambda e, u: f"not found: {e.message.rstrip('.')} (404 {_code(e, 'not_found')})",
           _unless_chat("check the agent in `%junis agents` and the session in `%junis sessions`.",
                        "pick another agent in the chat's model picker, or send /new.")),
    _row(errors.BadRequestError, _always,
           lambda e, u: f"the request was refused ({e.status} {_code(e, 'invalid_request')}): "
                        f"{e.message}",
           _remedy("")),
    _row(errors.ServerError, _always,
           lambda e, u: f"the Junis service failed ({e.status} {_code(e, 'server_error')}) even "
                        "after retries",
           _remedy("try again in a moment.")),
    _row(errors.APITimeoutError, _always,
           lambda e, u: f"no answer from {u or 'the Junis API'} in time",
           _remedy("try again, or raise the timeout.")),
    _row(errors.APIConnectionError, _always,
           lambda e, u: f"could not connect ({_connection_where(e, u)})",
           _unless_chat("is the service running, and JUNIS_BASE_URL right?",
                        "is the service running, and the Jupyter server's JUNIS_BASE_URL (or the "
                        "URL given to `junis-jupyter login`) right?")),
    _row(errors.APIError, _always, lambda e, u: str(e), _remedy("")),
)


def _entry(exc: BaseException) -> _Entry | None:
    for entry in _TABLE:
        if isinstance(exc, entry.cls) and entry.matches(exc):
            return entry
    return None


def what_happened(exc: BaseException, *, base_url: str | None = None) -> str:
    """The surface-independent half of the line."""
    entry = _entry(exc)
    if entry is None:
        return f"{type(exc).__name__}: {exc}"
    return entry.what(exc, base_url)


def advise(exc: BaseException, surface: Surface = Surface.CELL, *,
           base_url: str | None = None) -> str:
    """One line, never a traceback: what happened, then (where there is one) what to do here."""
    entry = _entry(exc)
    what = what_happened(exc, base_url=base_url)
    remedy = entry.remedy(exc, surface) if entry is not None else ""
    return f"{what}: {remedy}" if remedy else what
