"""JunisClient against the emulator over loopback: every endpoint, every error code, retries with
fault injection, rate limits, session continuation, observers."""
from __future__ import annotations

import time
from typing import Any

import pytest

from junis_jupyter.client import DEFAULT_OBSERVERS, CallRecord, JunisClient
from junis_jupyter.errors import (AgentNotFoundError, APIConnectionError, APIError,
                                  APITimeoutError, AuthenticationError, BadRequestError,
                                  ConfigurationError, InsufficientCreditsError, NotFoundError,
                                  PermissionDeniedError, RateLimitError, ServerError)

from support.clients import wait_until


# --- endpoints -------------------------------------------------------------------------------

def test_chat_returns_answer_usage_session_and_headers(client: JunisClient,
                                                       records: list[CallRecord]) -> None:
    result = client.chat("Summarise Q3 [[chunks=4]]")
    assert "You asked: “Summarise Q3”" in result.text
    assert result.session_id and result.finish_reason == "stop"
    usage = result.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert result.rate_limit.limit and result.rate_limit.remaining is not None
    assert result.rate_limit.reset and result.rate_limit.reset > time.time() - 1
    assert result.request_id and result.request_id.startswith("req_")
    assert client.rate_limit == result.rate_limit
    [record] = records
    assert (record.endpoint, record.stream, record.status, record.error_code, record.attempts) == (
        "chat", False, 200, None, 1)
    assert (record.session_id, record.usage, record.request_id) == (
        result.session_id, usage, result.request_id)
    assert record.latency_s >= 0


def test_session_continuation_and_messages(client: JunisClient) -> None:
    first = client.chat("Remember the number seven")
    second = client.chat("What was it?", session_id=first.session_id)
    assert second.session_id == first.session_id
    assert second.usage.prompt_tokens > first.usage.total_tokens   # the history was counted
    history = client.messages(first.session_id)
    assert [m.position for m in history] == [0, 1, 2, 3]
    assert [m.role for m in history] == ["user", "assistant", "user", "assistant"]
    assert history[0].content == "Remember the number seven"
    assert history[3].content == second.text and history[3].usage == second.usage
    assert all(m.session_id == first.session_id and m.created_at for m in history)


def test_messages_and_sessions_fetch_every_page(client: JunisClient,
                                                records: list[CallRecord]) -> None:
    first = client.chat("one")
    for word in ("two", "three", "four"):
        client.chat(word, session_id=first.session_id)
    made = {client.chat(f"new {n}").session_id for n in range(4)}
    records.clear()
    history = client.messages(first.session_id, page_size=3)
    assert [m.position for m in history] == list(range(8))
    assert [m.content for m in history[::2]] == ["one", "two", "three", "four"]
    assert sum(r.endpoint == "messages" for r in records) == 3          # 3 + 3 + 2
    sessions = client.sessions(page_size=2)
    ids = [s.session_id for s in sessions]
    assert made <= set(ids) and first.session_id in ids and len(ids) == len(set(ids))
    newest = {s.session_id: s for s in sessions}
    assert newest[first.session_id].message_count == 8
    assert sum(r.endpoint == "sessions" for r in records) >= 4


def test_session_status(client: JunisClient) -> None:
    result = client.chat("status please")
    status = client.session_status(result.session_id)
    assert (status.session_id, status.status, status.is_active) == (result.session_id, "idle", True)
    assert status.last_update_time is not None


def test_agents_and_agent_chat(client: JunisClient, records: list[CallRecord]) -> None:
    agents = client.agents()
    by_name = {a.name: a for a in agents}
    assert {"Orchestrator", "Research", "Writer", "Analyst", "Pipeline", "Fanout",
            "Retired"} <= set(by_name)
    assert by_name["Research"].invocable and not by_name["Pipeline"].invocable
    assert by_name["Retired"].is_active is False
    assert [a.name for a in client.agents(agent_type="LLM_AGENT", is_active=True)] == [
        "Research", "Writer", "Analyst"]
    records.clear()
    result = client.chat("Find sources", agent="research")       # a name, any case
    assert result.agent == "Research"
    assert [r.endpoint for r in records] == ["agent_chat"]         # names cached: no /agents call
    assert records[0].agent == "Research"
    assert client.messages(result.session_id)[-1].agent_name == "Research"
    by_id = client.chat("Draft", agent=by_name["Writer"].id)
    assert by_id.agent == "Writer"


