"""What the sync and async clients share, with no I/O: a sans-I/O core in the manner of h11.

Every operation (chat, a listing with all its pages, resolving an agent name) is a generator that
yields *actions* and receives their outcomes:

    Send(request, stream)  -> the driver sends it (httpx `stream=True`); unless `reads(response)`
                              is false (a stream that succeeded) it feeds the body's chunks to
                              `take` until that says stop, and closes the response. It sends
                              back the `httpx.Response`, or throws the exception sending or
                              reading raised (httpx.TransportError, KeyboardInterrupt, ...)
    Sleep(seconds)         -> the driver sleeps, then sends back None

and finally returns the operation's result (the actions are `_actions.py`'s). The operations live
here once, with the client's state (rate limit, agent cache, observers); they are made of the
pure modules beside this one: `_requests` builds, `_retry` decides, `_headers`, `_bodies` and
`_failures` read the answers, `_calls` records, `_assembler` puts a stream together. The drivers,
`sync.py` and `aio.py`, each run every operation through one short loop (`_drive`: send, read,
sleep, as asked); the rest of each is its public API, its stream view and, in `aio.py`, `map`.
"""
from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterable, Mapping
from time import perf_counter
from typing import Any

import httpx

from ..config import mask_key, resolve_base_url, resolve_key, scrub
from ..errors import (
    AgentNotFoundError,
    AgentNotInvocableError,
    APIError,
    ConfigurationError,
    PermissionDeniedError,
)
from . import _bodies
from ._actions import Op, Send, Sleep
from ._assembler import StreamAssembler
from ._calls import DEFAULT_OBSERVERS, Call, Observer
from ._checks import seconds, whole_number
from ._failures import connection_error, error_from_response, redirect_error
from ._headers import parse_rate_limit
from ._requests import Requests, chat_body, chat_route, segment
from ._retry import RetryPolicy
from .limiter import Limiter
from .types import (
    ORCHESTRATOR,
    Agent,
    CallRecord,
    ChatResult,
    Message,
    RateLimitInfo,
    Session,
    SessionStatus,
)

__all__ = ["Core", "DEFAULT_MAX_RESPONSE_BYTES", "MAX_PAGE_SIZE"]

log = logging.getLogger("junis_jupyter.client")

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
MAX_PAGE_SIZE = 100
DEFAULT_MAX_RESPONSE_BYTES = 16 << 20      # a whole (not streamed) answer; far above any real one


