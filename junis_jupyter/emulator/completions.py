"""Chat and agent completions: validate, resolve agent and session, answer (whole or streamed)."""
from __future__ import annotations

import asyncio
import math
import time
import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from . import _requires_extra  # noqa: F401  (first: no extra, one clear line)

# isort: split
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .faults import STREAM_KINDS, Fault
from .responder import DirectiveError, answer_text, fit, split_pieces
from .runtime import Emulator
from .store import KeyRecord, Session
from .tokens import count_tokens, truncate_tokens
from .validate import chat_request, invalid, read_json
from .wire import ApiError, ChunkEncoder, json_response

BATCH_BYTES = 64 * 1024          # at no delay, SSE events are coalesced into sends this large
ORCHESTRATOR_MODEL = "junis-orchestrator"
MALFORMED = "data: {\"id\": oops, this is not JSON\n\n"
ABORT = "\0abort"                # _body's answer when the TCP connection is to be dropped


def require(record: KeyRecord, scope: str) -> None:
    if scope not in record.scopes:
        raise ApiError(403, "scope_not_allowed", f"This API key lacks the '{scope}' scope.")


def cost(total_tokens: int) -> int:
    """1 credit per started 1,000 tokens, at least 1."""
    return max(1, math.ceil(total_tokens / 1000))


@dataclass
class Turn:
    """One completion in progress: what it answers, where it is recorded, what it costs."""
    emulator: Emulator
    record: KeyRecord
    session: Session
    agent_name: str
    model: str
    text: str
    chunks: int | None                  # the [[chunks=N]] directive, if any
    finish_reason: str
    delay: float
    prompt_tokens: int
    include_usage: bool

    @cached_property
    def pieces(self) -> list[str]:
        """The streamed pieces (a whole answer needs them only to know how long to wait)."""
        return split_pieces(self.text, self.chunks) or [""]

    def delivered(self, count: int) -> str:
        """The text of the first `count` pieces."""
        return self.text if count >= len(self.pieces) else "".join(self.pieces[:count])

    def usage(self, text: str) -> dict[str, int]:
        completion = count_tokens(text)
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": completion,
                "total_tokens": self.prompt_tokens + completion}

    def finish(self, text: str, usage: dict[str, int] | None = None) -> dict[str, int]:
        """Record the assistant turn (what was actually delivered), charge for it, mark idle;
        `usage` is the one already computed for `text`, if any."""
        usage = usage or self.usage(text)
        store = self.emulator.store
        store.add_message(self.session, "assistant", text, agent_name=self.agent_name, usage=usage)
        self.record.credits = max(0, self.record.credits - cost(usage["total_tokens"]))
        self.emulator.mark(self.session.session_id, -1)
        store.save()
        return usage


async def completion(emulator: Emulator, request: Request, record: KeyRecord,
                     agent: dict[str, Any] | None) -> ASGIApp:
    if agent is None:
        require(record, "orchestrator:invoke")
    body = chat_request(await read_json(request))
    if agent is None and body.stream:
        require(record, "orchestrator:stream")
    store = emulator.store
    session = None
    if body.session_id is not None:
        session = store.sessions.get(body.session_id)
        if session is None:
            raise ApiError(404, "session_not_found", "No session with that session_id.")
    try:
        text, directives = answer_text(body.prompt)
    except DirectiveError as exc:
        raise invalid(f"Invalid 'messages': {exc}.") from None
    history = session.messages if session else []
    prompt_tokens = (sum(count_tokens(m.content) for m in history)
                     + sum(count_tokens(m["content"]) for m in body.messages))
    if record.credits < cost(prompt_tokens):
        raise ApiError(402, "insufficient_credits",
                       f"Insufficient credits: this call needs at least {cost(prompt_tokens)}, "
                       f"the key has {record.credits}.")
    finish_reason = "stop"
    if body.max_tokens is not None:
        text, cut = truncate_tokens(text, body.max_tokens)
        finish_reason = "length" if cut else "stop"
        if directives.chunks is not None and len(text) < directives.chunks:
            text = fit(text, directives.chunks)     # what split_pieces streams: the whole answer
    if session is None:
        session = store.new_session()
    agent_name = agent["name"] if agent else "Orchestrator"
    for message in body.messages:
        store.add_message(session, message["role"], message["content"])
    emulator.mark(session.session_id, +1)
    store.save()
    turn = Turn(emulator, record, session, agent_name,
                body.model or (agent["model"] if agent else ORCHESTRATOR_MODEL),
                text, directives.chunks, finish_reason,
                emulator.options.token_delay if directives.delay is None else directives.delay,
                prompt_tokens, body.include_usage)
    if body.stream:
        return StreamingCompletion(turn, request.url.path)
    return await whole(turn)


