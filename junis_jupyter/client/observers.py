"""Who hears of every call: the observer type, the list every new client copies, and the tags a
caller attaches to the calls it makes.

Its own module, importing nothing heavy, so that the IPython extension can put the usage ledger
on the list at load without importing the client's machinery (httpx, asyncio) before the first
call.

Tags say where a call came from (the answer pipeline sets `origin`, `notebook`, `cell_id`): the
client knows no surface, it only copies the tags in force when a call starts into its record. A
context variable carries them, so a thread, a task and a batch's worker each have their own.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import TYPE_CHECKING

from ..errors import APIConnectionError, APIError, APITimeoutError, StreamError

if TYPE_CHECKING:
    from .types import CallRecord

__all__ = ["Observer", "DEFAULT_OBSERVERS", "tagged", "current_tags", "error_code_for"]

Observer = Callable[["CallRecord"], None]

# Copied into every new client. The IPython extension appends the usage ledger here on load.
DEFAULT_OBSERVERS: list[Observer] = []

_NONE: Mapping[str, str] = MappingProxyType({})
_TAGS: ContextVar[Mapping[str, str]] = ContextVar("junis_call_tags", default=_NONE)


def current_tags() -> Mapping[str, str]:
    """The tags a call started now would carry."""
    return _TAGS.get()


@contextmanager
def tagged(**tags: str | None) -> Iterator[None]:
    """Calls started inside carry these tags (those not None) besides any already in force."""
    token = _TAGS.set(MappingProxyType(
        {**_TAGS.get(), **{k: v for k, v in tags.items() if v is not None}}))
    try:
        yield
    finally:
        _TAGS.reset(token)


def error_code_for(exc: BaseException) -> str:
    """The `error_code` of a call's record for the exception that ended it: the service's code,
    else what kind of failure it was (one wording for the usage ledger and the transcript log)."""
    if isinstance(exc, StreamError):
        return exc.code or "stream_error"
    if isinstance(exc, APIError):
        return exc.code or (f"http_{exc.status}" if exc.status else "api_error")
    if isinstance(exc, APITimeoutError):
        return "timeout"
    if isinstance(exc, APIConnectionError):
        return "connection_error"
    asyncio = sys.modules.get("asyncio")    # no cancelled task before asyncio was imported
    if isinstance(exc, (KeyboardInterrupt, GeneratorExit)) or (
            asyncio is not None and isinstance(exc, asyncio.CancelledError)):
        return "interrupted"
    return type(exc).__name__
