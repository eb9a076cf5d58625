"""The contract's endpoints, each behind the same gate: auth, rate limit, concurrency slot."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from . import _requires_extra  # noqa: F401  (first: no extra, one clear line)

# isort: split
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from .completions import completion, require
from .runtime import Emulator
from .store import KeyRecord
from .validate import bool_param, page_params
from .wire import ApiError, json_response

Handler = Callable[[Emulator, Request, KeyRecord], Awaitable[ASGIApp]]


class Endpoint:
    """An ASGI app for one route: the slot is held until the response (or stream) has ended."""

    def __init__(self, emulator: Emulator, handler: Handler) -> None:
        self.emulator = emulator
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # an ApiError (here or in the handler) becomes its error response in the app's handler
        record = self.emulator.authenticate(scope["headers"])
        self.emulator.admit(record)
        try:
            response = await self.handler(self.emulator, Request(scope, receive), record)
            await response(scope, receive, send)
        finally:
            self.emulator.release(record)


def _page(items: list[Any], page: int, size: int) -> tuple[list[Any], dict[str, Any]]:
    start = (page - 1) * size
    return items[start:start + size], {"total": len(items), "page": page, "page_size": size,
                                       "has_next": start + size < len(items)}


async def chat(emulator: Emulator, request: Request, record: KeyRecord) -> ASGIApp:
    return await completion(emulator, request, record, None)


async def agent_chat(emulator: Emulator, request: Request, record: KeyRecord) -> ASGIApp:
    require(record, "agents:invoke")
    agent = emulator.store.agents_by_id.get(request.path_params["agent_id"])
    if agent is None:
        raise ApiError(404, "agent_not_found", "No agent with that id in this organisation.")
    if agent["agent_type"] != "LLM_AGENT":
        raise ApiError(400, "agent_not_invocable",
                       f"Agent '{agent['name']}' is a {agent['agent_type']}; only LLM_AGENT agents "
                       "can be invoked directly.")
    return await completion(emulator, request, record, agent)


async def agents(emulator: Emulator, request: Request, record: KeyRecord) -> ASGIApp:
    require(record, "agents:list")
    kind = request.query_params.get("agent_type")
    active = bool_param(request, "is_active")
    found = [agent for agent in emulator.store.agents
             if (kind is None or agent["agent_type"] == kind)
             and (active is None or agent["is_active"] == active)]
    return json_response({"agents": found, "total": len(found)})


async def sessions(emulator: Emulator, request: Request, record: KeyRecord) -> ASGIApp:
    require(record, "sessions:read")
    page, size = page_params(request)
    summaries = [s.summary() for s in emulator.store.sessions_newest_first()]
    items, envelope = _page(summaries, page, size)
    return json_response({"sessions": items, **envelope})


def _session(emulator: Emulator, request: Request) -> Any:
    session = emulator.store.sessions.get(request.path_params["session_id"])
    if session is None:
        raise ApiError(404, "session_not_found", "No session with that id.")
    return session


async def messages(emulator: Emulator, request: Request, record: KeyRecord) -> ASGIApp:
    require(record, "sessions:messages")
    session = _session(emulator, request)
    page, size = page_params(request)
    items, envelope = _page(session.messages, page, size)
    return json_response({"session_id": session.session_id,
                          "messages": [{"id": m.id, "role": m.role, "content": m.content,
                                        "created_at": m.created_at, "agent_name": m.agent_name,
                                        "usage": m.usage} for m in items],
                          **envelope})


async def status(emulator: Emulator, request: Request, record: KeyRecord) -> ASGIApp:
    require(record, "sessions:read")
    session = _session(emulator, request)
    status = "processing" if emulator.processing(session.session_id) else "idle"
    return json_response({"session_id": session.session_id,
                          "status": status,
                          "is_active": session.is_active,
                          "last_update_time": session.last_update_time})


ROUTES: list[tuple[str, str, Handler]] = [
    ("/v1/chat/completions", "POST", chat),
    ("/agents/{agent_id}/completions", "POST", agent_chat),
    ("/agents", "GET", agents),
    ("/sessions", "GET", sessions),
    ("/sessions/{session_id}/messages", "GET", messages),
    ("/sessions/{session_id}/status", "GET", status),
]
