"""The client a panel was given, made async, and what the panel reads off it and its streams.

Whatever came in (nothing, a sync `JunisClient` as `%junis chat` holds, an `AsyncJunisClient`, a
stand-in in a test) is met here only, so the view talks to one shape.
"""
from __future__ import annotations

import inspect
from typing import Any

from ... import errors
from ...client.types import RateLimitInfo

__all__ = ["async_client", "close_quietly", "open_stream", "rate_limit_of"]


def async_client(client: Any) -> tuple[Any, bool]:
    """(an AsyncJunisClient, whether the panel owns it). A sync JunisClient lends its key, URL,
    retries and observers through `to_async()`, so the ledger sees the panel's calls too."""
    from ...client.aio import AsyncJunisClient
    if client is None:
        return AsyncJunisClient(), True
    if inspect.iscoroutinefunction(getattr(client, "agents", None)):
        return client, False
    if hasattr(client, "to_async"):
        return client.to_async(), True
    raise errors.ConfigurationError(
        f"ChatPanel needs a JunisClient or an AsyncJunisClient, not {type(client).__name__}.")


async def open_stream(client: Any, text: str, session_id: str | None, agent: str | None) -> Any:
    """The answer's stream (an async iterable of chunks); some clients hand it over awaitable."""
    stream = client.stream(text, session_id=session_id, agent=agent)
    if inspect.isawaitable(stream):
        stream = await stream
    return stream


async def close_quietly(stream: Any) -> None:
    """Close a stream after its end, a Stop or a failure, which has been shown already."""
    close = getattr(stream, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception:
            pass


def rate_limit_of(*sources: Any) -> RateLimitInfo | None:
    """The first rate-limit reading that says what is left, from a stream or the client."""
    for source in sources:
        limit = getattr(source, "rate_limit", None)
        if isinstance(limit, RateLimitInfo) and limit.remaining is not None:
            return limit
    return None
