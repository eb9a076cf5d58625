"""What went wrong, as the exception to raise: an error answer (any of the three error body
shapes), a redirect, or no answer at all. The classes, and which status or code picks which,
are `junis_jupyter.errors`'; this reads the answer. Messages never hold the key."""
from __future__ import annotations

import time
from typing import Any

import httpx

from ..config import scrub
from ..errors import APIConnectionError, APIError, APITimeoutError, error_for_status
from ._bodies import parse_json, text_or_none
from ._retry import server_wait

__all__ = ["error_from_response", "redirect_error", "connection_error"]


def error_from_response(response: httpx.Response, key: str | None) -> APIError:
    """The exception for an error answer (its body already read)."""
    status = response.status_code
    text = scrub(response.text, key)
    try:
        body: Any = parse_json(text)
    except ValueError:
        body = text or None
    message, code, etype = _error_fields(body)
    if not message:
        snippet = " ".join(text.split())[:200] if isinstance(body, str) else ""
        message = f"HTTP {status} {response.reason_phrase}".strip()
        message += f": {snippet}" if snippet else ""
    headers = response.headers
    return error_for_status(status, code)(
        scrub(message, key), status=status, code=code, type=etype,
        request_id=headers.get("x-request-id"), body=body,
        # Retry-After, else (on a 429) the window's reset: what the pool and the advice wait for
        retry_after=server_wait(status, headers, time.time()))


def _error_fields(body: Any) -> tuple[str | None, str | None, str | None]:
    """(message, code, type) from any of the three error body shapes."""
    if not isinstance(body, dict):
        return None, None, None
    error = body.get("error")
    if isinstance(error, dict):                         # {"error": {"message", "type", "code"}}
        return (text_or_none(error.get("message")), text_or_none(error.get("code")),
                text_or_none(error.get("type")))
    if isinstance(error, str):                          # {"error": "code", "message", "code", ...}
        return text_or_none(body.get("message")), error, text_or_none(body.get("type"))
    detail = body.get("detail")
    if isinstance(detail, str):                         # {"detail": "..."}
        return detail, text_or_none(body.get("code")), text_or_none(body.get("type"))
    if isinstance(detail, list):                        # FastAPI validation: [{loc, msg, type}]
        return "; ".join(_validation_item(item) for item in detail) or None, None, None
    if isinstance(detail, dict):                        # the structured form nested under detail
        return _error_fields(detail)
    return (text_or_none(body.get("message")), text_or_none(body.get("code")),
            text_or_none(body.get("type")))


def _validation_item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    loc = item.get("loc")
    where = ".".join(str(p) for p in loc if p != "body") if isinstance(loc, list) else ""
    message = str(item.get("msg") or item.get("message") or item)
    return f"{where}: {message}" if where else message


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
