"""The client's pure parts, without a server: error bodies the emulator never sends (the live API
may), rate-limit header families, retry decisions and request building.

These build `httpx.Response` objects by hand because the emulator only speaks the house contract;
the other documented variants have to be produced here.
"""
from __future__ import annotations

import gzip
import json
import time
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from junis_jupyter.client._actions import Send, Sleep
from junis_jupyter.client._bodies import (items_of, parse_agent, parse_chat, parse_json,
                                          parse_message, parse_time, parse_usage)
from junis_jupyter.client._core import Core
from junis_jupyter.client._failures import error_from_response
from junis_jupyter.client._headers import parse_rate_limit, parse_retry_after
from junis_jupyter.client._requests import build_messages
from junis_jupyter.client._retry import RetryPolicy, server_wait
from junis_jupyter.client.types import Usage
from junis_jupyter.errors import (APIError, AuthenticationError, BadRequestError,
                                  ConfigurationError, InsufficientCreditsError, NotFoundError,
                                  PermissionDeniedError, RateLimitError, ServerError,
                                  error_for_status)

KEY = "jns_live_" + "K" * 32
NOW = 1_800_000_000.0


def response(status: int, body: object = None, headers: dict[str, str] | None = None,
             text: str | None = None) -> httpx.Response:
    content = text if text is not None else (json.dumps(body) if body is not None else "")
    return httpx.Response(status, headers=headers or {}, content=content.encode(),
                          request=httpx.Request("GET", "http://127.0.0.1/x"))


# --- error bodies --------------------------------------------------------------------------------

def test_openai_shaped_error_body() -> None:
    err = error_from_response(response(
        404, {"error": {"message": "No such session", "type": "not_found_error",
                        "code": "session_not_found"}}, {"X-Request-Id": "req_1"}), KEY)
    assert type(err) is NotFoundError
    assert (err.status, err.code, err.type, err.message, err.request_id) == (
        404, "session_not_found", "not_found_error", "No such session", "req_1")


def test_detail_string_error_body() -> None:
    err = error_from_response(response(401, {"detail": "API key required."}), KEY)
    assert type(err) is AuthenticationError and err.message == "API key required."


def test_detail_list_from_validation() -> None:
    err = error_from_response(response(422, {"detail": [
        {"loc": ["body", "messages"], "msg": "field required", "type": "missing"},
        {"loc": ["body", "temperature"], "msg": "too big", "type": "value_error"}]}), KEY)
    assert type(err) is BadRequestError
    assert err.message == "messages: field required; temperature: too big"


def test_structured_error_body_with_code_string() -> None:
    err = error_from_response(response(
        429, {"error": "rate_limit_exceeded", "message": "Slow down", "code": "RATE_LIMIT_MINUTE",
              "details": {"limit": 100}}, {"Retry-After": "7"}), KEY)
    assert type(err) is RateLimitError
    assert (err.code, err.message, err.retry_after) == ("rate_limit_exceeded", "Slow down", 7.0)


def test_a_429_without_retry_after_waits_for_the_window_reset() -> None:
    # the live service may send only X-RateLimit-Reset; the error's wait (what the pool, the
    # batch gate and the advice use) comes from it, not a default second
    reset = int(time.time()) + 40
    err = error_from_response(response(429, {"error": {"message": "Too many", "code":
                                                       "rate_limit_exceeded"}},
                                       {"X-RateLimit-Reset": str(reset)}), KEY)
    assert type(err) is RateLimitError and 38 <= err.retry_after <= 40
    other = error_from_response(response(503, {"detail": "busy"},
                                         {"X-RateLimit-Reset": str(reset)}), KEY)
    assert other.retry_after is None               # only a 429 waits for the window


def test_structured_error_nested_under_detail() -> None:
    err = error_from_response(response(
        403, {"detail": {"error": "insufficient_scope", "message": "needs agents:list"}}), KEY)
    assert type(err) is PermissionDeniedError and err.message == "needs agents:list"


def test_code_overrides_status_when_more_specific() -> None:
    err = error_from_response(response(
        403, {"error": {"message": "No credits", "code": "insufficient_credits"}}), KEY)
    assert type(err) is InsufficientCreditsError


