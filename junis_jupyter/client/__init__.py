"""The Junis External API client: `JunisClient` (blocking) and `AsyncJunisClient` (asyncio).

Knows nothing of IPython, widgets or pandas. See docs/client.md.
"""
from __future__ import annotations

from ._calls import DEFAULT_OBSERVERS, Observer
from ._retry import RetryPolicy
from .aio import AsyncChatStream, AsyncJunisClient
from .sync import ChatStream, JunisClient
from .types import (Agent, CallRecord, ChatChunk, ChatResult, Message, RateLimitInfo, Session,
                    SessionStatus, Usage)

__all__ = [
    "JunisClient", "AsyncJunisClient", "ChatStream", "AsyncChatStream", "DEFAULT_OBSERVERS",
    "Observer", "RetryPolicy", "Agent", "CallRecord", "ChatChunk", "ChatResult", "Message",
    "RateLimitInfo", "Session", "SessionStatus", "Usage",
]
