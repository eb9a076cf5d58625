"""The Junis External API client: `JunisClient` (blocking) and `AsyncJunisClient` (asyncio).

Knows nothing of IPython, widgets or pandas. See docs/client.md. Names are imported on first
use (the package top level does the same), so the extension, which needs only the observer list
at load, imports neither httpx nor the result types (their dataclasses take a few ms to make)
until the first call.
"""
from __future__ import annotations

from .._lazy import lazy_attributes

_LAZY = {
    "JunisClient": ".sync", "ChatStream": ".sync",
    "AsyncJunisClient": ".aio", "AsyncChatStream": ".aio",
    "RetryPolicy": "._retry",
    "DEFAULT_OBSERVERS": ".observers", "Observer": ".observers",
    **dict.fromkeys(("Agent", "CallRecord", "ChatChunk", "ChatResult", "Message", "RateLimitInfo",
                     "Session", "SessionStatus", "Usage"), ".types"),
}

__all__ = [
    "JunisClient", "AsyncJunisClient", "ChatStream", "AsyncChatStream", "DEFAULT_OBSERVERS",
    "Observer", "RetryPolicy", "Agent", "CallRecord", "ChatChunk", "ChatResult", "Message",
    "RateLimitInfo", "Session", "SessionStatus", "Usage",
]


__getattr__ = lazy_attributes(__name__, _LAZY, globals())
