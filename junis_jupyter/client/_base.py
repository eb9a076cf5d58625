"""The I/O side's shared half. `ClientBase`: what JunisClient and AsyncJunisClient share besides
the core (construction: a Core and the httpx client that carries it; its state; observers).
`StreamView`: what ChatStream and AsyncChatStream share (the response being read, the pure
assembler it feeds, their read-only face). `send_sync` / `send_async`: one request as the drivers
send it, inside a slot of the client's limiter (`limiter.py`) when it has one."""
from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Generic, Literal, TypeVar, cast

import httpx

from ._assembler import StreamAssembler
from ._calls import Observer
from ._core import DEFAULT_MAX_RESPONSE_BYTES, Core
from ._retry import RetryPolicy
from .limiter import INSTALLED, Installed, Limiter, Slot, current
from .types import ChatResult, RateLimitInfo, Usage

__all__ = ["ClientBase", "StreamView", "READ_ERRORS", "send_sync", "send_async"]

# What reading a stream's body can raise when the connection or its bytes go bad.
READ_ERRORS = (httpx.TransportError, httpx.DecodingError)

H = TypeVar("H", httpx.Client, httpx.AsyncClient)
C = TypeVar("C", bound="ClientBase[Any]")


class ClientBase(Generic[H]):
    _http_class: type[H]        # the httpx client made when none is given
    _core: Core
    _http: H
    _owns_http: bool

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *,
                 timeout: float | None = 60.0, connect_timeout: float | None = 10.0,
                 max_retries: int = 2, allow_insecure: bool = False,
                 observers: list[Observer] | None = None, http_client: H | None = None,
                 retry_policy: RetryPolicy | None = None,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
                 limiter: Limiter | None | Literal[Installed.LIMITER] = INSTALLED) -> None:
        """`limiter`: the cap on requests in flight whose slots this client's requests take. By
        default the one installed now (`limiter.install()`, as the extension does): a client is
        capped, or not, for its whole life, whatever is installed later. None: uncapped."""
        self._attach(Core(api_key, base_url, timeout=timeout, connect_timeout=connect_timeout,
                          max_retries=max_retries, allow_insecure=allow_insecure,
                          observers=observers, retry_policy=retry_policy,
                          max_response_bytes=max_response_bytes,
                          limiter=current() if limiter is INSTALLED else limiter), http_client)

    @classmethod
    def _from_core(cls: type[C], core: Core) -> C:
        """A client on an existing core (`JunisClient.to_async`), with its own httpx client."""
        client = cls.__new__(cls)
        client._attach(core, None)
        return client

    def _attach(self, core: Core, http_client: H | None) -> None:
        self._core = core
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else self._http_class()

    @property
    def base_url(self) -> str:
        return self._core.base_url

    @property
    def limiter(self) -> Limiter | None:
        """The cap this client's requests are under (None: uncapped)."""
        return self._core.limiter

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


# --- one request, inside a slot of the limiter ----------------------------------------------------
# Each attempt takes its own slot (a retry's backoff holds none) and gives it back when the
# response is closed: at once for a body read whole, when a stream ends or is closed, or when an
# unclosed response is dropped.

def send_sync(http: httpx.Client, limiter: Limiter | None,
              request: httpx.Request) -> httpx.Response:
    """`request` sent for streaming, redirects not followed (the key would go along)."""
    if limiter is None:
        return http.send(request, stream=True, follow_redirects=False)
    slot = limiter.acquire()
    try:
        response = http.send(request, stream=True, follow_redirects=False)
    except BaseException:
        slot.release()
        raise
    if response.is_closed:
        slot.release()
    else:
        inner = response.stream
        assert isinstance(inner, httpx.SyncByteStream)      # an httpx.Client's always is
        response.stream = _SyncStream(inner, slot)
        weakref.finalize(response, slot.release)
    return response


async def send_async(http: httpx.AsyncClient, limiter: Limiter | None,
                     request: httpx.Request) -> httpx.Response:
    """As `send_sync`; the slot is awaited without blocking the loop."""
    if limiter is None:
        return await http.send(request, stream=True, follow_redirects=False)
    slot = await limiter.acquire_async()
    try:
        response = await http.send(request, stream=True, follow_redirects=False)
    except BaseException:
        slot.release()
        raise
    if response.is_closed:
        slot.release()
    else:
        inner = response.stream
        assert isinstance(inner, httpx.AsyncByteStream)     # an httpx.AsyncClient's always is
        response.stream = _AsyncStream(inner, slot)
        weakref.finalize(response, slot.release)
    return response


class _SyncStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, slot: Slot) -> None:
        self._inner, self._slot = inner, slot

    def __iter__(self) -> Iterator[bytes]:
        yield from self._inner

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._slot.release()


class _AsyncStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, slot: Slot) -> None:
        self._inner, self._slot = inner, slot

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._inner:
            yield part

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._slot.release()


_Reader = TypeVar("_Reader")


class StreamView:
    """The state of ChatStream and AsyncChatStream and its read-only face. The request is sent
    when the subclass first opens the stream."""

    def __init__(self, client: ClientBase[Any], prompt: str | None,
                 kwargs: dict[str, Any]) -> None:
        self._client = client
        self._prompt = prompt
        self._kwargs = kwargs
        self._response: httpx.Response | None = None   # the answer whose body is being read
        self._asm: StreamAssembler | None = None
        # what the first iteration made: the chunks, or their text a read at a time (`_shape`)
        self._gen: Any = None      # a Generator, or an AsyncGenerator
        self._shape: Any = None
        self._started = False

    def _batches(self) -> Any:
        """The chunks a network read at a time (the subclass's, sync or async)."""
        raise NotImplementedError

    def _iteration(self, shape: Callable[[Any], _Reader]) -> _Reader:
        """The stream's one iterator, made by `shape` over its batches on the first read."""
        if self._gen is None:
            self._gen = shape(self._batches())
            self._shape = shape
        elif self._shape is not shape:
            raise RuntimeError("a stream is read one way: by its chunks or by texts(), not both")
        return cast(_Reader, self._gen)

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
