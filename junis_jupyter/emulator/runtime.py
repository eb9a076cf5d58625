"""The running emulator's shared state: data, limits, faults, statistics and open connections."""
from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .faults import FaultQueue
from .limits import Limiter, Quota
from .options import NO_PLAN, EmulatorOptions
from .store import KeyRecord, Store
from .wire import ApiError


@dataclass
class Stats:
    requests: int = 0
    by_status: Counter = field(default_factory=Counter)
    in_flight: int = 0
    max_concurrent: int = 0

    def begin(self) -> None:
        self.requests += 1
        self.in_flight += 1
        self.max_concurrent = max(self.max_concurrent, self.in_flight)

    def end(self, status: str) -> None:
        self.in_flight -= 1
        self.by_status[status] += 1

    def as_dict(self) -> dict:
        return {"requests": self.requests, "by_status": dict(self.by_status),
                "max_concurrent": self.max_concurrent, "in_flight": self.in_flight}


def key_from_headers(headers: list[tuple[bytes, bytes]]) -> str | None:
    """`X-API-Key: K` or `Authorization: Bearer K` (the OpenAI SDKs send the latter)."""
    bearer = None
    for name, value in headers:
        if name == b"x-api-key":
            return value.decode("latin-1").strip() or None
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                bearer = token.strip() or None
    return bearer


class Emulator:
    def __init__(self, options: EmulatorOptions) -> None:
        self.options = options
        self.store = Store(options)
        self.limiter = Limiter()
        self.faults = FaultQueue()
        self.stats = Stats()
        # peer address -> transport, filled by the server's protocol; lets a `reset` fault drop
        # the TCP connection without an HTTP response
        self.transports: dict[tuple[Any, ...], asyncio.Transport] = {}
        self._processing: Counter = Counter()

    @property
    def key(self) -> str:
        return self.store.primary_key

    def authenticate(self, headers: list[tuple[bytes, bytes]]) -> KeyRecord:
        key = key_from_headers(headers)
        if key is None:
            raise ApiError(401, "invalid_api_key",
                           "Missing API key: send it in the X-API-Key header.",
                           headers=[(b"www-authenticate", b"ApiKey")])
        record = self.store.keys.get(key)
        if record is None:
            raise ApiError(401, "invalid_api_key", "Invalid API key.",
                           headers=[(b"www-authenticate", b"ApiKey")])
        if record.plan == NO_PLAN:
            raise ApiError(403, "subscription_required",
                           "The External API needs an active Basic or Pro subscription.")
        return record

    def quota(self, headers: list[tuple[bytes, bytes]]) -> Quota:
        """The rate-limit state to report: the caller's key if known, else the default plan's."""
        record = self.store.keys.get(key_from_headers(headers) or "")
        if record is None:
            record = self.store.keys[self.store.primary_key]
            return Quota(record.rpm, record.rpm, self.limiter.peek("", record.rpm).reset)
        return self.limiter.peek(record.key, record.rpm)

    def admit(self, record: KeyRecord) -> None:
        """Count the request against the key's minute window and take a concurrency slot."""
        quota = self.limiter.peek(record.key, record.rpm)
        if quota.remaining <= 0:
            raise ApiError(429, "rate_limit_exceeded",
                           f"Rate limit exceeded: {record.rpm} requests per minute on this key.",
                           headers=[*quota.headers(),
                                    (b"retry-after", str(quota.retry_after()).encode())])
        if not self.limiter.acquire(record.key, record.concurrency):
            raise ApiError(429, "rate_limit_exceeded",
                           f"Too many concurrent requests: at most {record.concurrency} at once "
                           "on this key.",
                           headers=quota.headers() + [(b"retry-after", b"1")])
        self.limiter.count(record.key)

    def release(self, record: KeyRecord) -> None:
        self.limiter.release(record.key)

    # session status -------------------------------------------------------------------------
    def processing(self, session_id: str) -> bool:
        return self._processing[session_id] > 0

    def mark(self, session_id: str, delta: int) -> None:
        self._processing[session_id] += delta
        if self._processing[session_id] <= 0:
            del self._processing[session_id]


