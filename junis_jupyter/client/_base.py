"""The I/O side's shared half. `ClientBase`: what JunisClient and AsyncJunisClient share besides
the core (construction: a Core and the httpx client that carries it; its state; observers).
`StreamView`: what ChatStream and AsyncChatStream share (the response being read, the pure
assembler it feeds, their read-only face). `_Limited`: the httpx client as the drivers see it,
taking a slot of the process-wide limiter (`limiter.py`, when installed) around each request."""
from __future__ import annotations

import weakref
from typing import Any, Generic, TypeVar

import httpx

from . import limiter as _limiter
from ._assembler import StreamAssembler
from ._calls import Observer
from ._core import DEFAULT_MAX_RESPONSE_BYTES, Core
from ._retry import RetryPolicy
from .types import ChatResult, RateLimitInfo, Usage

__all__ = ["ClientBase", "StreamView", "READ_ERRORS"]

# What reading a stream's body can raise when the connection or its bytes go bad.
READ_ERRORS = (httpx.TransportError, httpx.DecodingError)

H = TypeVar("H", httpx.Client, httpx.AsyncClient)
C = TypeVar("C", bound="ClientBase")


class ClientBase(Generic[H]):
    _http_class: type[H]        # the httpx client made when none is given
    _core: Core
    _http: H
    _owns_http: bool

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *,
                 timeout: float = 60.0, connect_timeout: float = 10.0, max_retries: int = 2,
                 allow_insecure: bool = False, observers: list[Observer] | None = None,
                 http_client: H | None = None,
                 retry_policy: RetryPolicy | None = None,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        self._attach(Core(api_key, base_url, timeout=timeout, connect_timeout=connect_timeout,
                          max_retries=max_retries, allow_insecure=allow_insecure,
                          observers=observers, retry_policy=retry_policy,
                          max_response_bytes=max_response_bytes), http_client)

    @classmethod
    def _from_core(cls: type[C], core: Core) -> C:
        """A client on an existing core (`JunisClient.to_async`), with its own httpx client."""
        client = cls.__new__(cls)
        client._attach(core, None)
        return client

    def _attach(self, core: Core, http_client: H | None) -> None:
        self._core = core
        self._owns_http = http_client is None
        self._http = _Limited(http_client or self._http_class())  # type: ignore[assignment]

    @property
    def base_url(self) -> str:
        return self._core.base_url

    @property
    def rate_limit(self) -> RateLimitInfo | None:
        """The rate-limit headers of the last response this client received."""
        return self._core.rate_limit

    def add_observer(self, fn: Observer) -> None:
        """Call `fn(CallRecord)` after every call this client makes."""
        self._core.observers.append(fn)

    def remove_observer(self, fn: Observer) -> None:
        if fn in self._core.observers:
            self._core.observers.remove(fn)

    def __repr__(self) -> str:
        return self._core.describe(type(self).__name__)


class _Limited:
    """The httpx client, its `send` taking a limiter slot first (when a limiter is installed)
    and giving it back when the response is closed, a stream's when it has been read or closed;
    everything else is the client's own (`event_hooks`, `close`, ...)."""

    __slots__ = ("_inner", "send")

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.send = self._send_async if isinstance(inner, httpx.AsyncClient) else self._send_sync

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _send_sync(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        limiter = _limiter.current()
        if limiter is None:
            return self._inner.send(request, **kwargs)
        slot = limiter.acquire()
        try:
            response = self._inner.send(request, **kwargs)
        except BaseException:
            slot.release()
            raise
        return _give_back(response, slot, _SyncStream)

    async def _send_async(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        limiter = _limiter.current()
        if limiter is None:
            return await self._inner.send(request, **kwargs)
        slot = await limiter.acquire_async()
        try:
            response = await self._inner.send(request, **kwargs)
        except BaseException:
            slot.release()
            raise
        return _give_back(response, slot, _AsyncStream)


def _give_back(response: httpx.Response, slot: Any, wrap: type) -> httpx.Response:
    if response.is_closed:          # read whole already (not streamed)
        slot.release()
    else:
        response.stream = wrap(response.stream, slot)
        weakref.finalize(response, slot.release)    # dropped unclosed: the slot comes back
    return response


class _SyncStream(httpx.SyncByteStream):
    def __init__(self, inner: Any, slot: Any) -> None:
        self._inner, self._slot = inner, slot

    def __iter__(self) -> Any:
        yield from self._inner

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._slot.release()


class _AsyncStream(httpx.AsyncByteStream):
    def __init__(self, inner: Any, slot: Any) -> None:
        self._inner, self._slot = inner, slot

    async def __aiter__(self) -> Any:
        async for part in self._inner:
            yield part

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._slot.release()


class StreamView:
    """The state of ChatStream and AsyncChatStream and its read-only face. The request is sent
    when the subclass first opens the stream."""

    def __init__(self, client: ClientBase, prompt: str | None, kwargs: dict[str, Any]) -> None:
        self._client = client
        self._prompt = prompt
        self._kwargs = kwargs
        self._response: httpx.Response | None = None   # the answer whose body is being read
        self._asm: StreamAssembler | None = None
        self._gen: Any = None           # the chunk generator, made by the first iteration
        self._started = False

    @property
    def text(self) -> str:
        """All the text so far."""
        return self._asm.text if self._asm else ""

    @property
    def session_id(self) -> str | None:
        return self._asm.session_id if self._asm else self._kwargs.get("session_id")

    @property
    def usage(self) -> Usage | None:
        return self._asm.usage if self._asm else None

    @property
    def rate_limit(self) -> RateLimitInfo | None:
        return self._asm.rate_limit if self._asm else None

    @property
    def result(self) -> ChatResult | None:
        """Set once the stream finished or was interrupted; None while running or after an error."""
        return self._asm.result if self._asm else None

    def __repr__(self) -> str:
        result = self.result
        state = ("not started" if self._asm is None else "interrupted" if result and
                 result.interrupted else "done" if result else "streaming")
        return f"<{type(self).__name__} {state}, {len(self.text)} characters>"
