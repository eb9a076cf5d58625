"""What the sync and async clients share, with no I/O: a sans-I/O core in the manner of h11.

Every operation (chat, a listing with all its pages, resolving an agent name) is a generator that
yields *actions* and receives their outcomes:

    Send(request, stream)  -> the driver sends it (httpx `stream=True`); unless `reads(response)`
                              is false (a stream that succeeded) it feeds the body's chunks to
                              `take` until that says stop, and closes the response. It sends
                              back the `httpx.Response`, or throws the exception sending or
                              reading raised (httpx.TransportError, KeyboardInterrupt, ...)
    Sleep(seconds)         -> the driver sleeps, then sends back None

and finally returns the operation's result. Request building, retries, error mapping,
rate-limit state, pagination, agent resolution and call records all live here, once; `sync.py`
and `aio.py` are ~20-line loops that move bytes and sleep.
"""
from __future__ import annotations

import asyncio
import copy
import logging
import re
from datetime import datetime, timezone
from json import dumps
from time import perf_counter
from typing import Any, Callable, Generator, Iterable, TypeVar
from urllib.parse import quote

import httpx

from .. import __version__
from ..errors import (AgentNotFoundError, APIConnectionError, APIError, APITimeoutError,
                      ConfigurationError, PermissionDeniedError)
from ..config import mask_key, resolve_base_url, resolve_key, scrub
from . import _parse
from ._retry import RetryPolicy
from ._stream import StreamAssembler
from .types import (Agent, CallRecord, ChatResult, Message, RateLimitInfo, Session,
                    SessionStatus, Usage)

log = logging.getLogger("junis_jupyter.client")

Observer = Callable[[CallRecord], None]

# Copied into every new client. The IPython extension appends the usage ledger here on load.
DEFAULT_OBSERVERS: list[Observer] = []

T = TypeVar("T")


class Send:
    """One attempt at a request. It also gathers the body the driver reads, so that the size
    bound lives here once rather than in each driver."""

    __slots__ = ("request", "stream", "limit", "size", "_parts")

    def __init__(self, request: httpx.Request, stream: bool, limit: int) -> None:
        self.request = request
        self.stream = stream
        self.limit = limit          # most body bytes read (decoded): a server cannot fill memory
        self.size = 0
        self._parts: list[bytes] = []

    def reads(self, response: httpx.Response) -> bool:
        """Whether the driver reads the body: always, but for a stream that succeeded (the
        stream's own reader, with its per-event bound, does)."""
        return not self.stream or response.status_code >= 300

    def take(self, chunk: bytes) -> bool:
        """One piece of the body; False once it is over the limit (the driver stops reading)."""
        self.size += len(chunk)
        if self.size > self.limit:
            return False
        self._parts.append(chunk)
        return True

    @property
    def too_large(self) -> bool:
        return self.size > self.limit

    def read(self, response: httpx.Response) -> httpx.Response:
        """The response with the body taken. That body is decoded, so its Content-Encoding goes."""
        headers = [(k, v) for k, v in response.headers.raw if k.lower() != b"content-encoding"]
        return httpx.Response(response.status_code, headers=headers,
                              content=b"".join(self._parts), request=self.request,
                              extensions=response.extensions)


class Sleep:
    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


Op = Generator["Send | Sleep", Any, T]

_INTERRUPTS = (KeyboardInterrupt, GeneratorExit, asyncio.CancelledError)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
MAX_PAGE_SIZE = 100
DEFAULT_MAX_RESPONSE_BYTES = 16 << 20      # a whole (not streamed) answer; far above any real one


