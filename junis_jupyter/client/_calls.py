"""One call the user made, as its observers see it: what a `CallRecord` needs is gathered while
the call runs (attempts, status, first token) and handed on exactly once, however it ends."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from time import perf_counter
from typing import Any

from .observers import DEFAULT_OBSERVERS, Observer, current_tags, error_code_for
from .types import CallRecord, RateLimitInfo, Usage

__all__ = ["Observer", "DEFAULT_OBSERVERS", "Call"]



class Call:
    """Takes the function that hands a record to the observers (the core's `notify`), not the
    core, so that this layer knows nothing above it."""

    __slots__ = ("_notify", "endpoint", "agent", "session_id", "stream", "started_at", "t0",
                 "attempts", "status", "request_id", "rate_limit", "first_token_s", "_done",
                 "tags")

    def __init__(self, notify: Callable[[CallRecord], None], endpoint: str, agent: str | None,
                 session_id: str | None, stream: bool) -> None:
        self._notify = notify
        self.tags = current_tags()      # those in force where the call starts
        self.endpoint = endpoint
        self.agent = agent
        self.session_id = session_id
        self.stream = stream
        self.started_at = datetime.now(timezone.utc)
        self.t0 = perf_counter()
        self.attempts = 0
        self.status: int | None = None
        self.request_id: str | None = None
        self.rate_limit = RateLimitInfo()
        self.first_token_s: float | None = None
        self._done = False

    def finish(self, error_code: str | None = None, usage: Usage | None = None,
               extra: dict[str, Any] | None = None) -> None:
        if self._done:
            return
        self._done = True
        self._notify(CallRecord(
            started_at=self.started_at, endpoint=self.endpoint, agent=self.agent,
            session_id=self.session_id, stream=self.stream, status=self.status,
            error_code=error_code, usage=usage, latency_s=perf_counter() - self.t0,
            first_token_s=self.first_token_s, request_id=self.request_id,
            attempts=max(self.attempts, 1), extra=extra or {}, tags=self.tags))

    def fail(self, exc: BaseException) -> None:
        self.finish(error_code=error_code_for(exc))