def test_non_json_error_body() -> None:
    err = error_from_response(response(
        502, text="<html><body><h1>502 Bad Gateway</h1></body></html>"), KEY)
    assert type(err) is ServerError
    assert err.message.startswith("HTTP 502 Bad Gateway: <html>")


def test_empty_error_body_and_unknown_status() -> None:
    err = error_from_response(response(418), KEY)
    assert type(err) is APIError and err.message == "HTTP 418 I'm a teapot"


def test_one_map_picks_the_class_by_code_then_status() -> None:
    assert error_for_status(403, "insufficient_credits") is InsufficientCreditsError
    assert error_for_status(429, "RATE_LIMIT_EXCEEDED") is RateLimitError      # any case
    assert error_for_status(404, "unknown_code") is NotFoundError
    assert error_for_status(413) is BadRequestError and error_for_status(507) is ServerError
    assert error_for_status(418) is APIError and error_for_status(402) is InsufficientCreditsError


def test_key_echoed_by_server_is_scrubbed() -> None:
    err = error_from_response(response(
        401, {"detail": f"Key {KEY} is revoked"}), KEY)
    assert KEY not in str(err) and KEY not in repr(err) and KEY not in json.dumps(err.body)
    assert "…KKKK" in err.message


# --- rate-limit headers --------------------------------------------------------------------------

def test_rate_limit_plain_family() -> None:
    info = parse_rate_limit(httpx.Headers({
        "X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59",
        "X-RateLimit-Reset": str(int(NOW) + 30)}), NOW)
    assert (info.limit, info.remaining, info.reset, info.retry_after) == (60, 59, NOW + 30, None)
    assert info.hour_limit is None


def test_rate_limit_minute_and_hour_family() -> None:
    info = parse_rate_limit(httpx.Headers({
        "x-ratelimit-limit-minute": "100", "x-ratelimit-remaining-minute": "0",
        "x-ratelimit-reset-minute": str(int(NOW) + 12), "x-ratelimit-limit-hour": "1000",
        "x-ratelimit-remaining-hour": "870", "x-ratelimit-reset-hour": str(int(NOW) + 1800),
        "retry-after": "12"}), NOW)
    assert (info.limit, info.remaining, info.reset, info.retry_after) == (100, 0, NOW + 12, 12.0)
    assert (info.hour_limit, info.hour_remaining, info.hour_reset) == (1000, 870, NOW + 1800)


def test_rate_limit_relative_reset_and_garbage() -> None:
    info = parse_rate_limit(httpx.Headers({
        "X-RateLimit-Limit": "many", "X-RateLimit-Reset": "20"}), NOW)
    assert info.limit is None and info.reset == NOW + 20


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e400", "Infinity"])
def test_rate_limit_numbers_that_are_not_finite_are_ignored(value: str) -> None:
    headers = {name: value for name in (
        "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After",
        "X-RateLimit-Limit-Hour", "X-RateLimit-Remaining-Hour", "X-RateLimit-Reset-Hour")}
    info = parse_rate_limit(httpx.Headers(headers), NOW)
    assert info == parse_rate_limit(httpx.Headers({}), NOW)       # all None
    # ...and such a header breaks no call: it used to raise a bare OverflowError on every answer.
    assert status_after(core().session_status("s1"), response(
        200, {"session_id": "s1", "status": "idle"}, headers)).status == "idle"
    assert RetryPolicy().delay_after_status(1, 429, httpx.Headers(headers), NOW) is not None


def test_retry_after_as_http_date() -> None:
    when = datetime.fromtimestamp(NOW, timezone.utc) + timedelta(seconds=42)
    assert parse_retry_after(format_datetime(when, usegmt=True), NOW) == 42.0


# --- retry policy --------------------------------------------------------------------------------

def test_retryable_statuses_only() -> None:
    policy = RetryPolicy()
    for status in (429, 500, 502, 503, 504):
        assert policy.delay_after_status(1, status, httpx.Headers()) is not None
    for status in (400, 401, 402, 403, 404, 422, 501):
        assert policy.delay_after_status(1, status, httpx.Headers()) is None


