"""When to try a request again, and how long to wait first. Pure: the clients do the sleeping."""
from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from ._checks import delay, whole_number
from ._headers import parse_reset, parse_retry_after

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

# Transport failures that say nothing about the request having been wrong. Excluded: a bad URL
# scheme (UnsupportedProtocol) and our own malformed request (LocalProtocolError).
_NOT_RETRIED = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)


_HEADER_RESOLUTION_S = 1.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded by `max_retries` (attempts = max_retries + 1).

    A wait the server asks for (`Retry-After`, or `X-RateLimit-Reset` on a 429) is honoured as
    given; if it is longer than `max_wait` the client gives up at once rather than stall a
    notebook for minutes, and the error's `retry_after` says how long to wait.
    """
    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_wait: float = 60.0

    def __post_init__(self) -> None:
        whole_number(self.max_retries, "max_retries", 0)
        for name in ("base_delay", "max_delay", "max_wait"):
            delay(getattr(self, name), f"RetryPolicy.{name}")

    def backoff(self, attempt: int) -> float:
        """Attempt n (1-based) failed: wait about base * 2**(n-1), jittered to 50-100%."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + random.random() / 2)

    def delay_after_status(self, attempt: int, status: int, headers: Mapping[str, str],
                           now: float | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
        if status not in RETRY_STATUSES or attempt > self.max_retries:
            return None
        wait = server_wait(status, headers, time.time() if now is None else now)
        if wait is None:
            return self.backoff(attempt)
        # Headers carry whole seconds: a window of exactly max_wait seconds that began a moment
        # ago ends up to one second more than max_wait away, and is still worth waiting for.
        return wait if wait <= self.max_wait + _HEADER_RESOLUTION_S else None

    def delay_after_error(self, attempt: int, exc: httpx.TransportError) -> float | None:
        if isinstance(exc, _NOT_RETRIED) or attempt > self.max_retries:
            return None
        return self.backoff(attempt)


def server_wait(status: int, headers: Mapping[str, str], now: float) -> float | None:
    """The wait the server asked for: `Retry-After`, else (on 429) the rate-limit window reset."""
    retry_after = parse_retry_after(headers.get("retry-after"), now)
    if retry_after is not None:
        return retry_after
    if status != 429:
        return None
    reset = parse_reset(headers.get("x-ratelimit-reset")
                        or headers.get("x-ratelimit-reset-minute"), now)
    return None if reset is None else max(0.0, reset - now)
