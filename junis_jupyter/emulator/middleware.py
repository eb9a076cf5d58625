"""The outermost layer: request ids, rate-limit headers on every response, statistics and the
faults that strike as a request arrives (status, delay, reset)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from . import _requires_extra  # noqa: F401  (first: no extra, one clear line)

# isort: split
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .faults import ARRIVAL_KINDS, Fault
from .runtime import Emulator
from .wire import error_body, json_response

_ADMIN_PREFIX = "/_emulator/"
_NO_RESPONSE = "disconnected"     # the stats label of a request whose client left before an answer
logger = logging.getLogger("junis_jupyter.emulator")


class EmulatorMiddleware:
    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        emulator = self.emulator
        request_id = ("req_" + uuid.uuid4().hex[:24]).encode()
        admin = emulator.options.admin and scope["path"].startswith(_ADMIN_PREFIX)
        status = [_NO_RESPONSE]

        async def tagged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", request_id))
                if not admin and not any(name == b"x-ratelimit-limit" for name, _ in headers):
                    headers.extend(emulator.quota(scope["headers"]).headers())
                status[0] = str(message["status"])
                message = {**message, "headers": headers}
            await send(message)

        if admin:
            with contextlib.suppress(ClientDisconnect):     # left while sending its body
                await self.app(scope, receive, tagged_send)
            return
        emulator.stats.begin()
        try:
            fault = emulator.faults.take(scope["path"], ARRIVAL_KINDS)
            if fault is None:
                await self._serve(scope, receive, tagged_send, status)
            elif fault.kind == "reset":
                await self._reset(scope, receive)
                status[0] = "reset"
            elif fault.kind == "status":
                await _status_response(fault)(scope, receive, tagged_send)
            else:
                replay = await _delay(fault.seconds, receive)
                if replay is not None:
                    await self._serve(scope, replay, tagged_send, status)
        finally:
            emulator.stats.end(status[0])

    async def _serve(self, scope: Scope, receive: Receive, send: Send, status: list[str]) -> None:
        """Run the app; a crash before the response started still gets the contract's 500 body
        (with this layer's headers), a crash mid-stream drops the connection. A client that left
        while sending its body is no crash: nobody is there to answer, it counts as disconnected."""
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            return
        except Exception:
            if status[0] != _NO_RESPONSE:
                raise
            logger.exception("emulator error on %s %s", scope["method"], scope["path"])
            body = error_body(500, "server_error", "The emulator failed unexpectedly.")
            await json_response(body, 500)(scope, receive, send)

    async def _reset(self, scope: Scope, receive: Receive) -> None:
        """Drop the TCP connection without a byte of response."""
        transport = self.emulator.transports.get(tuple(scope.get("client") or ()))
        if transport is None:       # not served by our protocol (e.g. an in-memory test client)
            raise ConnectionResetError("reset fault")
        transport.abort()
        while (await receive())["type"] != "http.disconnect":
            pass


def _status_response(fault: Fault) -> Response:
    retry_after = fault.retry_after
    if retry_after is None and fault.status == 429:
        retry_after = 1
    headers = [] if retry_after is None else [(b"retry-after", f"{retry_after:g}".encode())]
    return json_response(error_body(fault.status, fault.code, fault.message), fault.status, headers)


async def _delay(seconds: float, receive: Receive) -> Receive | None:
    """Hold the request back; None if the client gave up meanwhile, else a receive that replays
    the body read while waiting."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    try:
        message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
        if message["type"] == "http.disconnect":
            return None
    except asyncio.TimeoutError:
        pass
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return await receive()

    return replay