def test_attempts_are_bounded_by_max_retries() -> None:
    policy = RetryPolicy(max_retries=2)
    assert policy.delay_after_status(2, 503, httpx.Headers()) is not None
    assert policy.delay_after_status(3, 503, httpx.Headers()) is None
    assert RetryPolicy(max_retries=0).delay_after_error(1, httpx.ConnectError("x")) is None


def test_backoff_grows_with_jitter_and_a_ceiling() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)):
        delays = {policy.backoff(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1      # jittered


def test_retry_after_is_honoured() -> None:
    policy = RetryPolicy()
    assert policy.delay_after_status(1, 429, httpx.Headers({"Retry-After": "3"}), NOW) == 3.0
    assert policy.delay_after_status(1, 503, httpx.Headers({"Retry-After": "2"}), NOW) == 2.0


def test_rate_limit_reset_is_honoured_on_429_only() -> None:
    headers = httpx.Headers({"X-RateLimit-Reset": str(int(NOW) + 9)})
    assert server_wait(429, headers, NOW) == 9.0
    assert server_wait(500, headers, NOW) is None
    minute = httpx.Headers({"X-RateLimit-Reset-Minute": str(int(NOW) + 4)})
    assert RetryPolicy().delay_after_status(1, 429, minute, NOW) == 4.0


def test_a_wait_longer_than_max_wait_gives_up() -> None:
    policy = RetryPolicy(max_wait=30)
    assert policy.delay_after_status(1, 429, httpx.Headers({"Retry-After": "3600"}), NOW) is None


def test_a_full_window_just_begun_is_still_waited_for() -> None:
    """A 60 s window that began 0.3 s ago, announced in whole seconds, ends 60.7 s away: the
    default max_wait of 60 must not give up on it (it did, now and then, in the fault matrix)."""
    began = 1_764_000_000.3
    reset = httpx.Headers({"X-RateLimit-Reset": str(int(began + 60) + 1)})
    now = began + 0.3
    assert RetryPolicy().delay_after_status(1, 429, reset, now) == pytest.approx(60.4)
    later = httpx.Headers({"X-RateLimit-Reset": str(int(now) + 62)})
    assert RetryPolicy().delay_after_status(1, 429, later, now) is None


def test_transport_errors_retried_but_not_a_bad_url() -> None:
    policy = RetryPolicy()
    assert policy.delay_after_error(1, httpx.ReadTimeout("slow")) is not None
    assert policy.delay_after_error(1, httpx.RemoteProtocolError("reset")) is not None
    assert policy.delay_after_error(1, httpx.UnsupportedProtocol("ftp")) is None


# --- the core's operations, driven by hand ------------------------------------------------------

def core(**kw: object) -> Core:
    options = dict(timeout=5.0, connect_timeout=1.0, max_retries=2, allow_insecure=False,
                   observers=None, retry_policy=RetryPolicy(base_delay=0.01))
    options.update(kw)
    return Core(KEY, "http://127.0.0.1:9", **options)   # type: ignore[arg-type]


def reply(op: Any, send: Any, answer: httpx.Response) -> Any:
    """What a driver does with a Send: feed the body to the action, then hand back the response."""
    assert isinstance(send, Send)
    if send.reads(answer):
        for chunk in answer.iter_bytes(chunk_size=7):
            if not send.take(chunk):
                break
    return op.send(answer)


def test_exchange_asks_to_sleep_what_the_server_said_then_gives_up() -> None:
    records: list = []
    c = core(observers=[records.append])
    op = c.session_status("s1")
    action = next(op)
    assert isinstance(action, Send) and action.request.headers["X-API-Key"] == KEY
    assert str(action.request.url) == "http://127.0.0.1:9/sessions/s1/status"
    busy = response(503, {"error": {"message": "busy", "code": "service_unavailable"}},
                    {"Retry-After": "4"})
    assert isinstance(sleep := reply(op, action, busy), Sleep) and sleep.seconds == 4.0
    assert reply(op, op.send(None), busy).seconds == 4.0
    action = op.send(None)
    with pytest.raises(ServerError) as info:
        reply(op, action, busy)
    assert info.value.code == "service_unavailable"
    [record] = records
    assert (record.endpoint, record.status, record.error_code, record.attempts) == (
        "session_status", 503, "service_unavailable", 3)


def test_chat_request_body() -> None:
    op = core().chat_call(True, "Hi", system="Be brief", session_id="s-1", temperature=0.2,
                          max_tokens=50, model="m")
    with pytest.raises(StopIteration) as done:
        next(op)
    call, request = done.value.value
    body = json.loads(request.content)
    assert str(request.url) == "http://127.0.0.1:9/v1/chat/completions"
    assert body == {"messages": [{"role": "system", "content": "Be brief"},
                                 {"role": "user", "content": "Hi"}],
                    "stream": True, "session_id": "s-1", "temperature": 0.2, "max_tokens": 50,
                    "model": "m", "stream_options": {"include_usage": True}}
    assert request.headers["accept"] == "text/event-stream"
    assert call.endpoint == "chat" and call.stream


def request_of(op: object) -> httpx.Request:
    with pytest.raises(StopIteration) as done:
        next(op)                                                    # type: ignore[call-overload]
    return done.value.value[1]


def test_request_body_is_compact_utf8_json() -> None:
    request = request_of(core().chat_call(False, "Größe — 大きさ \"q\""))
    assert request.content == json.dumps(json.loads(request.content), ensure_ascii=False,
                                         separators=(",", ":")).encode("utf-8")
    assert "大きさ".encode("utf-8") in request.content            # sent as UTF-8, not \\u escapes
    assert request.headers["content-type"] == "application/json"
    assert int(request.headers["content-length"]) == len(request.content)


def test_text_that_is_not_unicode_is_refused_before_any_request() -> None:
    # What reading a file with the wrong encoding and errors="surrogateescape" gives.
    undecodable = b"caf\xe9 au lait".decode("utf-8", "surrogateescape")
    with pytest.raises(ConfigurationError) as info:
        request_of(core().chat_call(False, undecodable))
    message = str(info.value)
    assert "not valid Unicode" in message and "\\udce9" in message and "au lait" in message
    assert "\n" not in message and "UnicodeEncodeError" not in message
    with pytest.raises(ConfigurationError, match="not valid Unicode"):
        request_of(core().chat_call(True, "ok", system=undecodable))


def test_an_id_that_is_not_unicode_is_refused_before_any_request() -> None:
    bad = b"s\xe9".decode("utf-8", "surrogateescape")
    for op in (core().session_status(bad), core().messages(bad)):
        with pytest.raises(ConfigurationError, match="session id .* is not valid Unicode"):
            next(op)
    with pytest.raises(ConfigurationError, match="not valid Unicode"):
        next(core().agents(agent_type=bad))                 # a query parameter


def test_values_json_cannot_carry_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="cannot be sent as JSON"):
        request_of(core().chat_call(False, "hi", temperature=float("nan")))
    with pytest.raises(ConfigurationError, match="cannot be sent as JSON"):
        request_of(core().chat_call(False, messages=[{"role": "user", "content": object()}]))


def test_build_messages() -> None:
    history = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]
    assert build_messages(None, history, "ignored: one already") == history
    assert build_messages("Q2", history, None)[-1] == {"role": "user", "content": "Q2"}
    with pytest.raises(ConfigurationError, match="Nothing to ask"):
        build_messages(None, None, "S")
    with pytest.raises(ConfigurationError, match="list of"):
        build_messages(None, ["just text"], None)   # type: ignore[list-item]


