"""The client a panel was given, made async, and the rate-limit reading the panel keeps.

Whatever came in (nothing, a sync `JunisClient` as `%junis chat` holds, an `AsyncJunisClient`, a
stand-in in a test) is met here only, so the panel talks to one shape. Answers are asked through
`data.pipeline.AnswerPipeline` (asking.py), never streamed here.
"""
from __future__ import annotations

import inspect
from typing import Any

from ... import errors
from ...client.types import RateLimitInfo

__all__ = ["PanelClient", "async_client", "remaining_rate_limit"]


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


class PanelClient:
    """The panel's async client, made on first use, so a missing key or a wrong argument is a
    notice in the panel rather than a constructor that fails in the cell."""

    def __init__(self, given: Any) -> None:
        self._given = given
        self.current: Any = None          # None until first made (and after `aclose`)
        self._owned = False

    def get(self) -> Any:
        if self.current is None:
            self.current, self._owned = async_client(self._given)
        return self.current

    @property
    def base_url(self) -> str | None:
        return getattr(self.current, "base_url", None)

    async def aclose(self) -> None:
        """Close the client if the panel made it (one it was given is its owner's to close)."""
        if self._owned and self.current is not None:
            await self.current.aclose()
        self.current = None


def remaining_rate_limit(*sources: Any) -> RateLimitInfo | None:
    """The first `rate_limit` of `sources` (a result, a client) that says how many requests
    are left; None when none does."""
    for source in sources:
        limit = getattr(source, "rate_limit", None)
        if isinstance(limit, RateLimitInfo) and limit.remaining is not None:
            return limit
    return None
