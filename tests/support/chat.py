"""Jupyter AI's chat as the browser sees it, over the chat WebSocket (`/api/chat/ws/<path>`),
without a browser: what jupyterlab-chat sends when Enter is pressed with a persona picked, and
the frames that come back (../shared/jupyter-ai-notes.md, "Testing without a browser").
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

PERSONA_ID = "jupyter-ai-personas::junis_jupyter::JunisPersona"


@dataclass
class Reply:
    """One persona reply as it grew: each update's whole body, and when it came."""
    message_id: str | None = None
    updates: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    others: list[str] = field(default_factory=list)   # other messages of the persona (errors)

    @property
    def body(self) -> str:
        return self.updates[-1] if self.updates else ""


class ChatSocket:
    """One client connection to a `.chat` file (a tornado WebSocketClientConnection)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.connection: dict[str, Any] = {}
        self.frames: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, ws: Any) -> ChatSocket:
        sock = cls(ws)
        sock.connection = await sock.frame()
        assert sock.connection["action"] == "connection", sock.connection
        return sock

    async def frame(self, timeout: float = 30.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.read_message(), timeout)
        if raw is None:
            raise ConnectionError("the chat WebSocket closed")
        data = json.loads(raw)
        self.frames.append(data)
        return data

    async def send(self, body: str, *, to: str | None = PERSONA_ID,
                   metadata: dict[str, Any] | None = None,
                   attachments: list[dict[str, Any]] | None = None) -> str:
        """A message as the chat input sends it with a persona picked (its id in to_persona)."""
        message_id = str(uuid.uuid4())
        meta = dict(metadata or {})
        if to is not None:
            meta["to_persona"] = to
        frame: dict[str, Any] = {"type": "client", "action": "send", "id": message_id,
                                 "body": body, "metadata": meta}
        if attachments is not None:
            frame["attachments"] = attachments
        await self.ws.write_message(json.dumps(frame))
        return message_id

    async def reply(self, timeout: float = 30.0, *, then: float = 0.3,
                    persona: str = PERSONA_ID) -> Reply:
        """The persona's reply: its message frames until its writing status goes from true to
        false, then whatever else it says within `then` seconds (an error comes after)."""
        reply = Reply()
        deadline = time.monotonic() + timeout
        writing = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no end of the reply in {timeout} s; got {reply}")
            data = await self.frame(left)
            if _writing(data, persona) is True:
                writing = True
            elif _writing(data, persona) is False and writing:
                break
            else:
                self._take(data, reply, persona)
        await self.drain(then, lambda data: self._take(data, reply, persona))
        return reply

    async def drain(self, seconds: float, each: Callable[[dict[str, Any]], Any]) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                each(await self.frame(left))
            except (asyncio.TimeoutError, TimeoutError):
                return

    async def persona_message(self, test: Callable[[str], bool], timeout: float = 30.0,
                              persona: str = PERSONA_ID) -> str:
        """The body of the first message of the persona that passes `test`."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            data = await self.frame(left)
            message = data.get("message") or {}
            if data.get("action") == "message" and message.get("sender") == persona \
                    and test(message.get("body") or ""):
                return message["body"]
        raise TimeoutError("no such message")

    @staticmethod
    def _take(data: dict[str, Any], reply: Reply, persona: str) -> None:
        message = data.get("message") or {}
        if data.get("action") != "message" or message.get("sender") != persona:
            return
        if reply.message_id is None and not message.get("body", "").startswith(("⚠️", "ℹ️")):
            reply.message_id = message["id"]
        if message["id"] == reply.message_id:
            if reply.updates and reply.updates[-1] == message.get("body"):
                return          # stream_message sends the last body once more, to find mentions
            reply.updates.append(message.get("body") or "")
            reply.times.append(time.monotonic())
        else:
            reply.others.append(message.get("body") or "")


def _writing(data: dict[str, Any], persona: str) -> bool | None:
    if data.get("action") == "writing" and (data.get("user") or {}).get("username") == persona:
        return bool(data.get("state"))
    return None
