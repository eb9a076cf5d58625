"""One exception class per failure kind, so callers catch what they can act on.

Modelled on the OpenAI SDK's hierarchy. Messages never contain the API key: the client
builds them from the server's message, which it scrubs of the key before raising.
"""
from __future__ import annotations

from typing import Any

__all__ = [
    "JunisError", "ConfigurationError", "APIError", "AuthenticationError",
    "InsufficientCreditsError", "PermissionDeniedError", "NotFoundError", "BadRequestError",
    "RateLimitError", "ServerError", "APIConnectionError", "APITimeoutError", "StreamError",
    "AgentNotFoundError", "error_for_status",
]


class JunisError(Exception):
    """Base of everything this package raises on purpose."""


class ConfigurationError(JunisError):
    """Missing key, refused insecure URL, unknown agent name: fixable before any request."""


class APIError(JunisError):
    """The server answered with an error status."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 type: str | None = None, request_id: str | None = None,
                 body: Any = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.type = type
        self.request_id = request_id
        self.body = body
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [self.message]
        tail = ", ".join(p for p in (
            f"status {self.status}" if self.status else "",
            f"code {self.code}" if self.code else "",
            f"request {self.request_id}" if self.request_id else "") if p)
        return f"{parts[0]} ({tail})" if tail else parts[0]


class AuthenticationError(APIError):
    """401: the key is missing, unknown or revoked."""


class InsufficientCreditsError(APIError):
    """402: the organisation has no credits left for this call."""


class PermissionDeniedError(APIError):
    """403: the key lacks a scope, or the organisation has no subscription."""


class NotFoundError(APIError):
    """404: unknown agent, session or path."""


class AgentNotFoundError(NotFoundError, ConfigurationError):
    """An `agent=` name or id the organisation does not have; the message lists those it has.

    Raised by the client before any completion request, so it is also a ConfigurationError."""


class BadRequestError(APIError):
    """400/422: the request itself is wrong; retrying will not help."""


class RateLimitError(APIError):
    """429: too many requests or too many at once; `retry_after` says how long to wait."""


class ServerError(APIError):
    """5xx: the service failed; retried automatically before this is raised."""


class APIConnectionError(JunisError):
    """No HTTP answer at all: refused, reset, DNS, TLS."""


class APITimeoutError(APIConnectionError):
    """The server did not answer (or send the first byte) in time."""


class StreamError(JunisError):
    """A stream broke after it began; the text that arrived is kept in `partial_text`."""

    def __init__(self, message: str, *, partial_text: str = "", session_id: str | None = None,
                 code: str | None = None, status: int | None = None,
                 request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.partial_text = partial_text
        self.session_id = session_id
        self.code = code
        self.status = status
        self.request_id = request_id


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError, 401: AuthenticationError, 402: InsufficientCreditsError,
    403: PermissionDeniedError, 404: NotFoundError, 413: BadRequestError, 422: BadRequestError,
    429: RateLimitError,
}


def error_for_status(status: int) -> type[APIError]:
    """The exception class for an HTTP error status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return APIError
