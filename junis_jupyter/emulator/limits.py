"""Per-key request rate (fixed one-minute window) and concurrent-request accounting."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

WINDOW_S = 60.0


@dataclass
class Window:
    started: float          # wall clock, Unix seconds
    count: int = 0


@dataclass(frozen=True)
class Quota:
    limit: int
    remaining: int
    reset: int              # Unix seconds when the window ends

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"x-ratelimit-limit", str(self.limit).encode()),
                (b"x-ratelimit-remaining", str(self.remaining).encode()),
                (b"x-ratelimit-reset", str(self.reset).encode())]

    def retry_after(self) -> int:
        return max(1, min(int(WINDOW_S), math.ceil(self.reset - time.time())))


class Limiter:
    """Counts requests per key per minute and requests in flight per key."""

    def __init__(self) -> None:
        self._windows: dict[str, Window] = {}
        self._in_flight: dict[str, int] = {}

    def _window(self, key: str) -> Window:
        now = time.time()
        window = self._windows.get(key)
        if window is None or now >= window.started + WINDOW_S:
            window = self._windows[key] = Window(now)
        return window

    def peek(self, key: str, limit: int) -> Quota:
        window = self._window(key)
        return Quota(limit, max(0, limit - window.count), math.ceil(window.started + WINDOW_S))

    def count(self, key: str) -> None:
        """Count one admitted request in the key's current window."""
        self._window(key).count += 1

    def acquire(self, key: str, cap: int) -> bool:
        if self._in_flight.get(key, 0) >= cap:
            return False
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        return True

    def release(self, key: str) -> None:
        self._in_flight[key] -= 1
