"""A streamed answer being put together: SSE bytes in, `ChatChunk`s out, one `ChatResult` (or one
`StreamError`) and one call record at the end. Pure: the sync and async streams feed it the
bytes they read and close the connection when it says the stream is over.

This is the per-chunk hot path: one `json.loads`, a few dict lookups and one `ChatChunk` per
event, nothing else. The text is kept as a few large blocks, not one small str per chunk: a str
costs ~50 bytes before its first character, which made a long answer of 4-character chunks take
9x its own size (every `FOLD` chunks are joined into one block; linear time, memory ~ the text).
"""
from __future__ import annotations

from json import loads
from time import perf_counter
from typing import TYPE_CHECKING, Any

import httpx

from ..errors import StreamError
from ..config import scrub
from ._parse import _str, parse_usage
from .sse import EventTooLarge, SSEDecoder
from .types import ChatChunk, ChatResult, RateLimitInfo, Usage

if TYPE_CHECKING:
    from ._base import ClientBase
    from ._core import Call

# What reading a stream's body can raise when the connection or its bytes go bad.
READ_ERRORS = (httpx.TransportError, httpx.DecodingError)
FOLD = 1024     # chunks joined into one block at a time


class StreamAssembler:
    __slots__ = ("response", "call", "parts", "blocks", "session_id", "usage", "finish_reason",
                 "id", "model", "done", "error", "result", "rate_limit", "_complete", "_decoder",
                 "_key", "_over")

    def __init__(self, response: httpx.Response, call: "Call", key: str) -> None:
        self.response = response
        self.call = call
        self.parts: list[str] = []      # the latest chunks' text, fewer than FOLD
        self.blocks: list[str] = []     # all the text before them, in large pieces
        self.session_id: str | None = call.session_id
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.id: str | None = None
        self.model: str | None = None
        self.done = False               # nothing more to read: [DONE] or an error arrived
        self.error: StreamError | None = None   # raised by complete(), after the chunks before it
        self._complete = False          # [DONE] arrived
        self.result: ChatResult | None = None
        self.rate_limit: RateLimitInfo = call.rate_limit
        self._decoder = SSEDecoder()        # with its per-event bound (4 MiB)
        self._key = key
        self._over = False              # finished, failed or interrupted: nothing more to record

    @property
    def over(self) -> bool:
        return self._over

    @property
    def text(self) -> str:
        if not self.parts and len(self.blocks) == 1:
            return self.blocks[0]
        return "".join([*self.blocks, *self.parts])

    def feed(self, raw: bytes) -> list[ChatChunk]:
        """The chunks in one network read. After an error event or bad data, `done` is set and
        the chunks before it are still returned; `complete()` then raises the StreamError."""
        try:
            events = self._decoder.feed(raw)
        except EventTooLarge as exc:
            self.error = self.fail(str(exc), "event_too_large")
            self.done = True
            return []
        return self._chunks(events) if events else []

    def _chunks(self, events: list) -> list[ChatChunk]:
        out: list[ChatChunk] = []
        try:
            self._decode(events, out)
        except StreamError as err:
            self.error = err
            self.done = True
        return out

    def _decode(self, events: list, out: list[ChatChunk]) -> None:
        for event in events:
            data = event.data
            if data == "[DONE]":
                self.done = self._complete = True
                break
            try:
                obj = loads(data)
            except ValueError:
                raise self.fail(f"The server sent a malformed chunk: {data[:80]!r}",
                                "malformed_chunk") from None
            if type(obj) is not dict:
                raise self.fail(f"The server sent a chunk that is not an object: {data[:80]!r}",
                                "malformed_chunk")
            if "error" in obj:
                raise self._error_event(obj["error"])
            try:       # a field of the wrong type is a TypeError: the chunk is malformed
                sid = obj.get("session_id")
                if sid:
                    if type(sid) is not str:
                        raise TypeError
                    self.session_id = sid
                text = ""
                finish = None
                choices = obj.get("choices")
                if choices:
                    choice = choices[0]
                    delta = choice.get("delta")
                    if delta:
                        text = delta.get("content") or ""
                    finish = choice.get("finish_reason")
                    if finish:
                        if type(finish) is not str:
                            raise TypeError
                        self.finish_reason = finish
                usage = obj.get("usage")
                if usage:
                    usage = self.usage = parse_usage(usage)
                if text:
                    if type(text) is not str:
                        raise TypeError
                    if not self.parts and not self.blocks:
                        self.call.first_token_s = perf_counter() - self.call.t0
                        self.id = _str(obj.get("id"))
                        self.model = _str(obj.get("model"))
                    parts = self.parts
                    parts.append(text)
                    if len(parts) >= FOLD:
                        self.blocks.append("".join(parts))
                        parts.clear()
            except (AttributeError, TypeError, LookupError):
                raise self.fail(f"The server sent a chunk of an unexpected shape: {data[:80]!r}",
                                "malformed_chunk") from None
            if text or usage or finish:
                out.append(ChatChunk(text, self.session_id, usage, finish, obj.get("id")))

    def end_of_body(self) -> list[ChatChunk]:
        """The connection has no more bytes: events still waiting for their blank line."""
        return [] if self.done else self._chunks(self._decoder.flush())

    def complete(self) -> ChatResult:
        """Reading is over: the result, recorded once; or the StreamError that ended it, or one
        saying the stream ended before [DONE]."""
        if self.error is not None:
            raise self.error
        if not self._complete:
            self.error = self.fail("The stream ended before the answer was complete (no [DONE]).",
                                   "incomplete")
            raise self.error
        if not self._over:
            self._end(interrupted=False)
        return self.result          # type: ignore[return-value]

    def interrupt(self) -> None:
        """The consumer stopped (close, break, Ctrl-C, cancellation): keep what arrived."""
        if not self._over:
            self._end(interrupted=True)

    def _end(self, interrupted: bool) -> None:
        self._over = True
        call = self.call
        call.session_id = self.session_id
        text = self.text
        self.blocks, self.parts = [text], []   # one copy, shared with the result
        self.result = ChatResult(
            text=text, session_id=self.session_id, usage=self.usage or Usage(),
            finish_reason=self.finish_reason, id=self.id, model=self.model, agent=call.agent,
            rate_limit=self.rate_limit, request_id=call.request_id,
            latency_s=perf_counter() - call.t0, first_token_s=call.first_token_s,
            interrupted=interrupted)
        call.finish(error_code="interrupted" if interrupted else None, usage=self.usage)

    def broken(self, exc: httpx.HTTPError) -> StreamError:
        """The connection failed mid-stream (reset, read timeout, a body that will not decode)."""
        what = "timed out" if isinstance(exc, httpx.TimeoutException) else "broke"
        detail = str(exc) or type(exc).__name__
        return self.fail(f"The stream {what} after it began: {detail}", "connection")

    def fail(self, message: str, reason: str, code: str | None = None) -> StreamError:
        """Record the failure once and build the error the caller raises."""
        call = self.call
        call.session_id = self.session_id
        message = scrub(message, self._key)
        if not self._over:
            self._over = True
            call.finish(error_code="stream_error", usage=self.usage,
                        extra={"reason": reason, "server_code": code} if code else {"reason": reason})
        return StreamError(message, partial_text=self.text, session_id=self.session_id, code=code,
                           status=call.status, request_id=call.request_id)

    def _error_event(self, error: object) -> StreamError:
        if isinstance(error, dict):
            message = str(error.get("message") or "the server reported an error")
            code = error.get("code") if isinstance(error.get("code"), str) else None
        else:
            message, code = str(error), None
        return self.fail(f"The stream failed after it began: {message}", "error_event", code)


class StreamView:
    """What ChatStream and AsyncChatStream share: their state and its read-only face. The
    request is sent when the subclass first opens the stream."""

    def __init__(self, client: "ClientBase", prompt: str | None, kwargs: dict[str, Any]) -> None:
        self._client = client
        self._prompt = prompt
        self._kwargs = kwargs
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
