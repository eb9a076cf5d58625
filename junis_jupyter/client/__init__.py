"""The Junis External API client: `JunisClient` (blocking) and `AsyncJunisClient` (asyncio).

Knows nothing of IPython, widgets or pandas. See docs/client.md. Names are imported on first
use (the package top level does the same), so the extension, which needs only the result types
and the observer list at load, does not import httpx until the first call.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from .observers import DEFAULT_OBSERVERS, Observer
from .types import (Agent, CallRecord, ChatChunk, ChatResult, Message, RateLimitInfo, Session,
                    SessionStatus, Usage)

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


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'junis_jupyter.client' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value
