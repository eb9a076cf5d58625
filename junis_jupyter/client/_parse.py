"""Server answers -> result types and exceptions. Lenient by design: the live service may answer
in any documented variant (see the house contract), so missing or renamed fields degrade to None
instead of failing the call. The one exception is the answer itself: a completion without a
message in its first choice is an error, never an empty answer.
"""
from __future__ import annotations

import json
import time
from math import isfinite
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Mapping

import httpx

from ..errors import (APIConnectionError, APIError, APITimeoutError, AuthenticationError,
                      InsufficientCreditsError, PermissionDeniedError, RateLimitError,
                      error_for_status)
from ..config import scrub
from .types import Agent, ChatResult, Message, RateLimitInfo, Session, SessionStatus, Usage

# A code in the body decides the class when it is more specific than the status (e.g. a 403
# that is really about credits).
_BY_CODE: dict[str, type[APIError]] = {
    "invalid_api_key": AuthenticationError, "missing_api_key": AuthenticationError,
    "insufficient_credits": InsufficientCreditsError,
    "scope_not_allowed": PermissionDeniedError, "insufficient_scope": PermissionDeniedError,
    "subscription_required": PermissionDeniedError,
    "rate_limit_exceeded": RateLimitError,
}

_EPOCH_FLOOR = 1_000_000_000   # a "reset" below this is a number of seconds, not a timestamp


# --- headers ----------------------------------------------------------------------------------

def _number(value: str | None) -> float | None:
    """A header's number; `inf`, `nan` and garbage are None (they would break arithmetic and
    datetimes downstream)."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if isfinite(number) else None


def _int(value: str | None) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def parse_reset(value: str | None, now: float) -> float | None:
    """Unix seconds of the reset; a small number is read as seconds from now."""
    number = _number(value)
    if number is None:
        return None
    return number if number >= _EPOCH_FLOOR else now + number


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds to wait: a number, or an HTTP date."""
    if value is None:
        return None
    number = _number(value)
    if number is not None:
        return max(0.0, number)
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_rate_limit(headers: Mapping[str, str], now: float | None = None) -> RateLimitInfo:
    """Reads `X-RateLimit-{Limit,Remaining,Reset}` or their `-Minute` variants, and `-Hour`."""
    get = headers.get
    now = time.time() if now is None else now
    return RateLimitInfo(
        limit=_int(get("x-ratelimit-limit") or get("x-ratelimit-limit-minute")),
        remaining=_int(get("x-ratelimit-remaining") or get("x-ratelimit-remaining-minute")),
        reset=parse_reset(get("x-ratelimit-reset") or get("x-ratelimit-reset-minute"), now),
        retry_after=parse_retry_after(get("retry-after"), now),
        hour_limit=_int(get("x-ratelimit-limit-hour")),
        hour_remaining=_int(get("x-ratelimit-remaining-hour")),
        hour_reset=parse_reset(get("x-ratelimit-reset-hour"), now),
    )


# --- errors -----------------------------------------------------------------------------------

def _error_fields(body: Any) -> tuple[str | None, str | None, str | None]:
    """(message, code, type) from any of the three error body shapes."""
    if not isinstance(body, dict):
        return None, None, None
    error = body.get("error")
    if isinstance(error, dict):                         # {"error": {"message", "type", "code"}}
        return _str(error.get("message")), _str(error.get("code")), _str(error.get("type"))
    if isinstance(error, str):                          # {"error": "code", "message", "code", ...}
        return _str(body.get("message")), error, _str(body.get("type"))
    detail = body.get("detail")
    if isinstance(detail, str):                         # {"detail": "..."}
        return detail, _str(body.get("code")), _str(body.get("type"))
    if isinstance(detail, list):                        # FastAPI validation: [{loc, msg, type}]
        return "; ".join(_validation_item(item) for item in detail) or None, None, None
    if isinstance(detail, dict):                        # the structured form nested under detail
        return _error_fields(detail)
    return _str(body.get("message")), _str(body.get("code")), _str(body.get("type"))