class Core:
    """Configuration and state of one client (key, URL, retry policy, observers, the limiter it
    was handed, last rate-limit headers, agent cache) and the operations, as generators of
    actions. Every option is checked here, when the client is made."""

    def __init__(self, api_key: str | None, base_url: str | None, *, timeout: float | None,
                 connect_timeout: float | None, max_retries: int, allow_insecure: bool,
                 observers: Iterable[Observer] | None, retry_policy: RetryPolicy | None,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
                 limiter: Limiter | None = None) -> None:
        timeout = seconds(timeout, "timeout")
        connect_timeout = seconds(connect_timeout, "connect_timeout")
        whole_number(max_retries, "max_retries", 0)     # also when a retry_policy= overrides it
        self.max_response_bytes = whole_number(max_response_bytes, "max_response_bytes", 1)
        if limiter is not None and not isinstance(limiter, Limiter):
            raise ConfigurationError(f"limiter must be a junis_jupyter.client.limiter.Limiter "
                                     f"or None, not {type(limiter).__name__}.")
        self.limiter = limiter
        self.key = resolve_key(api_key)
        self.base_url = resolve_base_url(base_url, allow_insecure=allow_insecure)
        self.policy = retry_policy or RetryPolicy(max_retries=max_retries)   # a policy given wins
        self.observers: list[Observer] = list(DEFAULT_OBSERVERS) + list(observers or ())
        self.rate_limit: RateLimitInfo | None = None
        self.requests = Requests(self.key, self.base_url, timeout, connect_timeout)
        self._agents: list[Agent] | None = None

    def twin(self) -> Core:
        """Same key, URL, timeouts, retry policy, observers and limiter, its own state: for a
        client of the other kind (sync <-> async)."""
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
                    response: httpx.Response = yield send
                except httpx.TransportError as exc:
                    delay = policy.delay_after_error(attempt, exc)
                    if delay is None:
                        raise connection_error(exc, self.base_url) from exc
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
                self.rate_limit = call.rate_limit = parse_rate_limit(headers)
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
                    raise redirect_error(response, self.key)
                delay = policy.delay_after_status(attempt, status, headers)
                if delay is None:
                    raise error_from_response(response, self.key)
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
        call = Call(self.notify, endpoint, None, session_id, False)
        response = yield from self.exchange(call, self.requests.build("GET", path, params=params))
        body = self._json(call, response)
        call.finish()
        return body

    def _json(self, call: Call, response: httpx.Response) -> Any:
        try:
            return _bodies.parse_json(response.text)
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
                  model: str | None = None, extra_body: Mapping[str, Any] | None = None,
                  ) -> Op[tuple[Call, httpx.Request]]:
        """Resolve the agent, build the request and open its call record."""
        target = None if agent is None else (yield from self.resolve_agent(agent))
        body = chat_body(stream, prompt, messages, system, session_id, temperature, max_tokens,
                         model, extra_body)
        path, endpoint = chat_route(target)
        request = self.requests.build("POST", path, json=body, stream=stream)
        agent_name = target.name if target else ORCHESTRATOR
        return Call(self.notify, endpoint, agent_name, session_id, stream), request

    def completion(self, call: Call, request: httpx.Request, stream: bool = False
                   ) -> Op[httpx.Response]:
        """`exchange`, with the agents that can be asked named on a refusal of one that cannot
        (the service says only that it cannot)."""
        try:
            return (yield from self.exchange(call, request, stream))
        except AgentNotInvocableError as exc:
            exc.alternatives = self.invocable_names()
            raise

    def chat(self, prompt: str | None = None, **kwargs: Any) -> Op[ChatResult]:
        """Arguments as `chat_call` without `stream`."""
        call, request = yield from self.chat_call(False, prompt, **kwargs)
        response = yield from self.completion(call, request)
        body = self._json(call, response)
        try:
            result = _bodies.parse_chat(body)
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

    def open_stream(self, prompt: str | None = None, **kwargs: Any
                    ) -> Op[tuple[httpx.Response, StreamAssembler]]:
        """Arguments as `chat_call` without `stream`. Retried only until the answer's headers;
        the response's body is then the stream's to read."""
        call, request = yield from self.chat_call(True, prompt, **kwargs)
        response = yield from self.completion(call, request, stream=True)
        return response, StreamAssembler(call, self.key)

    # --- agents -------------------------------------------------------------------------------

    def agents(self, agent_type: str | None = None, is_active: bool | None = None
               ) -> Op[list[Agent]]:
        params: dict[str, Any] = {}
        if agent_type:
            params["agent_type"] = agent_type
        if is_active is not None:
            params["is_active"] = "true" if is_active else "false"
        body = yield from self.get_json("agents", "/agents", params or None)
        agents = [_bodies.parse_agent(item) for item in _bodies.items_of(body, "agents")]
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
        names = ", ".join(self.invocable_names()) or "none"
        raise AgentNotFoundError(f"No agent named {ref!r}. Agents that can be asked: {names}; "
                                 f"or leave the agent out for the {ORCHESTRATOR}.",
                                 code="agent_not_found")

    def invocable_names(self) -> list[str]:
        """The agents a completion may name (active LLM agents), from the last listing."""
        return [a.name for a in self._agents or () if a.invocable and a.is_active is not False]

    # --- sessions -----------------------------------------------------------------------------

    def pages(self, endpoint: str, path: str, key: str, page_size: int,
              session_id: str | None = None) -> Op[list[dict[str, Any]]]:
        """Every item of a paginated listing: pages are fetched until `has_next` is false. A
        server that ignores `page` (the same page again) ends it too, instead of looping."""
        size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        items: list[dict[str, Any]] = []
        previous: list[dict[str, Any]] = []
        page = 1
        while True:
            body = yield from self.get_json(endpoint, path, {"page": page, "page_size": size},
                                            session_id)
            batch = _bodies.items_of(body, key)
            if batch == previous:
                return items
            items.extend(batch)
            if not batch or not _bodies.has_next(body, page, size, len(batch)):
                return items
            previous = batch
            page += 1

    def sessions(self, page_size: int = MAX_PAGE_SIZE) -> Op[list[Session]]:
        items = yield from self.pages("sessions", "/sessions", "sessions", page_size)
        return [_bodies.parse_session(item) for item in items]

    def messages(self, session_id: str, page_size: int = MAX_PAGE_SIZE) -> Op[list[Message]]:
        path = f"/sessions/{segment(session_id, 'session id')}/messages"
        items = yield from self.pages("messages", path, "messages", page_size, session_id)
        return [_bodies.parse_message(item, session_id, n) for n, item in enumerate(items)]

    def session_status(self, session_id: str) -> Op[SessionStatus]:
        path = f"/sessions/{segment(session_id, 'session id')}/status"
        body = yield from self.get_json("session_status", path, session_id=session_id)
        return _bodies.parse_status(body, session_id)


def _find_agent(agents: list[Agent] | None, ref: str) -> Agent | None:
    if not agents:
        return None
    folded = ref.casefold()
    return (next((a for a in agents if a.id == ref), None)
            or next((a for a in agents if a.name == ref), None)
            or next((a for a in agents if a.name.casefold() == folded), None))