async def whole(turn: Turn) -> Response:
    """A non-streamed answer takes as long as its stream would have."""
    text = turn.text
    try:
        if turn.delay:
            await asyncio.sleep(turn.delay * len(turn.pieces))
    finally:
        usage = turn.finish(text)
    return json_response({
        "id": "cmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion",
        "created": int(time.time()), "model": turn.model, "session_id": turn.session.session_id,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": turn.finish_reason}],
        "usage": usage})


class StreamingCompletion:
    """Server-sent events, with the stream faults applied; the turn is recorded when it ends."""

    def __init__(self, turn: Turn, path: str) -> None:
        self.turn = turn
        self.fault: Fault | None = turn.emulator.faults.take(path, STREAM_KINDS)
        self.encoder = ChunkEncoder("cmpl-" + uuid.uuid4().hex[:24], int(time.time()), turn.model,
                                    turn.session.session_id)
        self.raw_headers = [(b"content-type", b"text/event-stream; charset=utf-8"),
                            (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
        self.sent = 0                                   # pieces handed to the connection
        self.usage: dict[str, int] | None = None        # computed once for the usage event

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()
        watcher = asyncio.ensure_future(_watch_disconnect(receive, gone))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            ending = await self._body(send, gone)
            if ending == ABORT:
                transport = self.turn.emulator.transports.get(tuple(scope.get("client") or ()))
                if transport is not None:
                    transport.abort()
                    await gone.wait()
                return
            if not gone.is_set():
                await send({"type": "http.response.body", "body": ending.encode(),
                            "more_body": False})
        finally:
            watcher.cancel()
            self.turn.finish(self.turn.delivered(self.sent), self.usage)

    async def _body(self, send: Send, gone: asyncio.Event) -> str:
        """Send the content chunks; return the last bytes of the stream (sent with the end of the
        response, so the turn is recorded before the client can act on `[DONE]`), or ABORT."""
        turn, encoder, fault = self.turn, self.encoder, self.fault
        stop_at = fault.after if fault else -1
        pieces = turn.pieces
        batch: list[str] = []
        size = 0
        for index in range(len(pieces) + 1):
            if index == stop_at and fault is not None:
                tail = self._fault_event(fault)
                if tail == ABORT:
                    await _send(send, batch)
                    return ABORT
                if tail is not None:
                    return "".join(batch) + tail
                batch.append(MALFORMED)
            if index == len(pieces):
                break
            event = encoder.content(pieces[index], first=index == 0)
            batch.append(event)
            self.sent = index + 1
            if turn.delay:
                await _send(send, batch)
                batch = []
                if await _wait(gone, turn.delay):
                    return ""
            else:
                size += len(event)
                if size >= BATCH_BYTES:
                    await _send(send, batch)
                    batch, size = [], 0
                    if gone.is_set():
                        return ""
        batch.append(encoder.finish(turn.finish_reason))
        if turn.include_usage:
            self.usage = turn.usage(turn.delivered(self.sent))
            batch.append(encoder.usage(self.usage))
        batch.append(encoder.done)
        return "".join(batch)

    @staticmethod
    def _fault_event(fault: Fault) -> str | None:
        """The last bytes for a stream-ending fault; None for `malformed` (the stream goes on)."""
        if fault.kind == "cut":
            return ABORT if fault.abrupt else ""
        if fault.kind == "error_event":
            return ChunkEncoder.error(500, fault.code or "server_error",
                                      fault.message or "The agent failed mid-answer (emulated).")
        return None


async def _send(send: Send, batch: list[str]) -> None:
    if batch:
        await send({"type": "http.response.body", "body": "".join(batch).encode(),
                    "more_body": True})


async def _wait(gone: asyncio.Event, seconds: float) -> bool:
    """Sleep, waking early (True) if the client went away."""
    try:
        await asyncio.wait_for(gone.wait(), seconds)
        return True
    except asyncio.TimeoutError:
        return False


async def _watch_disconnect(receive: Receive, gone: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()

