"""A streamed answer being put together: SSE bytes in, `ChatChunk`s out, one `ChatResult` (or one
`StreamError`) and one call record at the end. Pure: the sync and async streams feed it the
bytes they read and close the connection when it says the stream is over.

This is the per-chunk hot path: one `json.loads` (with `parse_json`'s look for lone surrogates),
a few dict lookups, one `ChatChunk` and one append to the `TextBuffer` per event, nothing else.
"""
from __future__ import annotations

from time import perf_counter

import httpx

from ..config import scrub
from ..errors import StreamError
from ._bodies import parse_json, parse_usage, text_or_none
from ._calls import Call
from .sse import EventTooLarge, SSEDecoder, SSEEvent
from .textbuffer import TextBuffer
from .types import ChatChunk, ChatResult, RateLimitInfo, Usage

__all__ = ["StreamAssembler"]


class StreamAssembler:
    """The state of one streamed answer. It never touches the connection: the stream view that
    feeds it holds the response, and closes it when `done` or `over` says so."""

    __slots__ = ("call", "session_id", "usage", "finish_reason", "id", "model", "done", "error",
                 "result", "rate_limit", "_text", "_complete", "_decoder", "_key", "_over")

    def __init__(self, call: Call, key: str) -> None:
        self.call = call
        self._text = TextBuffer()
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
        return self._text.text

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

    def _chunks(self, events: list[SSEEvent]) -> list[ChatChunk]:
        out: list[ChatChunk] = []
        try:
            self._decode(events, out)
        except StreamError as err:
            self.error = err
            self.done = True
        return out

    def _decode(self, events: list[SSEEvent], out: list[ChatChunk]) -> None:
        append = self._text.append
        call = self.call
        for event in events:
            data = event.data
            if data == "[DONE]":
                self.done = self._complete = True
                break
            try:
                obj = parse_json(data)
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
                    if call.first_token_s is None:      # the first text: nothing appended yet
                        call.first_token_s = perf_counter() - call.t0
                        self.id = text_or_none(obj.get("id"))
                        self.model = text_or_none(obj.get("model"))
                    append(text)
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
        result = self.result
        assert result is not None   # _end made it: a failure kept its error, raised above
        return result

    def interrupt(self) -> None:
        """The consumer stopped (close, break, Ctrl-C, cancellation): keep what arrived."""
        if not self._over:
            self._end(interrupted=True)

    def _end(self, interrupted: bool) -> None:
        self._over = True
        call = self.call
        call.session_id = self.session_id
        text = self.text                # the buffer now holds this one str, shared with the result
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
            extra = {"reason": reason, "server_code": code} if code else {"reason": reason}
            call.finish(error_code="stream_error", usage=self.usage, extra=extra)
        return StreamError(message, partial_text=self.text, session_id=self.session_id, code=code,
                           status=call.status, request_id=call.request_id)

    def _error_event(self, error: object) -> StreamError:
        if isinstance(error, dict):
            message = str(error.get("message") or "the server reported an error")
            code = error.get("code") if isinstance(error.get("code"), str) else None
        else:
            message, code = str(error), None
        return self.fail(f"The stream failed after it began: {message}", "error_event", code)
