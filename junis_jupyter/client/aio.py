"""AsyncJunisClient: the core's operations driven over an `httpx.AsyncClient`, plus `map`."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from types import AsyncGeneratorType
from typing import Any, TypeVar

import httpx

from ..errors import JunisError
from ._actions import Op, Sleep
from ._assembler import StreamAssembler
from ._base import READ_ERRORS, ClientBase, StreamView, send_async
from .types import Agent, ChatChunk, ChatResult, Message, Session, SessionStatus

__all__ = ["AsyncJunisClient", "AsyncChatStream"]

T = TypeVar("T")

_sleep = asyncio.sleep  # a module attribute, so tests can watch the waits without waiting


class AsyncJunisClient(ClientBase[httpx.AsyncClient]):
    """The asyncio client: same calls as JunisClient, awaited; `async with` or `await aclose()`."""

    _http_class = httpx.AsyncClient

    # --- plumbing -----------------------------------------------------------------------------

    async def _drive(self, op: Op[T]) -> T:
        """Run an operation of the core: do what it asks, hand it back what happened."""
        http, limiter = self._http, self._core.limiter
        try:
            action = next(op)
            while True:
                outcome: httpx.Response | None
                try:
                    if isinstance(action, Sleep):
                        await _sleep(action.seconds)
                        outcome = None
                    else:
                        outcome = await send_async(http, limiter, action.request)
                        if action.reads(outcome):
                            try:
                                async for chunk in outcome.aiter_bytes():
                                    if not action.take(chunk):
                                        break
                            finally:
                                await outcome.aclose()
                except BaseException as exc:
                    action = op.throw(exc)
                    continue
                action = op.send(outcome)
        except StopIteration as stop:
            result: T = stop.value
            return result

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    close = aclose

    async def __aenter__(self) -> AsyncJunisClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- the API ------------------------------------------------------------------------------

    async def chat(self, prompt: str | None = None, *,
                   messages: list[dict[str, Any]] | None = None, system: str | None = None,
                   session_id: str | None = None, agent: str | Agent | None = None,
                   temperature: float | None = None, max_tokens: int | None = None,
                   model: str | None = None,
                   extra_body: dict[str, Any] | None = None) -> ChatResult:
        """One answer, whole. Without `session_id` a new session starts (see `.session_id`).
        `extra_body` is merged into the request's JSON (fields this client does not name)."""
        return await self._drive(self._core.chat(
            prompt, messages=messages, system=system, session_id=session_id, agent=agent,
            temperature=temperature, max_tokens=max_tokens, model=model,
            extra_body=extra_body))

    def stream(self, prompt: str | None = None, *, messages: list[dict[str, Any]] | None = None,
               system: str | None = None, session_id: str | None = None,
               agent: str | Agent | None = None, temperature: float | None = None,
               max_tokens: int | None = None, model: str | None = None,
               extra_body: dict[str, Any] | None = None) -> AsyncChatStream:
        """The answer as it is written: `async for` its `ChatChunk`s. The request is sent when
        the iteration (or the `async with` block) starts."""
        return AsyncChatStream(self, prompt, dict(
            messages=messages, system=system, session_id=session_id, agent=agent,
            temperature=temperature, max_tokens=max_tokens, model=model,
            extra_body=extra_body))

    async def agents(self, agent_type: str | None = None,
                     is_active: bool | None = None) -> list[Agent]:
        return await self._drive(self._core.agents(agent_type, is_active))

    async def resolve_agent(self, name_or_id: str) -> Agent:
        """The agent with this id or name; names are looked up once per client."""
        return await self._drive(self._core.resolve_agent(name_or_id))

    async def sessions(self, page_size: int = 100) -> list[Session]:
        """Every session of this key, newest activity first (all pages)."""
        return await self._drive(self._core.sessions(page_size))

    async def messages(self, session_id: str, page_size: int = 100) -> list[Message]:
        """Every message of a session, oldest first (all pages); `position` counts from 0."""
        return await self._drive(self._core.messages(session_id, page_size))

    async def session_status(self, session_id: str) -> SessionStatus:
        return await self._drive(self._core.session_status(session_id))

    async def map(self, prompts: Iterable[str | dict[str, Any]], *,
                  agent: str | Agent | None = None, concurrency: int = 5,
                  **chat_kwargs: Any) -> list[ChatResult | JunisError]:
        """`chat` over many prompts, at most `concurrency` at once, results in input order.

        An item is a prompt or a dict of `chat` arguments (overriding `chat_kwargs`). A failed
        item holds its exception instead of a result; the others are unaffected. A rate limit
        past the client's own retries pauses every item for the server's wait, then the item is
        tried again (up to 8 times)."""
        from .pool import check_concurrency, run_tasks  # the bounded pool (loaded when used)
        check_concurrency(concurrency)      # before anything is asked
        items = [item if isinstance(item, dict) else {"prompt": item} for item in prompts]
        if agent is not None:
            try:    # once, not once per item
                agent = await self.resolve_agent(agent) if not isinstance(agent, Agent) else agent
            except JunisError as exc:
                return [exc] * len(items)

        async def ask(item: dict[str, Any]) -> ChatResult:
            return await self.chat(**{"agent": agent, **chat_kwargs, **item})

        done = await run_tasks(ask, items, concurrency=concurrency)
        if done.interrupted is not None:     # cancelled: the calls in flight were cancelled too
            raise done.interrupted
        return done.outcomes


class AsyncChatStream(StreamView):
    """An answer arriving, for `async for`. `aclose()` (or leaving its `async with` block, or
    cancelling the task) closes the connection at once and leaves `.result` with
    `interrupted=True` and the text that arrived. A broken stream raises `StreamError`."""

    _client: AsyncJunisClient
    _gen: AsyncGenerator[Any, None] | None

    async def _open(self) -> StreamAssembler | None:
        if not self._started:
            self._started = True
            client = self._client
            self._response, self._asm = await client._drive(
                client._core.open_stream(self._prompt, **self._kwargs))
        return self._asm

    async def _batches(self) -> AsyncGenerator[list[ChatChunk], None]:
        """The chunks of each network read, as a list (none empty)."""
        asm = await self._open()
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
                async for raw in response.aiter_bytes():
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
            await response.aclose()

    def __aiter__(self) -> AsyncIterator[ChatChunk]:
        return self._iteration(each_chunk)

    def texts(self) -> AsyncIterator[str]:
        """The answer's new text as it arrives, one piece per network read (its chunks' deltas
        joined): what a view that shows text wants, at a fraction of the calls of the chunks."""
        return self._iteration(joined_text)

    async def __anext__(self) -> ChatChunk:
        return await self.__aiter__().__anext__()

    async def aclose(self) -> None:
        """Stop now: close the connection, keep what arrived (`.result.interrupted` is True)."""
        asm, response = self._asm, self._response
        if asm is not None and response is not None:
            asm.interrupt()
            await response.aclose()
        gen = self._gen
        # not while it awaits a read (another task stopping it): closing the response ends that
        # read, and the loop with it
        if gen is not None and not (isinstance(gen, AsyncGeneratorType) and gen.ag_running):
            await gen.aclose()
        self._started = True

    async def __aenter__(self) -> AsyncChatStream:
        await self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def each_chunk(batches: AsyncIterator[list[ChatChunk]]) -> AsyncGenerator[ChatChunk, None]:
    async for batch in batches:
        for chunk in batch:
            yield chunk


async def joined_text(batches: AsyncIterator[list[ChatChunk]]) -> AsyncGenerator[str, None]:
    async for batch in batches:
        text = "".join([chunk.text for chunk in batch])
        if text:
            yield text