def test_orchestrator_by_name_goes_to_chat_completions(client: JunisClient,
                                                       records: list[CallRecord]) -> None:
    client.chat("route me", agent="Orchestrator")
    assert records[-1].endpoint == "chat" and records[-1].agent == "Orchestrator"


def test_unknown_agent_name_lists_the_names(client: JunisClient) -> None:
    with pytest.raises(AgentNotFoundError) as info:
        client.resolve_agent("Nobody")
    assert isinstance(info.value, NotFoundError) and isinstance(info.value, ConfigurationError)
    assert "Nobody" in str(info.value) and "Research" in str(info.value)


def test_messages_list_replaces_the_prompt(client: JunisClient) -> None:
    result = client.chat(messages=[{"role": "system", "content": "Be brief"},
                                   {"role": "user", "content": "[[echo]] exactly this"}])
    assert result.text == "exactly this"
    history = client.messages(result.session_id)
    assert [m.role for m in history[:2]] == ["system", "user"]


def test_max_tokens_and_model_are_sent(client: JunisClient) -> None:
    result = client.chat("Long answer please", max_tokens=5, model="my-model")
    assert result.finish_reason == "length" and result.usage.completion_tokens == 5
    assert result.model == "my-model"


# --- errors: every code of the contract ----------------------------------------------------------

def test_invalid_api_key(emulator: Any) -> None:
    with JunisClient("jns_live_" + "x" * 32, emulator.url) as c, \
            pytest.raises(AuthenticationError) as info:
        c.agents()
    err = info.value
    assert (err.status, err.code, err.type) == (401, "invalid_api_key", "authentication_error")
    assert err.request_id and err.request_id.startswith("req_")


def test_missing_key_is_a_clear_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUNIS_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="JUNIS_API_KEY"):
        JunisClient(base_url="http://127.0.0.1:1")


def test_insufficient_credits(emulator: Any) -> None:
    with JunisClient(emulator.new_key(credits=0), emulator.url) as c, \
            pytest.raises(InsufficientCreditsError) as info:
        c.chat("hello")
    assert (info.value.status, info.value.code, info.value.type) == (
        402, "insufficient_credits", "billing_error")


def test_scope_not_allowed_names_the_scope(emulator: Any) -> None:
    key = emulator.new_key(scopes=["orchestrator:invoke"])
    with JunisClient(key, emulator.url) as c:
        c.chat("allowed")
        with pytest.raises(PermissionDeniedError) as info:
            c.stream("streaming needs its own scope").__enter__()
        assert info.value.code == "scope_not_allowed" and "orchestrator:stream" in str(info.value)
        with pytest.raises(PermissionDeniedError, match="agents:list"):
            c.agents()


def test_agent_id_usable_without_agents_list_scope(emulator: Any) -> None:
    with JunisClient(emulator.key, emulator.url) as full:
        research = full.resolve_agent("Research")
    with JunisClient(emulator.new_key(scopes=["agents:invoke"]), emulator.url) as c:
        assert c.chat("hi", agent=research.id).text
        with pytest.raises(PermissionDeniedError):
            c.chat("hi", agent="Research")          # a name needs the list


def test_not_found_codes(client: JunisClient, emulator: Any) -> None:
    with pytest.raises(NotFoundError) as info:
        client.chat("hello", session_id="no-such-session")
    assert info.value.code == "session_not_found"
    with pytest.raises(NotFoundError) as info:
        client.messages("no-such-session")
    assert info.value.code == "session_not_found"
    with pytest.raises(NotFoundError) as info:
        client.chat("hi", agent="00000000-0000-0000-0000-000000000000")
    assert info.value.code == "agent_not_found"
    with JunisClient(emulator.key, emulator.url + "/wrong/prefix") as lost, \
            pytest.raises(NotFoundError) as info:
        lost.session_status("x")
    assert info.value.code == "not_found"


def test_bad_requests(client: JunisClient) -> None:
    with pytest.raises(BadRequestError) as info:
        client.chat("hello", temperature=7)
    assert (info.value.status, info.value.code, info.value.type) == (
        400, "invalid_request", "invalid_request_error")
    assert "temperature" in info.value.message
    with pytest.raises(BadRequestError) as info:
        client.chat("hi", agent="Pipeline")
    assert info.value.code == "agent_not_invocable"


