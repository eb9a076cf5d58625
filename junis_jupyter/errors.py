"""One exception class per failure kind, so callers catch what they can act on.

The hierarchy (modelled on the OpenAI SDK's; drawn as httpx's `_exceptions.py` draws its own):

* JunisError                        everything this package raises on purpose
  + ConfigurationError              fixable before any request: no key, http://, bad arguments
    - MissingKeyError               no key anywhere (each surface says how to set one)
    - AgentNotFoundError            (also under NotFoundError)
  + APIError                        an HTTP answer came, and the client cannot use it
    - AuthenticationError           401
    - InsufficientCreditsError      402
    - PermissionDeniedError         403
    - NotFoundError                 404
      · AgentNotFoundError          (also under ConfigurationError)
    - BadRequestError               400, 413, 422
      · AgentNotInvocableError      (also under ConfigurationError)
    - RateLimitError                429
    - ServerError                   5xx
  + APIConnectionError              no HTTP answer at all
    - APITimeoutError
  + StreamError                     a stream broke after it began

`APIConnectionError` is not an `APIError`: no response arrived, so there is no status, code or
request id to carry, and `except APIError` means "the server said no". A timeout is one way of
getting no answer, so `APITimeoutError` sits under it.

`AgentNotFoundError` is both a `NotFoundError` and a `ConfigurationError`: an `agent=` name that
does not resolve (against the `/agents` listing) is raised before any completion request is sent,
and is fixed by changing an argument, like any other configuration error.

Both maps from an error answer to its class, by status and by the more specific code in the
body, live here (`error_for_status`). Messages never contain the API key: the client builds them
from the server's message, which it scrubs of the key before raising.
"""
from __future__ import annotations

from typing import Any

__all__ = [
    "JunisError", "ConfigurationError", "APIError", "AuthenticationError",
    "InsufficientCreditsError", "PermissionDeniedError", "NotFoundError", "BadRequestError",
    "RateLimitError", "ServerError", "APIConnectionError", "APITimeoutError", "StreamError",
    "AgentNotFoundError", "AgentNotInvocableError", "MissingKeyError", "error_for_status",
]


class JunisError(Exception):
    """Base of everything this package raises on purpose."""


class ConfigurationError(JunisError):
    """Missing key, refused insecure URL, bad arguments, unknown agent name: fixable before any
    request."""


class MissingKeyError(ConfigurationError):
    """No API key was found anywhere `config.resolve_key` looks: its own class, because how to
    set one differs by surface (a kernel has `%junis login`, the Jupyter server does not)."""


class APIError(JunisError):
    """An HTTP answer the client cannot use: an error status, or a 200 it cannot read."""

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


class AgentNotInvocableError(BadRequestError, ConfigurationError):
    """An agent that cannot be asked directly (a sequential, parallel or loop agent, which only
    the orchestrator runs). `alternatives` names those that can be, where the client knows them
    (it fills them in from the agent listing when the service refuses the agent)."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.alternatives: list[str] = []


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

# A code in the body decides the class when it is more specific than the status (e.g. a 403
# that is really about credits).
_BY_CODE: dict[str, type[APIError]] = {
    "invalid_api_key": AuthenticationError, "missing_api_key": AuthenticationError,
    "insufficient_credits": InsufficientCreditsError,
    "scope_not_allowed": PermissionDeniedError, "insufficient_scope": PermissionDeniedError,
    "subscription_required": PermissionDeniedError,
    "rate_limit_exceeded": RateLimitError, "agent_not_invocable": AgentNotInvocableError,
}


def error_for_status(status: int, code: str | None = None) -> type[APIError]:
    """The exception class for an error answer: by its code when the code has one, else by its
    status (any other 5xx is a ServerError, anything else a plain APIError)."""
    cls = _BY_CODE.get(code.lower()) if code else None
    if cls is not None:
        return cls
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return APIError