class Call:
    """One call the user made: gathers what its CallRecord needs and hands it to the observers
    exactly once, whatever way the call ends."""

    __slots__ = ("_core", "endpoint", "agent", "session_id", "stream", "started_at", "t0",
                 "attempts", "status", "request_id", "rate_limit", "first_token_s", "_done")

    def __init__(self, core: "Core", endpoint: str, agent: str | None, session_id: str | None,
                 stream: bool) -> None:
        self._core = core
        self.endpoint = endpoint
        self.agent = agent
        self.session_id = session_id
        self.stream = stream
        self.started_at = datetime.now(timezone.utc)
        self.t0 = perf_counter()
        self.attempts = 0
        self.status: int | None = None
        self.request_id: str | None = None
        self.rate_limit = RateLimitInfo()
        self.first_token_s: float | None = None
        self._done = False

    def finish(self, error_code: str | None = None, usage: Usage | None = None,
               extra: dict[str, Any] | None = None) -> None:
        if self._done:
            return
        self._done = True
        self._core.notify(CallRecord(
            started_at=self.started_at, endpoint=self.endpoint, agent=self.agent,
            session_id=self.session_id, stream=self.stream, status=self.status,
            error_code=error_code, usage=usage, latency_s=perf_counter() - self.t0,
            first_token_s=self.first_token_s, request_id=self.request_id,
            attempts=max(self.attempts, 1), extra=extra or {}))

    def fail(self, exc: BaseException) -> None:
        self.finish(error_code=error_code_for(exc))


def error_code_for(exc: BaseException) -> str:
    """The `error_code` of a call record for an exception that ended the call."""
    if isinstance(exc, APIError):
        return exc.code or (f"http_{exc.status}" if exc.status else "api_error")
    if isinstance(exc, APITimeoutError):
        return "timeout"
    if isinstance(exc, APIConnectionError):
        return "connection_error"
    if isinstance(exc, _INTERRUPTS):
        return "interrupted"
    return type(exc).__name__


