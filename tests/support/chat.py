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
from pathlib import Path
from typing import Any, Awaitable, Callable

from .server_process import ServerProcess

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
                    persona: str = PERSONA_ID,
                    during: tuple[int, Callable[[], Awaitable[Any]]] | None = None) -> Reply:
        """The persona's reply: its message frames until its writing status goes from true to
        false, then whatever else it says within `then` seconds (an error comes after).
        `during=(n, act)`: `await act()` once the reply has had n updates."""
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
                if during is not None and len(reply.updates) >= during[0]:
                    await during[1]()
                    during = None
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


# --- a Jupyter server of its own (for what one in the test process cannot show) ----------------

CHAT_EXTENSIONS = ("jupyterlab_chat", "jupyter_ai_router", "jupyter_ai_persona_manager")


# Jupyter AI's server extensions and the ones it brings (jupyter-ai 3.2): MCP, ACP, litellm...
JUPYTER_AI_FAMILY = ("jupyter_ai", "jupyter_server_mcp", "jupyter_live_content",
                     "jupyterlab_commands_toolkit", "jupyterlab_chat")


def server_extensions_config(config_dir: Path, enable: Callable[[str], bool]) -> None:
    """A user config (first in Jupyter's config path, so it wins) that turns each server
    extension the environment enables on or off by `enable(name)`."""
    import jupyter_core.paths
    enabled: set[str] = set()
    for directory in jupyter_core.paths.jupyter_config_path():
        for path in Path(directory, "jupyter_server_config.d").glob("*.json"):
            try:
                listed = json.loads(path.read_text())["ServerApp"]["jpserver_extensions"]
            except (ValueError, KeyError, TypeError):
                continue
            enabled.update(listed)
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"jpserver_extensions": {name: enable(name) for name in enabled}}}))


def quiet_server_config(config_dir: Path, keep: tuple[str, ...] = CHAT_EXTENSIONS) -> None:
    """Every server extension off but `keep`: jupyter-ai's others (litellm, MCP, ACP) add
    seconds to a start and nothing to these tests."""
    server_extensions_config(config_dir, lambda name: name in keep)
    config = json.loads((config_dir / "jupyter_server_config.json").read_text())
    config["ServerApp"]["jpserver_extensions"].update(dict.fromkeys(keep, True))
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(config))


def without_jupyter_ai(config_dir: Path) -> None:
    """Jupyter AI's server extensions off, the rest as the environment has them: for a
    JupyterLab whose tests do not use the chat (jupyter-ai, in the dev extra since the persona,
    adds about 4 s to a server's start here, most of it litellm's looking for the network)."""
    server_extensions_config(config_dir, lambda name: not name.startswith(JUPYTER_AI_FAMILY))


class ChatServer(ServerProcess):
    """`jupyter server` in its own process group, with jupyterlab-chat and Jupyter AI's router
    and persona manager, a token, and throwaway config, data and runtime directories."""

    def __init__(self, root: Path, scratch: Path, env: dict[str, str],
                 app: str = "jupyter_server", keep: tuple[str, ...] = CHAT_EXTENSIONS,
                 extra_args: tuple[str, ...] = (), timeout: float = 60.0) -> None:
        import secrets
        for name in ("config", "data", "runtime"):
            (scratch / name).mkdir(parents=True, exist_ok=True)
        quiet_server_config(scratch / "config", keep)
        self.token = secrets.token_hex(16)
        self.runtime_dir = scratch / "runtime"
        super().__init__(app, [f"--IdentityProvider.token={self.token}",
                               f"--ServerApp.root_dir={root}", *extra_args], {
            **env, "JUPYTER_CONFIG_DIR": str(scratch / "config"),
            "JUPYTER_DATA_DIR": str(scratch / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.runtime_dir)}, scratch / "server.log", timeout)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    async def chat(self, path: str) -> ChatSocket:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect
        ws = await websocket_connect(HTTPRequest(
            f"ws://127.0.0.1:{self.port}/api/chat/ws/{path}", headers=self.headers))
        return await ChatSocket.open(ws)
