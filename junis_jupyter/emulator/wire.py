"""What goes on the wire: error bodies, JSON responses and chat-completion chunks, built cheaply."""
from __future__ import annotations

import json
from typing import Any

from . import _requires_extra  # noqa: F401  (first: no extra, one clear line)

# isort: split
from starlette.responses import Response

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
               403: "permission_error", 404: "not_found_error", 405: "invalid_request_error",
               429: "rate_limit_error"}
DEFAULT_CODES = {400: "invalid_request", 401: "invalid_api_key", 402: "insufficient_credits",
                 403: "scope_not_allowed", 404: "not_found", 429: "rate_limit_exceeded",
                 500: "server_error", 503: "service_unavailable"}

# ASCII-only JSON: a lone surrogate in a prompt (legal in JSON text) cannot break the UTF-8 body
_dumps = json.JSONEncoder(separators=(",", ":")).encode


class ApiError(Exception):
    """Raised inside handlers; the app's exception handler turns it into the contract's error
    body."""

    def __init__(self, status: int, code: str, message: str, *,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or []


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")


def error_body(status: int, code: str | None, message: str | None) -> dict[str, Any]:
    code = code or DEFAULT_CODES.get(status, "server_error" if status >= 500 else "invalid_request")
    return {"error": {"message": message or f"Emulated error {status} ({code}).",
                      "type": error_type(status), "code": code}}


def json_response(data: Any, status: int = 200,
                  headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    response = Response(_dumps(data), status_code=status, media_type="application/json")
    if headers:
        response.raw_headers.extend(headers)
    return response


def error_response(error: ApiError) -> Response:
    return json_response(error_body(error.status, error.code, error.message), error.status,
                         error.headers)


class ChunkEncoder:
    """SSE events of one stream: the constant part of every chunk is encoded once."""

    def __init__(self, completion_id: str, created: int, model: str, session_id: str) -> None:
        head = _dumps({"id": completion_id, "object": "chat.completion.chunk", "created": created,
                       "model": model, "session_id": session_id})[:-1]
        self._content_head = head + ',"choices":[{"index":0,"delta":{"content":'
        self._content_tail = '},"finish_reason":null}]}\n\n'
        self._first_head = head + ',"choices":[{"index":0,"delta":{"role":"assistant","content":'
        self._head = head

    def content(self, piece: str, first: bool = False) -> str:
        return ("data: " + (self._first_head if first else self._content_head) + _dumps(piece)
                + self._content_tail)

    def finish(self, reason: str) -> str:
        return ("data: " + self._head + ',"choices":[{"index":0,"delta":{},"finish_reason":'
                + _dumps(reason) + "}]}\n\n")

    def usage(self, usage: dict[str, int]) -> str:
        return "data: " + self._head + ',"choices":[],"usage":' + _dumps(usage) + "}\n\n"

    @staticmethod
    def error(status: int, code: str | None, message: str | None) -> str:
        return "data: " + _dumps(error_body(status, code, message)) + "\n\n"

    done = "data: [DONE]\n\n"
