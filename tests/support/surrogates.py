"""A lone surrogate on its way from the service (the JSON `"\\ud800"`), for the tests of every
place that decodes, stores or exports an answer: the emulator cannot be told to send one, so a
transport in front of it turns a marker in a request into the escape, and the emulator (which
echoes with `[[echo]]`) sends it back as a live service may."""
from __future__ import annotations

import httpx

__all__ = ["MARK", "ESCAPE", "LoneSurrogateOnTheWay", "AsyncLoneSurrogateOnTheWay"]

MARK = b"@LONE@"                 # as long as the escape that replaces it: Content-Length holds
ESCAPE = b"\\ud800"
assert len(MARK) == len(ESCAPE)


def _with_escape(request: httpx.Request) -> httpx.Request:
    return httpx.Request(request.method, request.url, headers=request.headers,
                         content=request.content.replace(MARK, ESCAPE),
                         extensions=request.extensions)


class LoneSurrogateOnTheWay(httpx.BaseTransport):
    """Loopback to the emulator, with `@LONE@` in a request body turned into the JSON escape of
    a lone surrogate. The client refuses to send one itself (it is not valid Unicode); other
    clients can, the emulator keeps it, and answers with it escaped (it writes ASCII JSON),
    as a live service may. Only the request is touched: every answer is the emulator's own."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        return self._inner.handle_request(_with_escape(request))

    def close(self) -> None:
        self._inner.close()


class AsyncLoneSurrogateOnTheWay(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return await self._inner.handle_async_request(_with_escape(request))

    async def aclose(self) -> None:
        await self._inner.aclose()
