"""JunisClient: the core's operations driven over a blocking `httpx.Client`."""
from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from types import GeneratorType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from ._actions import Op, Sleep
from ._assembler import StreamAssembler
from ._base import READ_ERRORS, ClientBase, StreamView, send_sync
from .types import Agent, ChatChunk, ChatResult, Message, Session, SessionStatus

if TYPE_CHECKING:
    from .aio import AsyncJunisClient

__all__ = ["JunisClient", "ChatStream"]

T = TypeVar("T")

_sleep = time.sleep     # a module attribute, so tests can watch the waits without waiting


class JunisClient(ClientBase[httpx.Client]):
    """Blocking client for the Junis External API. Use as a context manager, or `close()` it."""

    _http_class = httpx.Client

    # --- plumbing -----------------------------------------------------------------------------

    def _drive(self, op: Op[T]) -> T:
        """Run an operation of the core: do what it asks, hand it back what happened."""
        http, limiter = self._http, self._core.limiter
        try:
            action = next(op)
            while True:
                outcome: httpx.Response | None
                try:
                    if isinstance(action, Sleep):
                        _sleep(action.seconds)
                        outcome = None
                    else:
                        outcome = send_sync(http, limiter, action.request)
                        if action.reads(outcome):
                            try:
                                for chunk in outcome.iter_bytes():
                                    if not action.take(chunk):
                                        break
                            finally:
                                outcome.close()
                except BaseException as exc:
                    action = op.throw(exc)
                    continue
                action = op.send(outcome)
        except StopIteration as stop:
            result: T = stop.value
            return result

    def to_async(self) -> AsyncJunisClient:
        """An AsyncJunisClient with this client's key, URL, timeouts, retries, observers and
        limiter (for the chat panel, which streams on the kernel's event loop)."""
        from .aio import AsyncJunisClient
        return AsyncJunisClient._from_core(self._core.twin())

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> JunisClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the API ------------------------------------------------------------------------------

    def chat(self, prompt: str | None = None, *, messages: list[dict[str, Any]] | None = None,
             system: str | None = None, session_id: str | None = None,
             agent: str | Agent | None = None, temperature: float | None = None,
             max_tokens: int | None = None, model: str | None = None,
             extra_body: dict[str, Any] | None = None) -> ChatResult:
        """One answer, whole. Without `session_id` a new session starts (see `.session_id`).
        `extra_body` is merged into the request's JSON (fields this client does not name)."""
        return self._drive(self._core.chat(
            prompt, messages=messages, system=system, session_id=session_id, agent=agent,
            temperature=temperature, max_tokens=max_tokens, model=model,
            extra_body=extra_body))

    def stream(self, prompt: str | None = None, *, messages: list[dict[str, Any]] | None = None,
               system: str | None = None, session_id: str | None = None,
               agent: str | Agent | None = None, temperature: float | None = None,
               max_tokens: int | None = None, model: str | None = None,
               extra_body: dict[str, Any] | None = None) -> ChatStream:
        """The answer as it is written: iterate for `ChatChunk`s. The request is sent when the
        iteration (or the `with` block) starts."""
        return ChatStream(self, prompt, dict(
            messages=messages, system=system, session_id=session_id, agent=agent,
            temperature=temperature, max_tokens=max_tokens, model=model,
            extra_body=extra_body))

    def agents(self, agent_type: str | None = None, is_active: bool | None = None) -> list[Agent]:
        return self._drive(self._core.agents(agent_type, is_active))

    def resolve_agent(self, name_or_id: str) -> Agent:
        """The agent with this id or name; names are looked up once per client."""
        return self._drive(self._core.resolve_agent(name_or_id))

    def sessions(self, page_size: int = 100) -> list[Session]:
        """Every session of this key, newest activity first (all pages)."""
        return self._drive(self._core.sessions(page_size))

    def messages(self, session_id: str, page_size: int = 100) -> list[Message]:
        """Every message of a session, oldest first (all pages); `position` counts from 0."""
        return self._drive(self._core.messages(session_id, page_size))

    def session_status(self, session_id: str) -> SessionStatus:
        return self._drive(self._core.session_status(session_id))


class ChatStream(StreamView):
    """An answer arriving. Iterate it; `close()` (or leaving its `with` block, a `break`, Ctrl-C)
    closes the connection at once and leaves `.result` with `interrupted=True` and the text
    that arrived. A stream that breaks raises `StreamError` with the partial text."""

    _client: JunisClient
    _gen: Generator[Any, None, None] | None

    def _open(self) -> StreamAssembler | None:
        if not self._started:
            self._started = True
            client = self._client
            self._response, self._asm = client._drive(
                client._core.open_stream(self._prompt, **self._kwargs))
        return self._asm

    def _batches(self) -> Generator[list[ChatChunk], None, None]:
        """The chunks of each network read, as a list (none empty)."""
        asm = self._open()
        response = self._response
        # The stream holds this generator: without `self` in its frame there is no cycle, so a
        # loop left by an exception without a `with` block closes the connection at once
        # (refcount), not at the next garbage collection.
        del self
        if asm is None or response is None:
            return
        feed = asm.feed
        try:
            if not asm.over:
                for raw in response.iter_bytes():
                    chunks = feed(raw)
                    if chunks:
                        yield chunks
                    if asm.done:
                        break
                else:
                    rest = asm.end_of_body()
                    if rest:
                        yield rest
                asm.complete()
        except READ_ERRORS as exc:
            if not asm.over:            # else: closed from elsewhere, the iteration just ends
                raise asm.broken(exc) from exc
        except BaseException:
            asm.interrupt()
            raise
        finally:
            response.close()

    def __iter__(self) -> Iterator[ChatChunk]:
        return self._iteration(each_chunk)

    def texts(self) -> Iterator[str]:
        """The answer's new text as it arrives, one piece per network read (its chunks' deltas
        joined): what a view that shows text wants, at a fraction of the calls of the chunks."""
        return self._iteration(joined_text)

    def __next__(self) -> ChatChunk:
        return next(iter(self))

    def close(self) -> None:
        """Stop now: close the connection, keep what arrived (`.result.interrupted` is True)."""
        asm, response = self._asm, self._response
        if asm is not None and response is not None:
            asm.interrupt()
            response.close()
        gen = self._gen
        # not while it runs (another thread stopping it): that read ends, and the loop with it
        if gen is not None and not (isinstance(gen, GeneratorType) and gen.gi_running):
            gen.close()
        self._started = True

    def __enter__(self) -> ChatStream:
        self._open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def each_chunk(batches: Iterator[list[ChatChunk]]) -> Generator[ChatChunk, None, None]:
    for batch in batches:
        yield from batch


def joined_text(batches: Iterator[list[ChatChunk]]) -> Generator[str, None, None]:
    for batch in batches:
        text = "".join([chunk.text for chunk in batch])
        if text:
            yield text
