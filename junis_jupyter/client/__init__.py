"""The Junis External API client: `JunisClient` (blocking) and `AsyncJunisClient` (asyncio).

Knows nothing of IPython, widgets or pandas. See docs/client.md. Names are imported on first
use (the package top level does the same), so the extension, which needs only the result types
and the observer list at load, does not import httpx until the first call.
"""
from __future__ import annotations

from .._lazy import lazy_attributes
from .observers import DEFAULT_OBSERVERS, Observer
from .types import (
    Agent,
    CallRecord,
    ChatChunk,
    ChatResult,
    Message,
    RateLimitInfo,
    Session,
    SessionStatus,
    Usage,
)

_LAZY = {
    "JunisClient": ".sync", "ChatStream": ".sync",
    "AsyncJunisClient": ".aio", "AsyncChatStream": ".aio",
    "RetryPolicy": "._retry",
}

__all__ = [
    "JunisClient", "AsyncJunisClient", "ChatStream", "AsyncChatStream", "DEFAULT_OBSERVERS",
    "Observer", "RetryPolicy", "Agent", "CallRecord", "ChatChunk", "ChatResult", "Message",
    "RateLimitInfo", "Session", "SessionStatus", "Usage",
]


__getattr__ = lazy_attributes(__name__, _LAZY, globals())
