"""Request validation: every rejection is a 400 `invalid_request` whose message names the field."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import _requires_extra  # noqa: F401  (first: no extra, one clear line)

# isort: split
from starlette.requests import Request

from .wire import ApiError

ROLES = ("system", "developer", "user", "assistant", "tool")
STORED_ROLE = {"developer": "system"}     # OpenAI's newer name for a system message
PART_SEPARATOR = "\n"                      # between the text parts of one message
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


def text_content(content: Any, where: str) -> str:
    """OpenAI's `content`: a string, or a list of parts whose text parts are joined (one per line).
    Any other part (image_url, input_audio, file...) is refused by name: the API takes text only."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list) or not content:
        raise invalid(f"Invalid '{where}': must be a string or a non-empty list of content parts.")
    texts = []
    for index, part in enumerate(content):
        name = f"{where}[{index}]"
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise invalid(f"Invalid '{name}': must be a content part object with a 'type'.")
        if part["type"] != "text":
            raise invalid(f"Invalid '{name}': content parts of type '{part['type'][:40]}' are not "
                          "supported; the Junis API takes text parts only.")
        if not isinstance(part.get("text"), str):
            raise invalid(f"Invalid '{name}.text': must be a string.")
        texts.append(part["text"])
    return PART_SEPARATOR.join(texts)


def chat_message(message: Any, where: str) -> dict[str, str]:
    """One message of OpenAI's request shape, as recorded: its role (developer becomes system) and
    its text. `name`, `tool_calls` and `tool_call_id` are checked, then dropped (the session keeps
    role and text only); other keys of a message are ignored."""
    if not isinstance(message, dict):
        raise invalid(f"Invalid '{where}': must be an object with 'role' and 'content'.")
    role, content = message.get("role"), message.get("content")
    if not isinstance(role, str) or role not in ROLES:
        raise invalid(f"Invalid '{where}.role': must be one of {', '.join(ROLES)}.")
    name = message.get("name")
    if name is not None and not isinstance(name, str):
        raise invalid(f"Invalid '{where}.name': must be a string.")
    tool_calls = message.get("tool_calls")
    if role == "assistant" and tool_calls is not None:
        if not isinstance(tool_calls, list) or not all(isinstance(c, dict) for c in tool_calls):
            raise invalid(f"Invalid '{where}.tool_calls': must be a list of tool call objects.")
        if content is None:
            return {"role": role, "content": ""}
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        raise invalid(f"Invalid '{where}.tool_call_id': a tool message needs the string id of "
                      "the tool call it answers.")
    if content is None and role == "assistant":
        raise invalid(f"Invalid '{where}.content': must be a string or a list of content parts "
                      "(null only beside 'tool_calls').")
    return {"role": STORED_ROLE.get(role, role),
            "content": text_content(content, f"{where}.content")}


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
    request = ChatRequest([chat_message(message, f"messages[{index}]")
                           for index, message in enumerate(messages)])
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
        if not isinstance(options, dict) \
                or not isinstance(options.get("include_usage", False), bool):
            raise invalid("Invalid 'stream_options': must be an object like "
                          "{\"include_usage\": true}.")
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