def _validation_item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    loc = item.get("loc")
    where = ".".join(str(p) for p in loc if p != "body") if isinstance(loc, list) else ""
    message = str(item.get("msg") or item.get("message") or item)
    return f"{where}: {message}" if where else message


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def error_from_response(response: httpx.Response, key: str | None) -> APIError:
    """The exception for an error answer (its body already read); never holds the key."""
    status = response.status_code
    text = scrub(response.text, key)
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = text or None
    message, code, etype = _error_fields(body)
    if not message:
        snippet = " ".join(text.split())[:200] if isinstance(body, str) else ""
        message = f"HTTP {status} {response.reason_phrase}".strip() + (f": {snippet}" if snippet else "")
    cls = _BY_CODE.get(code.lower(), None) if code else None
    if cls is None:
        cls = error_for_status(status)
    headers = response.headers
    return cls(scrub(message, key), status=status, code=code, type=etype,
               request_id=headers.get("x-request-id"), body=body,
               retry_after=parse_retry_after(headers.get("retry-after")))


def redirect_error(response: httpx.Response, key: str | None) -> APIError:
    """A 3xx: usually a base URL that is not the API's own (http for https, an old host)."""
    headers = response.headers
    where = headers.get("location")
    target = f" to {where[:200]!r}" if where else ""
    message = (f"The server redirected the request{target}; the client does not follow "
               "redirects (the key would go along), so set base_url to the API's address.")
    return APIError(scrub(message, key), status=response.status_code, code="redirect",
                    request_id=headers.get("x-request-id"))


def connection_error(exc: httpx.TransportError, url: str) -> APIConnectionError:
    """No answer at all. `url` is the base URL: the request itself may carry query strings."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        phase = {httpx.ConnectTimeout: "connecting to", httpx.ReadTimeout: "waiting for",
                 httpx.WriteTimeout: "sending to", httpx.PoolTimeout: "queueing for"}
        return APITimeoutError(f"Timed out {phase.get(type(exc), 'talking to')} {url} ({detail})")
    return APIConnectionError(f"Could not reach {url}: {detail}")


# --- bodies -----------------------------------------------------------------------------------

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
        when = datetime.fromisoformat(text)
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


def _int_field(obj: dict, name: str) -> int:
    value = obj.get(name)
    return int(value) if isinstance(value, (int, float)) else 0


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
        session_id=_str(body.get("session_id")),
        usage=parse_usage(body.get("usage")) or Usage(),
        finish_reason=_str(first.get("finish_reason")),
        id=_str(body.get("id")),
        model=_str(body.get("model")),
    )


def items_of(body: Any, key: str) -> list[dict]:
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


def parse_agent(item: dict) -> Agent:
    ident = item.get("id") or item.get("agent_id") or ""
    return Agent(
        id=str(ident), name=str(item.get("name") or ident),
        description=_str(item.get("description")), agent_type=_str(item.get("agent_type")),
        is_active=_bool(item.get("is_active")), model=_str(item.get("model")),
        created_at=parse_time(item.get("created_at")))


def parse_session(item: dict) -> Session:
    count = item.get("message_count")
    return Session(
        session_id=str(item.get("session_id") or item.get("id") or ""),
        created_at=parse_time(item.get("created_at")),
        last_update_time=parse_time(item.get("last_update_time") or item.get("updated_at")),
        is_active=_bool(item.get("is_active")),
        message_count=count if isinstance(count, int) else None)


def parse_message(item: dict, session_id: str, position: int) -> Message:
    ident = item.get("id") or item.get("message_id")
    return Message(
        session_id=session_id, position=position, id=str(ident) if ident is not None else None,
        role=str(item.get("role") or "unknown"), content=_content(item.get("content")),
        created_at=parse_time(item.get("created_at")), agent_name=_str(item.get("agent_name")),
        usage=parse_usage(item.get("usage")))


def parse_status(body: Any, session_id: str) -> SessionStatus:
    body = body if isinstance(body, dict) else {}
    return SessionStatus(
        session_id=str(body.get("session_id") or session_id),
        status=str(body.get("status") or "unknown"),
        is_active=_bool(body.get("is_active")),
        last_update_time=parse_time(body.get("last_update_time")))
