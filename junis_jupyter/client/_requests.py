"""The requests the client sends, built before anything is sent: headers, compact UTF-8 JSON
bodies, the chat body and route, URL path segments. What cannot be sent (text that is not valid
Unicode, NaN, objects JSON has no form for) is a ConfigurationError here, before any request,
not a bare UnicodeEncodeError from deep inside httpx."""
from __future__ import annotations

from collections.abc import Mapping
from json import dumps
from typing import Any
from urllib.parse import quote

import httpx

from .._version import __version__
from ..config import scrub
from ..errors import ConfigurationError
from .types import Agent

__all__ = ["Requests", "chat_body", "chat_route", "build_messages", "segment"]


class Requests:
    """One client's way of making requests: its base URL, key and timeouts, fixed once."""

    __slots__ = ("base_url", "_key", "_timeout", "_headers")

    def __init__(self, key: str, base_url: str, timeout: float | None,
                 connect_timeout: float | None) -> None:
        self.base_url = base_url
        self._key = key
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout).as_dict()
        plain = {"X-API-Key": key, "Accept": "application/json",
                 "User-Agent": f"junis-jupyter/{__version__}"}
        events = {**plain, "Accept": "text/event-stream"}
        json_type = {"Content-Type": "application/json"}
        # (has a JSON body, streams) -> headers, built once
        self._headers = {(False, False): plain, (False, True): events,
                         (True, False): {**plain, **json_type},
                         (True, True): {**events, **json_type}}

    def build(self, method: str, path: str, *, json: Any = None,
              params: dict[str, Any] | None = None, stream: bool = False) -> httpx.Request:
        content = None if json is None else self.encode(json)
        try:
            return httpx.Request(method, self.base_url + path, content=content, params=params,
                                 headers=self._headers[json is not None, stream],
                                 extensions={"timeout": self._timeout})
        except UnicodeEncodeError as exc:        # a query parameter that is not valid Unicode
            raise ConfigurationError(_not_unicode(exc, self._key)) from None

    def encode(self, body: Any) -> bytes:
        """Compact UTF-8 JSON, encoded once."""
        try:
            text = dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"The request cannot be sent as JSON: {exc}.") from None
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ConfigurationError(_not_unicode(exc, self._key)) from None


def chat_body(stream: bool, prompt: str | None, messages: list[dict[str, Any]] | None,
              system: str | None, session_id: str | None, temperature: float | None,
              max_tokens: int | None, model: str | None,
              extra_body: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A chat completion request's body; a stream asks for the usage in its last chunk.
    `extra_body` is merged in last, as the OpenAI SDK does: fields this client does not name
    (`top_p`, `tools`, a server's own) reach the server as given."""
    body: dict[str, Any] = {"messages": build_messages(prompt, messages, system),
                            "stream": stream}
    if session_id:
        body["session_id"] = session_id
    if temperature is not None:
        body["temperature"] = temperature
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if model is not None:
        body["model"] = model
    if stream:
        body["stream_options"] = {"include_usage": True}
    if extra_body:
        if not isinstance(extra_body, Mapping):
            raise ConfigurationError("extra_body= must be a dict of request fields.")
        if "stream" in extra_body:
            raise ConfigurationError("extra_body= cannot set 'stream': call stream() for a "
                                     "streamed answer, chat() for a whole one.")
        body.update(extra_body)
    return body


def chat_route(target: Agent | None) -> tuple[str, str]:
    """(path, endpoint name): the orchestrator (or no agent) answers at /v1/chat/completions."""
    if target is None or target.agent_type == "ORCHESTRATOR":
        return "/v1/chat/completions", "chat"
    return f"/agents/{segment(target.id, 'agent id')}/completions", "agent_chat"


def build_messages(prompt: str | None, messages: list[dict[str, Any]] | None,
                   system: str | None) -> list[dict[str, Any]]:
    """OpenAI-style messages: `messages` as given (or none), `system` first unless it already
    has one, and `prompt` as the last user turn."""
    out: list[dict[str, Any]] = []
    if messages is not None:
        if not isinstance(messages, (list, tuple)) or not all(
                isinstance(m, dict) and "role" in m for m in messages):
            raise ConfigurationError("messages= must be a list of {'role': ..., 'content': ...}.")
        out = list(messages)
    if system and not (out and out[0].get("role") == "system"):
        out.insert(0, {"role": "system", "content": system})
    if prompt is not None:
        if not isinstance(prompt, str):
            raise ConfigurationError(f"The prompt must be a string, not {type(prompt).__name__}.")
        out.append({"role": "user", "content": prompt})
    if not any(m.get("role") == "user" for m in out):
        raise ConfigurationError("Nothing to ask: pass a prompt, or messages= with a user turn.")
    return out


def segment(value: str, what: str) -> str:
    """`value` as one URL path segment. Refused before any request: what is not a string, text
    that is not valid Unicode (it cannot be put in a URL), and the empty id, `.` and `..`, which
    quoting leaves as they are and the URL then resolves to another path (`/sessions/../messages`
    is `/messages`)."""
    if not isinstance(value, str):
        raise ConfigurationError(f"The {what} must be a string, not {type(value).__name__}.")
    if not value:
        raise ConfigurationError(f"The {what} is empty.")
    if value in (".", ".."):
        raise ConfigurationError(f"The {what} {value!r} cannot be sent: in a URL it would point "
                                 "the request at another path.")
    try:
        return quote(value, safe="")
    except UnicodeEncodeError:
        raise ConfigurationError(f"The {what} {value!r} is not valid Unicode.") from None


def _not_unicode(exc: UnicodeEncodeError, key: str) -> str:
    """One line naming the character that is not Unicode, where it is, and the usual cause."""
    text = exc.object
    near = text[max(0, exc.start - 20):exc.start + 20]
    return scrub(f"The request holds text that is not valid Unicode: {text[exc.start]!r} (a lone "
                 f"surrogate) in {near!r}. Text decoded with errors='surrogateescape' carries "
                 f"these; decode it with its real encoding, or with errors='replace'.", key)