class Core:
    """Configuration and state of one client (key, URL, retry policy, observers, last rate-limit
    headers, agent cache) and the operations, as generators of actions."""

    def __init__(self, api_key: str | None, base_url: str | None, *, timeout: float,
                 connect_timeout: float, max_retries: int, allow_insecure: bool,
                 observers: Iterable[Observer] | None, retry_policy: RetryPolicy | None,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        self.key = resolve_key(api_key)
        self.base_url = resolve_base_url(base_url, allow_insecure=allow_insecure)
        self.policy = retry_policy or RetryPolicy(max_retries=max_retries)   # a policy given wins
        self.observers: list[Observer] = list(DEFAULT_OBSERVERS) + list(observers or ())
        self.rate_limit: RateLimitInfo | None = None
        self.max_response_bytes = max_response_bytes
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout).as_dict()
        self._headers = {"X-API-Key": self.key, "Accept": "application/json",
                         "User-Agent": f"junis-jupyter/{__version__}"}
        self._stream_headers = {**self._headers, "Accept": "text/event-stream"}
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        self._json_stream_headers = {**self._stream_headers, "Content-Type": "application/json"}
        self._agents: list[Agent] | None = None

    def twin(self) -> "Core":
        """Same key, URL, timeouts, retry policy and observers, its own state: for a client of the
        other kind (sync <-> async)."""
        twin = copy.copy(self)
        twin.observers = list(self.observers)
        twin.rate_limit = None
        return twin

    def describe(self, cls_name: str) -> str:
        return f"{cls_name}(base_url={self.base_url!r}, api_key={mask_key(self.key)!r})"

    def __repr__(self) -> str:
        return self.describe("Core")

    # --- observers ----------------------------------------------------------------------------

    def notify(self, record: CallRecord) -> None:
        for observer in list(self.observers):
            try:
                observer(record)
            except Exception as exc:   # an observer must never break a call
                log.warning("Junis call observer %s failed: %s: %s",
                            getattr(observer, "__qualname__", type(observer).__name__),
                            type(exc).__name__, scrub(str(exc), self.key))

    # --- the exchange: one request, with retries ----------------------------------------------

    def request(self, method: str, path: str, *, json: Any = None,
                params: dict[str, Any] | None = None, stream: bool = False) -> httpx.Request:
        if json is None:
            content, headers = None, self._stream_headers if stream else self._headers
        else:
            content = self.encode(json)
            headers = self._json_stream_headers if stream else self._json_headers
        try:
            return httpx.Request(method, self.base_url + path, content=content, params=params,
                                 headers=headers, extensions={"timeout": self._timeout})
        except UnicodeEncodeError as exc:        # a query parameter that is not valid Unicode
            raise ConfigurationError(_not_unicode(exc, self.key)) from None

    def encode(self, body: Any) -> bytes:
        """Compact UTF-8 JSON, encoded once. What cannot be sent (text that is not valid Unicode,
        NaN, objects JSON has no form for) is a ConfigurationError before any request, not a
        bare UnicodeEncodeError from deep inside httpx."""
        try:
            text = dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"The request cannot be sent as JSON: {exc}.") from None
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ConfigurationError(_not_unicode(exc, self.key)) from None

    def exchange(self, call: Call, request: httpx.Request, stream: bool = False
                 ) -> Op[httpx.Response]:
        """Send until a success, a final error or no retries left. Any way it ends in failure
        is recorded on `call` before the exception leaves."""
        policy = self.policy
        attempt = 0
        try:
            while True:
                attempt += 1
                call.attempts = attempt
                call.status = call.request_id = None
                send = Send(request, stream, self.max_response_bytes)
                try:
                    response = yield send
                except httpx.TransportError as exc:
                    delay = policy.delay_after_error(attempt, exc)
                    if delay is None:
                        raise _parse.connection_error(exc, self.base_url) from exc
                    self._log_retry(call, type(exc).__name__, attempt, delay)
                    yield Sleep(delay)
                    continue
                except httpx.DecodingError as exc:      # e.g. a gzip body that is not gzip
                    raise APIError(scrub(f"The server's answer to {call.endpoint} could not be "
                                         f"decoded: {exc}", self.key),
                                   code="bad_response") from exc
                status = response.status_code
                headers = response.headers
                call.status = status
                call.request_id = headers.get("x-request-id")
                self.rate_limit = call.rate_limit = _parse.parse_rate_limit(headers)
                if send.reads(response):
                    if send.too_large:
                        raise APIError(
                            f"The server's answer to {call.endpoint} is too large (over "
                            f"{send.limit:,} bytes); stopped reading it.", status=status,
                            code="response_too_large", request_id=call.request_id)
                    response = send.read(response)
                if status < 300:
                    return response
                if status < 400:        # not followed: the key would go along to the new address
                    raise _parse.redirect_error(response, self.key)
                delay = policy.delay_after_status(attempt, status, headers)
                if delay is None:
                    raise _parse.error_from_response(response, self.key)
                self._log_retry(call, f"HTTP {status}", attempt, delay)
                yield Sleep(delay)
        except BaseException as exc:
            call.fail(exc)
            raise

    def _log_retry(self, call: Call, what: str, attempt: int, delay: float) -> None:
        log.info("Junis %s: %s; retry %d of %d in %.2fs", call.endpoint, what, attempt,
                 self.policy.max_retries, delay)

    def get_json(self, endpoint: str, path: str, params: dict[str, Any] | None = None,
                 session_id: str | None = None) -> Op[Any]:
        call = Call(self, endpoint, None, session_id, False)
        response = yield from self.exchange(call, self.request("GET", path, params=params))
        body = self._json(call, response)
        call.finish()
        return body

    def _json(self, call: Call, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            err = APIError(f"The server's answer to {call.endpoint} is not JSON.",
                           status=response.status_code, code="bad_response",
                           request_id=call.request_id)
            call.fail(err)
            raise err from None

    # --- chat ---------------------------------------------------------------------------------

    def chat_call(self, stream: bool, prompt: str | None = None, *,
                  messages: list[dict[str, Any]] | None = None, system: str | None = None,
                  session_id: str | None = None, agent: str | Agent | None = None,
                  temperature: float | None = None, max_tokens: int | None = None,
                  model: str | None = None) -> Op[tuple[Call, httpx.Request]]:
        """Resolve the agent, build the request and open its call record."""
        target = None if agent is None else (yield from self.resolve_agent(agent))
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
        if target is None or target.agent_type == "ORCHESTRATOR":
            path, endpoint = "/v1/chat/completions", "chat"
        else:
            path, endpoint = f"/agents/{_segment(target.id, 'agent id')}/completions", "agent_chat"
        request = self.request("POST", path, json=body, stream=stream)
        return Call(self, endpoint, target.name if target else None, session_id, stream), request

    def chat(self, prompt: str | None = None, **kwargs: Any) -> Op[ChatResult]:
        """Arguments as `chat_call` without `stream`."""
        call, request = yield from self.chat_call(False, prompt, **kwargs)
        response = yield from self.exchange(call, request)
        body = self._json(call, response)
        try:
            result = _parse.parse_chat(body)
        except ValueError as exc:
            err = APIError(scrub(f"Unexpected completion from the server: {exc}", self.key),
                           status=call.status, code="bad_response", request_id=call.request_id)
            call.fail(err)
            raise err from None
        result.agent = call.agent
        result.rate_limit = call.rate_limit
        result.request_id = call.request_id
        result.session_id = result.session_id or call.session_id
        result.latency_s = perf_counter() - call.t0
        call.session_id = result.session_id
        call.finish(usage=result.usage)
        return result

    def open_stream(self, prompt: str | None = None, **kwargs: Any) -> Op[StreamAssembler]:
        """Arguments as `chat_call` without `stream`. Retried only until the answer's headers."""
        call, request = yield from self.chat_call(True, prompt, **kwargs)
        response = yield from self.exchange(call, request, stream=True)
        return StreamAssembler(response, call, self.key)

    # --- agents -------------------------------------------------------------------------------

    def agents(self, agent_type: str | None = None, is_active: bool | None = None
               ) -> Op[list[Agent]]:
        params: dict[str, Any] = {}
        if agent_type:
            params["agent_type"] = agent_type
        if is_active is not None:
            params["is_active"] = "true" if is_active else "false"
        body = yield from self.get_json("agents", "/agents", params or None)
        agents = [_parse.parse_agent(item) for item in _parse.items_of(body, "agents")]
        if not params:
            self._agents = agents
        return agents

    def resolve_agent(self, ref: str | Agent) -> Op[Agent]:
        """An id or a name (exact, then case-insensitive). Names are looked up once per client;
        a miss refreshes the list once before giving up."""
        if isinstance(ref, Agent):
            return ref
        ref = str(ref).strip()
        found = _find_agent(self._agents, ref)
        if found:
            return found
        try:
            agents = yield from self.agents()
        except PermissionDeniedError:
            if _UUID.match(ref):      # cannot list agents, but an id needs no lookup
                return Agent(id=ref, name=ref)
            raise
        found = _find_agent(agents, ref)
        if found:
            return found
        names = ", ".join(a.name for a in agents) or "none"
        raise AgentNotFoundError(f"No agent named {ref!r}. Agents available: {names}.",
                                 code="agent_not_found")

    # --- sessions -----------------------------------------------------------------------------

    def pages(self, endpoint: str, path: str, key: str, page_size: int,
              session_id: str | None = None) -> Op[list[dict]]:
        """Every item of a paginated listing: pages are fetched until `has_next` is false. A
        server that ignores `page` (the same page again) ends it too, instead of looping."""
        size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        items: list[dict] = []
        previous: list[dict] = []
        page = 1
        while True:
            body = yield from self.get_json(endpoint, path, {"page": page, "page_size": size},
                                            session_id)
            batch = _parse.items_of(body, key)
            if batch == previous:
                return items
            items.extend(batch)
            if not batch or not _parse.has_next(body, page, size, len(batch)):
                return items
            previous = batch
            page += 1

    def sessions(self, page_size: int = MAX_PAGE_SIZE) -> Op[list[Session]]:
        items = yield from self.pages("sessions", "/sessions", "sessions", page_size)
        return [_parse.parse_session(item) for item in items]

    def messages(self, session_id: str, page_size: int = MAX_PAGE_SIZE) -> Op[list[Message]]:
        path = f"/sessions/{_segment(session_id, 'session id')}/messages"
        items = yield from self.pages("messages", path, "messages", page_size, session_id)
        return [_parse.parse_message(item, session_id, n) for n, item in enumerate(items)]

    def session_status(self, session_id: str) -> Op[SessionStatus]:
        path = f"/sessions/{_segment(session_id, 'session id')}/status"
        body = yield from self.get_json("session_status", path, session_id=session_id)
        return _parse.parse_status(body, session_id)


def _find_agent(agents: list[Agent] | None, ref: str) -> Agent | None:
    if not agents:
        return None
    folded = ref.casefold()
    return (next((a for a in agents if a.id == ref), None)
            or next((a for a in agents if a.name == ref), None)
            or next((a for a in agents if a.name.casefold() == folded), None))


def _segment(value: str, what: str) -> str:
    """`value` as one URL path segment. Text that is not valid Unicode cannot be put in a URL:
    a ConfigurationError, as for a body, not a bare UnicodeEncodeError."""
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
