"""Request validation: every rejection is a 400 `invalid_request` whose message names the field."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from .wire import ApiError

ROLES = ("system", "user", "assistant", "tool")
MAX_PAGE_SIZE = 100


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request", message)


@dataclass
class ChatRequest:
    messages: list[dict[str, str]]
    model: str | None = None
    stream: bool = False
    session_id: str | None = None
    max_tokens: int | None = None
    include_usage: bool = False

    @property
    def prompt(self) -> str:
        """The last user message: what the scripted responder answers."""
        for message in reversed(self.messages):
            if message["role"] == "user":
                return message["content"]
        return ""


async def read_json(request: Request) -> Any:
    body = await request.body()
    try:
        return json.loads(body)
    except ValueError:
        raise invalid("Request body is not valid JSON.") from None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def chat_request(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise invalid("Request body must be a JSON object.")
    messages = body.get("messages")
    if messages is None:
        raise invalid("Missing required field 'messages'.")
    if not isinstance(messages, list):
        raise invalid("Invalid 'messages': must be a list of message objects.")
    if not messages:
        raise invalid("Invalid 'messages': must not be empty.")
    clean = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise invalid(f"Invalid 'messages[{index}]': must be an object with 'role' and 'content'.")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise invalid(f"Invalid 'messages[{index}].role': must be one of {', '.join(ROLES)}.")
        if not isinstance(content, str):
            raise invalid(f"Invalid 'messages[{index}].content': must be a string.")
        clean.append({"role": role, "content": content})
    request = ChatRequest(clean)
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise invalid("Invalid 'model': must be a string.")
    request.model = model
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise invalid("Invalid 'stream': must be a boolean.")
    request.stream = bool(stream)
    session_id = body.get("session_id")
    if session_id is not None and not isinstance(session_id, str):
        raise invalid("Invalid 'session_id': must be a string.")
    request.session_id = session_id
    temperature = body.get("temperature")
    if temperature is not None and not (_number(temperature) and 0 <= temperature <= 2):
        raise invalid("Invalid 'temperature': must be a number between 0 and 2.")
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise invalid(f"Invalid '{name}': must be a positive integer.")
        request.max_tokens = value
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict) or not isinstance(options.get("include_usage", False), bool):
            raise invalid("Invalid 'stream_options': must be an object like {\"include_usage\": true}.")
        request.include_usage = bool(options.get("include_usage"))
    return request


def page_params(request: Request) -> tuple[int, int]:
    """1-based `page` (default 1) and `page_size` (default 20, at most 100)."""
    values = []
    for name, default, upper in (("page", 1, None), ("page_size", 20, MAX_PAGE_SIZE)):
        raw = request.query_params.get(name)
        if raw is None:
            values.append(default)
            continue
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1 or (upper is not None and value > upper):
            bound = f"between 1 and {upper}" if upper else "at least 1"
            raise invalid(f"Invalid '{name}': must be an integer {bound}.")
        values.append(value)
    return values[0], values[1]


def bool_param(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise invalid(f"Invalid '{name}': must be true or false.")