def test_insecure_base_url_refused_unless_allowed() -> None:
    with pytest.raises(ConfigurationError, match="Refusing plain http://"):
        Core(KEY, "http://api.example.com", timeout=1, connect_timeout=1, max_retries=0,
             allow_insecure=False, observers=None, retry_policy=None)
    ok = Core(KEY, "http://api.example.com", timeout=1, connect_timeout=1, max_retries=0,
              allow_insecure=True, observers=None, retry_policy=None)
    assert ok.base_url == "http://api.example.com"


def test_completion_variants_the_contract_allows() -> None:
    bare = parse_chat({"choices": [{"message": {"content": "hi"}}]})   # no id, usage...
    assert (bare.text, bare.session_id, bare.usage.total_tokens, bare.finish_reason) == (
        "hi", None, 0, None)
    parts = parse_chat({"choices": [{"message": {"content": [
        {"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": 5},
        "stray", {"type": "text", "text": "b"}]}}],
        "session_id": "s1", "created": 1, "unknown": {"x": 1}})
    assert (parts.text, parts.session_id) == ("ab", "s1")
    tools = parse_chat({"choices": [{"message": {"content": None, "tool_calls": [
        {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        "finish_reason": "tool_calls"}]})
    assert (tools.text, tools.finish_reason) == ("", "tool_calls")


def test_usage_counts_that_are_not_finite_read_as_zero() -> None:
    """json.loads reads NaN and Infinity; int() of them raised out of a chat, a listing or a
    stream instead of the lenient reading every other odd field gets."""
    assert parse_usage(json.loads(
        '{"prompt_tokens": NaN, "completion_tokens": 3, "total_tokens": Infinity}')) == Usage(0, 3, 3)
    body = json.loads('{"choices": [{"message": {"content": "a"}}], "usage": {"total_tokens": NaN}}')
    assert parse_chat(body).usage == Usage()
    item = json.loads('{"role": "assistant", "content": "a", "usage": {"prompt_tokens": -Infinity}}')
    assert parse_message(item, "s1", 0).usage == Usage()


@pytest.mark.parametrize("body, says", [
    ({}, "no choices"), ({"choices": []}, "no choices"), ({"choices": "hi"}, "no choices"),
    ({"error": {"message": "x"}}, "'error'"), ({"choices": ["hi"]}, "first choice"),
    ({"choices": [{"message": "hi"}]}, "no message"), ({"choices": [{"text": "hi"}]}, "no message"),
    ([{"choices": []}], "not a JSON object")])
def test_a_completion_without_an_answer_is_an_error(body: object, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_chat(body)


def test_chat_reports_a_200_without_choices_as_bad_response() -> None:
    records: list = []
    op = core(observers=[records.append]).chat("hi")
    with pytest.raises(APIError) as info:
        reply(op, next(op), response(200, {"id": "c1", "session_id": "s1"},
                                     {"X-Request-Id": "req_9"}))
    err = info.value
    assert (err.status, err.code, err.request_id) == (200, "bad_response", "req_9")
    assert "Unexpected completion" in err.message and "no choices" in err.message
    [record] = records
    assert (record.status, record.error_code) == (200, "bad_response")


@pytest.mark.parametrize("stream", [False, True])
def test_a_redirect_is_not_followed_but_named(stream: bool) -> None:
    records: list = []
    c = core(observers=[records.append])
    with pytest.raises(StopIteration) as done:
        next(c.chat_call(stream, "hi"))
    call, request = done.value.value
    op = c.exchange(call, request, stream)
    send = next(op)
    moved = response(301, text="<html>Moved</html>",
                     headers={"Location": f"https://api.junis.ai/v1/chat/completions?k={KEY}"})
    assert send.reads(moved)                 # read and closed by the driver, streamed or not
    with pytest.raises(APIError) as info:
        reply(op, send, moved)
    err = info.value
    assert (err.status, err.code) == (301, "redirect")
    assert "https://api.junis.ai/v1/chat/completions" in err.message and "base_url" in err.message
    assert KEY not in str(err)
    assert [(r.status, r.error_code) for r in records] == [(301, "redirect")]


def test_a_body_over_the_limit_stops_the_read_and_is_a_clear_error() -> None:
    records: list = []
    op = core(observers=[records.append], max_response_bytes=50).session_status("s1")
    send = next(op)
    big = response(200, {"session_id": "s1", "status": "idle", "pad": "x" * 500},
                   {"X-Request-Id": "req_7"})
    read = 0
    for chunk in big.iter_bytes(chunk_size=7):
        read += len(chunk)
        if not send.take(chunk):
            break
    assert read < 70                                    # the driver was told to stop near 50
    with pytest.raises(APIError) as info:
        op.send(big)
    err = info.value
    assert (err.status, err.code, err.request_id) == (200, "response_too_large", "req_7")
    assert "too large" in err.message and "50 bytes" in err.message
    assert [(r.status, r.error_code) for r in records] == [(200, "response_too_large")]


def status_after(op: Any, answer: httpx.Response) -> Any:
    with pytest.raises(StopIteration) as done:
        reply(op, next(op), answer)
    return done.value.value


def test_a_body_at_the_limit_is_read_and_a_compressed_one_arrives_decoded() -> None:
    body = json.dumps({"session_id": "s1", "status": "processing"}).encode()
    exact = status_after(core(max_response_bytes=len(body)).session_status("s1"),
                         httpx.Response(200, content=body))
    assert exact.status == "processing"
    # The limit counts decoded bytes, and the body handed on is the decoded one (so its
    # Content-Encoding must not be applied a second time).
    zipped = httpx.Response(200, headers={"Content-Encoding": "gzip"},
                            content=gzip.compress(body))
    assert status_after(core().session_status("s1"), zipped).status == "processing"
    with pytest.raises(APIError, match="too large"):
        status_after(core(max_response_bytes=len(body) - 1).session_status("s1"),
                     httpx.Response(200, headers={"Content-Encoding": "gzip"},
                                    content=gzip.compress(body)))


def listing(serve: Any, page_size: int = 100) -> tuple[list[str], list[int]]:
    """Drive `sessions()` against `serve(page, page_size) -> body`: the ids and pages asked for."""
    op = core().sessions(page_size)
    asked: list[int] = []
    try:
        action = next(op)
        while len(asked) < 20:                          # a loop that never ends fails here
            params = action.request.url.params
            asked.append(int(params["page"]))
            action = reply(op, action, response(200, serve(asked[-1], int(params["page_size"]))))
        raise AssertionError(f"still paging after {asked}")
    except StopIteration as done:
        return [s.session_id for s in done.value], asked


def sessions_body(first: int, count: int) -> list[dict]:
    return [{"session_id": f"s{n}"} for n in range(first, first + count)]


def test_a_bare_list_that_ignores_paging_is_read_once() -> None:
    ids, asked = listing(lambda page, size: sessions_body(0, 150))
    assert (len(ids), asked) == (150, [1])


def test_a_server_that_ignores_page_ends_the_listing_without_repeats() -> None:
    ids, asked = listing(lambda page, size: {"sessions": sessions_body(0, size), "has_next": True})
    assert (ids, asked) == ([f"s{n}" for n in range(100)], [1, 2])


def test_a_bare_list_that_pages_is_read_to_its_short_or_empty_page() -> None:
    ids, asked = listing(lambda page, size: sessions_body(0, 100) if page == 1
                         else sessions_body(100, 30))
    assert (len(set(ids)), asked) == (130, [1, 2])
    ids, asked = listing(lambda page, size: sessions_body((page - 1) * size, size)
                         if page <= 2 else [])
    assert (len(set(ids)), asked) == (200, [1, 2, 3])


def test_lenient_listing_shapes() -> None:
    assert items_of([{"id": 1}], "agents") == [{"id": 1}]
    assert items_of({"data": [{"id": 1}]}, "agents") == [{"id": 1}]
    assert parse_agent({"agent_id": "a1", "name": "X"}).id == "a1"
    assert parse_time("2025-01-10T10:00:00Z") == datetime(2025, 1, 10, 10, tzinfo=timezone.utc)
    assert parse_time("not a time") is None


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.1.2.3", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("127.example.com", False), ("10.0.0.1", False), ("api.junis.ai", False)])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    from junis_jupyter.config import is_loopback
    assert is_loopback(host) is loopback


def test_parse_json_mends_lone_surrogates_and_keeps_pairs() -> None:
    """A lone surrogate, in either case and in keys too, becomes U+FFFD; an escaped pair (an
    emoji) and other escapes are as json.loads makes them; as deep as json.loads goes, no
    RecursionError."""
    assert parse_json('{"k\\udfff": ["\\uD800a", {"b": "\\ud83d\\ude00 \\u00e9"}]}') == {
        "k\ufffd": ["\ufffda", {"b": "\U0001F600 \u00e9"}]}
    assert parse_json('"\\uDBFF\\uDBFF"') == "\ufffd\ufffd"
    deep = parse_json("[" * 950 + '"\\uDC00"' + "]" * 950)
    for _ in range(950):
        deep = deep[0]
    assert deep == "\ufffd"