@pytest.mark.parametrize("status, code, cls", [
    (403, "subscription_required", PermissionDeniedError),
    (500, "server_error", ServerError),
    (503, "service_unavailable", ServerError),
    (429, "rate_limit_exceeded", RateLimitError),
])
def test_injected_error_codes_map_to_classes(client: JunisClient, emulator: Any, status: int,
                                             code: str, cls: type, records: list) -> None:
    emulator.faults({"kind": "status", "status": status, "code": code, "count": 3,
                     "retry_after": 0})
    with pytest.raises(cls) as info:
        client.session_status("anything")
    assert (info.value.status, info.value.code) == (status, code)
    assert records[-1].error_code == code and records[-1].status == status


def test_rate_limit_exceeded_is_retried_after_retry_after_then_raised(
        emulator: Any, sleeps: list[float]) -> None:
    with JunisClient(emulator.new_key(rpm=2), emulator.url) as c:
        c.agents()
        assert c.rate_limit.limit == 2 and c.rate_limit.remaining == 1
        c.agents()
        with pytest.raises(RateLimitError) as info:
            c.agents()
    err = info.value
    assert err.code == "rate_limit_exceeded" and err.retry_after and 0 < err.retry_after <= 60
    assert len(sleeps) == 2 and all(0 < s <= 60 for s in sleeps)     # the server's Retry-After
    assert c.rate_limit.remaining == 0


def test_concurrency_limit_is_a_rate_limit(emulator: Any) -> None:
    key = emulator.new_key(concurrency=1)
    with JunisClient(key, emulator.url, max_retries=0) as c:
        with c.stream("slow [[chunks=20]] [[delay=0.05]]") as first:
            next(iter(first))
            with pytest.raises(RateLimitError):
                c.chat("second at once")
        assert wait_until(lambda: emulator.stats()["in_flight"] == 0)   # the server saw it close
        assert c.chat("after the first finished").text


# --- retries --------------------------------------------------------------------------------------

def test_retries_server_errors_then_succeeds(client: JunisClient, emulator: Any,
                                             sleeps: list[float], records: list) -> None:
    before = emulator.stats()["requests"]
    emulator.faults({"kind": "status", "status": 502, "count": 1},
                    {"kind": "status", "status": 500, "count": 1})
    assert client.chat("eventually").text
    assert emulator.stats()["requests"] - before == 3
    assert len(sleeps) == 2 and sleeps[0] <= 0.5 and sleeps[1] <= 1.0    # backoff 1, 2 (jittered)
    assert records[-1].attempts == 3 and records[-1].status == 200 and len(records) == 1


def test_gives_up_after_max_retries(emulator: Any, sleeps: list[float]) -> None:
    records: list[CallRecord] = []
    emulator.faults({"kind": "status", "status": 504, "count": 10})
    before = emulator.stats()["requests"]
    with JunisClient(emulator.key, emulator.url, max_retries=3, observers=[records.append]) as c, \
            pytest.raises(ServerError) as info:
        c.agents()
    assert info.value.status == 504
    assert emulator.stats()["requests"] - before == 4
    assert len(sleeps) == 3 and [r.attempts for r in records] == [4]


def test_retry_after_is_honoured(client: JunisClient, emulator: Any,
                                 sleeps: list[float]) -> None:
    emulator.faults({"kind": "status", "status": 429, "retry_after": 3})
    assert client.agents()
    assert sleeps == [3.0]


def test_client_errors_are_not_retried(client: JunisClient, emulator: Any,
                                       sleeps: list[float]) -> None:
    for status in (400, 401, 402, 403, 404):
        emulator.faults({"kind": "status", "status": status})
        before = emulator.stats()["requests"]
        with pytest.raises(Exception):
            client.agents()
        assert emulator.stats()["requests"] - before == 1
    assert sleeps == []


def test_connection_reset_is_retried(client: JunisClient, emulator: Any,
                                     sleeps: list[float], records: list) -> None:
    emulator.faults({"kind": "reset", "count": 2})
    assert client.agents()
    assert len(sleeps) == 2 and records[-1].attempts == 3


def test_connection_reset_every_time_is_a_connection_error(client: JunisClient, emulator: Any,
                                                           records: list) -> None:
    emulator.faults({"kind": "reset", "count": 3})
    with pytest.raises(APIConnectionError) as info:
        client.agents()
    assert not isinstance(info.value, APITimeoutError)
    assert emulator.url in str(info.value)
    assert (records[-1].error_code, records[-1].status, records[-1].attempts) == (
        "connection_error", None, 3)


