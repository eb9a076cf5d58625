"""JSON bodies -> result types: a completion, a listing and its paging, agents, sessions,
messages, a session's status. Lenient by design: the live service may answer in any documented
variant (see the house contract), so missing or renamed fields degrade to None instead of failing
the call. The one exception is the answer itself: a completion without a message in its first
choice is an error, never an empty answer.

Every JSON text from the service is read by `parse_json`, which mends lone surrogates.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from json import loads
from math import isfinite
from typing import Any

from ._isotime import fromisoformat
from .types import Agent, ChatResult, Message, Session, SessionStatus, Usage

__all__ = ["parse_json", "text_or_none", "parse_time", "parse_usage", "parse_chat", "items_of",
           "has_next", "parse_agent", "parse_session", "parse_message", "parse_status"]

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")      # how JSON text spells one


def parse_json(text: str) -> Any:
    """JSON text as Python values, every lone surrogate in its strings replaced by U+FFFD.

    JSON may spell half a UTF-16 pair (`"\\ud800"`); json.loads keeps it, and no store can write
    it (sqlite, nbformat and parquet raise UnicodeEncodeError), so an answer holding one would
    be lost wherever it is kept. In text decoded from bytes (with replacement, as httpx and the
    SSE decoder do) only a `\\ud800`-`\\udfff` escape makes one, so text without such an escape
    is returned as parsed: on a stream's hot path, the look is one regex search."""
    value = loads(text)
    return value if _SURROGATE_ESCAPE.search(text) is None else _mend(value)


def _mend(value: Any) -> Any:
    """`value` with lone surrogates replaced in every string, keys included. In place (json.loads
    made the containers), and without recursion, which would take more frames per level than
    json.loads does and fail on a body it parsed."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    todo = [value]
    while todo:
        node = todo.pop()
        if isinstance(node, list):
            for i, item in enumerate(node):
                if isinstance(item, str):
                    node[i] = _LONE_SURROGATE.sub("\ufffd", item)
                elif isinstance(item, (list, dict)):
                    todo.append(item)
        elif isinstance(node, dict):
            items = list(node.items())
            node.clear()
            for key, item in items:
                if isinstance(item, str):
                    item = _LONE_SURROGATE.sub("\ufffd", item)
                elif isinstance(item, (list, dict)):
                    todo.append(item)
                node[_LONE_SURROGATE.sub("\ufffd", key)] = item
    return value


def text_or_none(value: Any) -> str | None:
    """A field that should be a non-empty string, or None (also read by the error and stream
    decoders)."""
    return value if isinstance(value, str) and value else None


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 (a trailing Z is UTC, a naive time is taken as UTC) or Unix seconds."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, timezone.utc)
        text = str(value)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        when = fromisoformat(text)   # as 3.11 reads it, on 3.10 too
    except (ValueError, OverflowError, OSError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def parse_usage(value: Any) -> Usage | None:
    if not isinstance(value, dict):
        return None
    prompt = _int_field(value, "prompt_tokens")
    completion = _int_field(value, "completion_tokens")
    total = _int_field(value, "total_tokens") or prompt + completion
    return Usage(prompt, completion, total)


def _int_field(obj: dict[str, Any], name: str) -> int:
    """A count; anything else is 0, `NaN` and `Infinity` too (json.loads accepts both, and int()
    of them raises, which failed a whole stream or listing over one usage field)."""
    value = obj.get(name)
    return int(value) if isinstance(value, (int, float)) and isfinite(value) else 0


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _content(value: Any) -> str:
    """Message content: a string, or OpenAI-style parts of which the text ones are kept."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "".join(text for part in value
                       if isinstance(part, dict) and isinstance(text := part.get("text"), str))
    return str(value)


def parse_chat(body: Any) -> ChatResult:
    """A `chat.completion` (plus `session_id`); the rest of ChatResult is filled by the caller."""
    if not isinstance(body, dict):
        raise ValueError("the completion is not a JSON object")
    choices = body.get("choices")
    if not choices or not isinstance(choices, list):     # an answer with no answer in it
        keys = ", ".join(repr(key) for key in body)[:200] or "none"
        raise ValueError(f"it has no choices (its keys: {keys})")
    first = choices[0]
    if not isinstance(first, dict):
        raise ValueError("its first choice is not a JSON object")
    message = first.get("message")
    if not isinstance(message, dict):
        raise ValueError("its first choice has no message")
    return ChatResult(
        text=_content(message.get("content")),
        session_id=text_or_none(body.get("session_id")),
        usage=parse_usage(body.get("usage")) or Usage(),
        finish_reason=text_or_none(first.get("finish_reason")),
        id=text_or_none(body.get("id")),
        model=text_or_none(body.get("model")),
    )


def items_of(body: Any, key: str) -> list[dict[str, Any]]:
    """The list in a listing: under `key`, `items` or `data`, or the body itself."""
    if isinstance(body, dict):
        for name in (key, "items", "data", "results"):
            value = body.get(name)
            if isinstance(value, list):
                body = value
                break
        else:
            return []
    return [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []


def has_next(body: Any, page: int, page_size: int, count: int) -> bool:
    """What the body says, else: a full page may have more after it, a short one is the last,
    and a longer one means the server ignored `page_size` and sent everything."""
    if isinstance(body, dict):
        flag = body.get("has_next")
        if isinstance(flag, bool):
            return flag
        total = body.get("total")
        if isinstance(total, int):
            return page * page_size < total
    return count == page_size


def parse_agent(item: dict[str, Any]) -> Agent:
    ident = item.get("id") or item.get("agent_id") or ""
    return Agent(
        id=str(ident), name=str(item.get("name") or ident),
        description=text_or_none(item.get("description")),
        agent_type=text_or_none(item.get("agent_type")),
        is_active=_bool(item.get("is_active")), model=text_or_none(item.get("model")),
        created_at=parse_time(item.get("created_at")))


def parse_session(item: dict[str, Any]) -> Session:
    count = item.get("message_count")
    return Session(
        session_id=str(item.get("session_id") or item.get("id") or ""),
        created_at=parse_time(item.get("created_at")),
        last_update_time=parse_time(item.get("last_update_time") or item.get("updated_at")),
        is_active=_bool(item.get("is_active")),
        message_count=count if isinstance(count, int) else None)


def parse_message(item: dict[str, Any], session_id: str, position: int) -> Message:
    ident = item.get("id") or item.get("message_id")
    return Message(
        session_id=session_id, position=position, id=str(ident) if ident is not None else None,
        role=str(item.get("role") or "unknown"), content=_content(item.get("content")),
        created_at=parse_time(item.get("created_at")),
        agent_name=text_or_none(item.get("agent_name")),
        usage=parse_usage(item.get("usage")))


def parse_status(body: Any, session_id: str) -> SessionStatus:
    body = body if isinstance(body, dict) else {}
    return SessionStatus(
        session_id=str(body.get("session_id") or session_id),
        status=str(body.get("status") or "unknown"),
        is_active=_bool(body.get("is_active")),
        last_update_time=parse_time(body.get("last_update_time")))
