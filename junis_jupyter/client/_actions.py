"""What the core asks a driver to do, in the manner of h11's events: `Send` a request (and
gather its body), or `Sleep`. An operation of the core is an `Op`: a generator of these that
receives each one's outcome and returns the operation's result."""
from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

import httpx

__all__ = ["Send", "Sleep", "Op"]

T = TypeVar("T")


class Send:
    """One attempt at a request. It also gathers the body the driver reads, so that the size
    bound lives here once rather than in each driver."""

    __slots__ = ("request", "stream", "limit", "size", "_parts")

    def __init__(self, request: httpx.Request, stream: bool, limit: int) -> None:
        self.request = request
        self.stream = stream
        self.limit = limit          # most body bytes read (decoded): a server cannot fill memory
        self.size = 0
        self._parts: list[bytes] = []

    def reads(self, response: httpx.Response) -> bool:
        """Whether the driver reads the body: always, but for a stream that succeeded (the
        stream's own reader, with its per-event bound, does)."""
        return not self.stream or response.status_code >= 300

    def take(self, chunk: bytes) -> bool:
        """One piece of the body; False once it is over the limit (the driver stops reading)."""
        self.size += len(chunk)
        if self.size > self.limit:
            return False
        self._parts.append(chunk)
        return True

    @property
    def too_large(self) -> bool:
        return self.size > self.limit

    def read(self, response: httpx.Response) -> httpx.Response:
        """The response with the body taken. That body is decoded, so its Content-Encoding goes."""
        headers = [(k, v) for k, v in response.headers.raw if k.lower() != b"content-encoding"]
        return httpx.Response(response.status_code, headers=headers,
                              content=b"".join(self._parts), request=self.request,
                              extensions=response.extensions)


class Sleep:
    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


Op = Generator["Send | Sleep", Any, T]