def test_slow_first_byte_times_out_after_retries(emulator: Any, sleeps: list[float]) -> None:
    records: list[CallRecord] = []
    emulator.faults({"kind": "delay", "seconds": 2, "count": 2})
    with JunisClient(emulator.key, emulator.url, timeout=0.3, max_retries=1,
                     observers=[records.append]) as c, pytest.raises(APITimeoutError):
        c.agents()
    assert records[-1].error_code == "timeout" and records[-1].attempts == 2


def test_refused_connection_is_retried_then_raised(sleeps: list[float]) -> None:
    with JunisClient("jns_live_" + "r" * 32, "http://127.0.0.1:9") as c, \
            pytest.raises(APIConnectionError, match="Could not reach http://127.0.0.1:9"):
        c.agents()
    assert len(sleeps) == 2


def test_stream_is_retried_before_its_first_byte(client: JunisClient, emulator: Any,
                                                 sleeps: list[float], records: list) -> None:
    emulator.faults({"kind": "status", "status": 503, "path": "/v1/chat"},
                    {"kind": "reset", "path": "/v1/chat"})
    with client.stream("retried [[chunks=5]]") as stream:
        text = "".join(chunk.text for chunk in stream)
    assert text == stream.result.text and len(sleeps) == 2
    assert records[-1].attempts == 3 and records[-1].error_code is None


# --- insecure URLs ------------------------------------------------------------------------------

def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure"):
        JunisClient("jns_live_" + "a" * 32, "http://api.example.com")
    assert JunisClient("jns_live_" + "a" * 32, "http://api.example.com",
                       allow_insecure=True).base_url == "http://api.example.com"


def test_a_whole_answer_over_max_response_bytes_is_refused(emulator: Any,
                                                          records: list[CallRecord]) -> None:
    with JunisClient(emulator.key, emulator.url, observers=[records.append],
                     max_response_bytes=8192) as c:
        assert len(c.chat("Fits [[size=2000]]").text) == 2000
        with pytest.raises(APIError) as info:
            c.chat("Too long [[size=20000]]")
        err = info.value
        assert (err.status, err.code) == (200, "response_too_large")
        assert "too large" in str(err) and "8,192 bytes" in str(err) and err.request_id
        assert c.chat("[[echo]] still here").text == "still here"   # and the client still works
        streamed = "".join(ch.text for ch in c.stream("Streams are bounded per event "
                                                      "[[size=20000]]"))
        assert len(streamed) == 20000
    assert [(r.endpoint, r.error_code) for r in records] == [
        ("chat", None), ("chat", "response_too_large"), ("chat", None), ("chat", None)]


# --- observers ----------------------------------------------------------------------------------

def test_one_record_per_call_success_or_failure(client: JunisClient,
                                                records: list[CallRecord]) -> None:
    client.chat("one")
    with pytest.raises(NotFoundError):
        client.session_status("nope")
    client.sessions(page_size=100)
    assert [(r.endpoint, r.error_code) for r in records][:2] == [
        ("chat", None), ("session_status", "session_not_found")]
    assert records[1].status == 404 and records[1].request_id


def test_a_failing_observer_is_logged_and_ignored(emulator: Any,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    seen: list[CallRecord] = []

    def broken(record: CallRecord) -> None:
        raise RuntimeError("ledger is full")

    with JunisClient(emulator.key, emulator.url, observers=[broken, seen.append]) as c:
        assert c.agents()
    assert len(seen) == 1
    assert "ledger is full" in caplog.text and "broken" in caplog.text


def test_default_observers_are_copied_into_new_clients(emulator: Any) -> None:
    seen: list[CallRecord] = []
    before = JunisClient(emulator.key, emulator.url)
    DEFAULT_OBSERVERS.append(seen.append)
    try:
        after = JunisClient(emulator.key, emulator.url)
    finally:
        DEFAULT_OBSERVERS.remove(seen.append)
    before.agents()
    after.agents()
    assert len(seen) == 1
    after.remove_observer(seen.append)
    after.agents()
    assert len(seen) == 1
    before.add_observer(seen.append)
    before.agents()
    assert len(seen) == 2
    before.close()
    after.close()
