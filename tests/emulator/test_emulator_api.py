"""The emulator's endpoints against the house contract, over a real loopback socket."""
from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from junis_jupyter.emulator.tokens import count_tokens

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def client(server, key: str | None = None, **kw) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-API-Key": key or server.key}, timeout=10, **kw)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def sse_events(response: httpx.Response) -> list[str]:
    """The payloads of the `data:` lines of a finished stream."""
    return [line[6:] for line in response.iter_lines() if line.startswith("data: ")]


def stream(c: httpx.Client, path: str = "/v1/chat/completions", **body) -> tuple[httpx.Response, list[str]]:
    with c.stream("POST", path, json={"stream": True, **body}) as response:
        if response.status_code != 200:
            response.read()
            return response, []
        events = sse_events(response)
    return response, events


def assert_error(response: httpx.Response, status: int, code: str, mentions: str = "") -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code"}
    assert error["code"] == code
    assert mentions in error["message"]
    return error


@pytest.fixture(scope="module")
def agents_by_name(emulator) -> dict[str, dict]:
    with client(emulator) as c:
        return {a["name"]: a for a in c.get("/agents").json()["agents"]}


# chat completions -----------------------------------------------------------------------------

def test_completion_shape_usage_and_new_session(emulator) -> None:
    prompt = "Summarise the quarterly sales figures"
    with client(emulator) as c:
        r = c.post("/v1/chat/completions", json={"messages": user(prompt)})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("cmpl-")
    assert isinstance(body["created"], int)
    assert body["model"] == "junis-orchestrator"
    uuid.UUID(body["session_id"])
    choice = body["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    text = choice["message"]["content"]
    assert body["usage"] == {"prompt_tokens": count_tokens(prompt),
                             "completion_tokens": count_tokens(text),
                             "total_tokens": count_tokens(prompt) + count_tokens(text)}


def test_answer_is_deterministic_markdown_derived_from_the_prompt(emulator) -> None:
    with client(emulator) as c:
        def ask(prompt: str) -> str:
            return c.post("/v1/chat/completions",
                          json={"messages": user(prompt)}).json()["choices"][0]["message"]["content"]
        first, again, other = ask("Explain churn"), ask("Explain churn"), ask("Explain revenue")
    assert first == again
    assert first != other
    assert first.startswith("## Explain churn")
    assert "\n- " in first                       # a bullet list
    assert "\n|---|---|\n" in first              # a table
    assert "```python\n" in first                # a fenced code block


def test_model_is_echoed(emulator) -> None:
    with client(emulator) as c:
        r = c.post("/v1/chat/completions", json={"model": "my-model", "messages": user("hi")})
    assert r.json()["model"] == "my-model"


def test_stream_matches_whole_answer_and_carries_session_id(emulator) -> None:
    prompt = "Tell me about streaming"
    with client(emulator) as c:
        whole = c.post("/v1/chat/completions", json={"messages": user(prompt)}).json()
        response, events = stream(c, messages=user(prompt))
    assert response.headers["content-type"].startswith("text/event-stream")
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    session_ids = {chunk["session_id"] for chunk in chunks}
    assert len(session_ids) == 1 and session_ids != {whole["session_id"]}
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(ch["choices"][0]["delta"].get("content", "") for ch in chunks)
    assert text == whole["choices"][0]["message"]["content"]
    assert len(chunks) > 10                              # a few characters per chunk
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in chunk for chunk in chunks)


def test_stream_include_usage_adds_a_last_usage_chunk(emulator) -> None:
    prompt = "Count my tokens please"
    with client(emulator) as c:
        _, events = stream(c, messages=user(prompt), stream_options={"include_usage": True})
    assert events[-1] == "[DONE]"
    last = json.loads(events[-2])
    assert last["choices"] == []
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-2])
    assert last["usage"] == {"prompt_tokens": count_tokens(prompt),
                             "completion_tokens": count_tokens(text),
                             "total_tokens": count_tokens(prompt) + count_tokens(text)}


def test_session_continues_with_history(emulator) -> None:
    with client(emulator) as c:
        first = c.post("/v1/chat/completions", json={"messages": user("First question")}).json()
        sid = first["session_id"]
        second = c.post("/v1/chat/completions",
                        json={"session_id": sid, "messages": user("Second question")}).json()
        history = c.get(f"/sessions/{sid}/messages").json()
    assert second["session_id"] == sid
    answer1 = first["choices"][0]["message"]["content"]
    # the model sees the whole history: both earlier turns count as prompt tokens now
    assert second["usage"]["prompt_tokens"] == (count_tokens("First question") + count_tokens(answer1)
                                                + count_tokens("Second question"))
    assert history["session_id"] == sid and history["total"] == 4
    roles = [m["role"] for m in history["messages"]]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert [m["content"] for m in history["messages"]][::2] == ["First question", "Second question"]
    assert history["messages"][1]["content"] == answer1
    for message in history["messages"]:
        assert set(message) == {"id", "role", "content", "created_at", "agent_name", "usage"}
        assert ISO_Z.match(message["created_at"])
    assert history["messages"][0]["usage"] is None
    assert history["messages"][1]["usage"] == first["usage"]
    assert history["messages"][1]["agent_name"] == "Orchestrator"
    assert len({m["id"] for m in history["messages"]}) == 4


def test_stream_continues_a_session_too(emulator) -> None:
    with client(emulator) as c:
        sid = c.post("/v1/chat/completions", json={"messages": user("Start")}).json()["session_id"]
        _, events = stream(c, messages=user("Continue"), session_id=sid)
        count = c.get(f"/sessions/{sid}/messages").json()["total"]
    assert {json.loads(e)["session_id"] for e in events[:-1]} == {sid}
    assert count == 4


def test_unknown_session_is_404(emulator) -> None:
    missing = str(uuid.uuid4())
    with client(emulator) as c:
        assert_error(c.post("/v1/chat/completions", json={"session_id": missing, "messages": user("x")}),
                     404, "session_not_found")
        assert_error(c.get(f"/sessions/{missing}/messages"), 404, "session_not_found")
        assert_error(c.get(f"/sessions/{missing}/status"), 404, "session_not_found")


def test_max_tokens_truncates_with_finish_reason_length(emulator) -> None:
    with client(emulator) as c:
        r = c.post("/v1/chat/completions", json={"messages": user("A long answer"), "max_tokens": 5})
        _, events = stream(c, messages=user("A long answer"), max_tokens=5)
    body = r.json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 5
    assert count_tokens(body["choices"][0]["message"]["content"]) == 5
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == \
        body["choices"][0]["message"]["content"]


# directives -----------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 3, 250])
def test_chunks_directive_gives_exactly_n_content_chunks(emulator, n: int) -> None:
    with client(emulator) as c:
        _, events = stream(c, messages=user(f"Hello [[chunks={n}]]"))
    contents = [json.loads(e)["choices"][0]["delta"].get("content") for e in events[:-1]]
    assert len([x for x in contents if x]) == n


def test_size_directive_sets_the_answer_length(emulator) -> None:
    with client(emulator) as c:
        r = c.post("/v1/chat/completions", json={"messages": user("Big [[size=5000]]")})
    assert len(r.json()["choices"][0]["message"]["content"]) == 5000


def test_echo_directive_returns_the_prompt_verbatim(emulator) -> None:
    hostile = "<script>alert('x')</script> [link](javascript:alert(1)) {df} ```"
    with client(emulator) as c:
        r = c.post("/v1/chat/completions", json={"messages": user(f"[[echo]] {hostile}")})
    assert r.json()["choices"][0]["message"]["content"] == hostile


def test_delay_directive_is_removed_and_the_stream_completes(emulator) -> None:
    with client(emulator) as c:
        _, events = stream(c, messages=user("Slow [[delay=0.01]] [[chunks=3]]"))
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert events[-1] == "[DONE]" and "[[" not in text and text.startswith("## Slow")


def test_bad_directive_value_is_a_400(emulator) -> None:
    with client(emulator) as c:
        assert_error(c.post("/v1/chat/completions", json={"messages": user("x [[chunks=0]]")}),
                     400, "invalid_request", "messages")


# agents ---------------------------------------------------------------------------------------

def test_agents_list_shape_and_seeded_organisation(emulator) -> None:
    with client(emulator) as c:
        body = c.get("/agents").json()
    assert body["total"] == len(body["agents"]) == 7
    kinds = {a["name"]: (a["agent_type"], a["is_active"]) for a in body["agents"]}
    assert kinds == {"Orchestrator": ("ORCHESTRATOR", True), "Research": ("LLM_AGENT", True),
                     "Writer": ("LLM_AGENT", True), "Analyst": ("LLM_AGENT", True),
                     "Pipeline": ("SEQUENTIAL_AGENT", True), "Fanout": ("PARALLEL_AGENT", True),
                     "Retired": ("LLM_AGENT", False)}
    for agent in body["agents"]:
        assert set(agent) == {"id", "name", "description", "agent_type", "is_active", "model",
                              "created_at"}
        uuid.UUID(agent["id"])
        assert ISO_Z.match(agent["created_at"])


def test_agent_ids_are_stable_across_emulators(emulator, make_emulator) -> None:
    other = make_emulator()
    with client(emulator) as a, client(other) as b:
        assert a.get("/agents").json() == b.get("/agents").json()


def test_agents_filters(emulator) -> None:
    with client(emulator) as c:
        llm = c.get("/agents", params={"agent_type": "LLM_AGENT"}).json()
        inactive = c.get("/agents", params={"is_active": "false"}).json()
        both = c.get("/agents", params={"agent_type": "LLM_AGENT", "is_active": "true"}).json()
        bad = c.get("/agents", params={"is_active": "maybe"})
    assert {a["name"] for a in llm["agents"]} == {"Research", "Writer", "Analyst", "Retired"}
    assert llm["total"] == 4
    assert [a["name"] for a in inactive["agents"]] == ["Retired"]
    assert {a["name"] for a in both["agents"]} == {"Research", "Writer", "Analyst"}
    assert_error(bad, 400, "invalid_request", "is_active")


def test_agent_completion_records_the_agent(emulator, agents_by_name) -> None:
    research = agents_by_name["Research"]
    with client(emulator) as c:
        r = c.post(f"/agents/{research['id']}/completions", json={"messages": user("Find sources")})
        body = r.json()
        _, events = stream(c, f"/agents/{research['id']}/completions", messages=user("More"),
                           session_id=body["session_id"])
        history = c.get(f"/sessions/{body['session_id']}/messages").json()["messages"]
    assert r.status_code == 200 and body["model"] == research["model"]
    assert events[-1] == "[DONE]"
    assert [m["agent_name"] for m in history if m["role"] == "assistant"] == ["Research", "Research"]


@pytest.mark.parametrize("name", ["Orchestrator", "Pipeline", "Fanout"])
def test_non_llm_agents_are_not_invocable(emulator, agents_by_name, name: str) -> None:
    with client(emulator) as c:
        r = c.post(f"/agents/{agents_by_name[name]['id']}/completions", json={"messages": user("x")})
    assert_error(r, 400, "agent_not_invocable", name)


def test_inactive_llm_agent_is_still_invocable(emulator, agents_by_name) -> None:
    with client(emulator) as c:
        r = c.post(f"/agents/{agents_by_name['Retired']['id']}/completions", json={"messages": user("x")})
    assert r.status_code == 200


def test_unknown_agent_is_404(emulator) -> None:
    with client(emulator) as c:
        assert_error(c.post(f"/agents/{uuid.uuid4()}/completions", json={"messages": user("x")}),
                     404, "agent_not_found")


# sessions -------------------------------------------------------------------------------------

def test_sessions_newest_activity_first(emulator) -> None:
    with client(emulator) as c:
        a = c.post("/v1/chat/completions", json={"messages": user("A")}).json()["session_id"]
        b = c.post("/v1/chat/completions", json={"messages": user("B")}).json()["session_id"]
        assert [s["session_id"] for s in c.get("/sessions", params={"page_size": 2}).json()["sessions"]] == [b, a]
        c.post("/v1/chat/completions", json={"session_id": a, "messages": user("A again")})
        page = c.get("/sessions", params={"page_size": 2}).json()
    assert [s["session_id"] for s in page["sessions"]] == [a, b]
    first = page["sessions"][0]
    assert set(first) == {"session_id", "created_at", "last_update_time", "is_active", "message_count"}
    assert first["message_count"] == 4 and first["is_active"] is True
    assert ISO_Z.match(first["created_at"]) and first["last_update_time"] >= first["created_at"]


def test_sessions_pagination_edges(make_emulator) -> None:
    server = make_emulator()
    with client(server) as c:
        empty = c.get("/sessions").json()
        assert empty == {"sessions": [], "total": 0, "page": 1, "page_size": 20, "has_next": False}
        ids = [c.post("/v1/chat/completions", json={"messages": user(f"q{i}")}).json()["session_id"]
               for i in range(21)]
        first = c.get("/sessions").json()
        second = c.get("/sessions", params={"page": 2}).json()
        beyond = c.get("/sessions", params={"page": 3}).json()
        exact = c.get("/sessions", params={"page_size": 21}).json()
        widest = c.get("/sessions", params={"page_size": 100}).json()
        for params, field in [({"page": 0}, "page"), ({"page": -1}, "page"), ({"page": "x"}, "page"),
                              ({"page_size": 0}, "page_size"), ({"page_size": 101}, "page_size"),
                              ({"page_size": "1.5"}, "page_size")]:
            assert_error(c.get("/sessions", params=params), 400, "invalid_request", f"'{field}'")
    assert (first["total"], first["page"], first["page_size"], first["has_next"]) == (21, 1, 20, True)
    assert len(first["sessions"]) == 20
    assert (second["page"], second["has_next"], len(second["sessions"])) == (2, False, 1)
    assert [s["session_id"] for s in first["sessions"] + second["sessions"]] == ids[::-1]
    assert beyond["sessions"] == [] and beyond["has_next"] is False and beyond["total"] == 21
    assert exact["has_next"] is False and len(exact["sessions"]) == 21
    assert widest["page_size"] == 100 and len(widest["sessions"]) == 21


def test_messages_pagination_oldest_first(emulator) -> None:
    with client(emulator) as c:
        sid = c.post("/v1/chat/completions", json={"messages": user("m0")}).json()["session_id"]
        for i in (1, 2):
            c.post("/v1/chat/completions", json={"session_id": sid, "messages": user(f"m{i}")})
        page1 = c.get(f"/sessions/{sid}/messages", params={"page_size": 4}).json()
        page2 = c.get(f"/sessions/{sid}/messages", params={"page_size": 4, "page": 2}).json()
        assert_error(c.get(f"/sessions/{sid}/messages", params={"page_size": 101}), 400,
                     "invalid_request", "page_size")
    assert (page1["total"], page1["has_next"], page2["has_next"]) == (6, True, False)
    contents = [m["content"] for m in page1["messages"] + page2["messages"]]
    assert contents[::2] == ["m0", "m1", "m2"]
    times = [m["created_at"] for m in page1["messages"] + page2["messages"]]
    assert times == sorted(times)


def test_status_idle_then_processing_while_streaming(emulator) -> None:
    with client(emulator) as c, client(emulator) as watcher:
        sid = c.post("/v1/chat/completions", json={"messages": user("x")}).json()["session_id"]
        idle = watcher.get(f"/sessions/{sid}/status").json()
        body = {"stream": True, "session_id": sid, "messages": user("Slow [[chunks=4]] [[delay=0.2]]")}
        with c.stream("POST", "/v1/chat/completions", json=body) as response:
            lines = response.iter_lines()
            assert next(lines).startswith("data: {")
            during = watcher.get(f"/sessions/{sid}/status").json()
            for _ in lines:
                pass
        after = watcher.get(f"/sessions/{sid}/status").json()
    assert idle["status"] == "idle" and during["status"] == "processing" and after["status"] == "idle"
    assert set(idle) == {"session_id", "status", "is_active", "last_update_time"}
    assert idle["session_id"] == sid and idle["is_active"] is True
    assert after["last_update_time"] > idle["last_update_time"]


def test_session_list_and_status_work_with_bearer_auth(emulator) -> None:
    with httpx.Client(base_url=emulator.url, headers={"Authorization": f"Bearer {emulator.key}"}) as c:
        assert c.get("/sessions").status_code == 200


# validation -----------------------------------------------------------------------------------

@pytest.mark.parametrize("body, field", [
    ({}, "messages"),
    ({"messages": "hi"}, "messages"),
    ({"messages": []}, "messages"),
    ({"messages": ["hi"]}, "messages[0]"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user"}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": 3}]}, "messages[1].content"),
    ({"messages": [{"role": "user", "content": "x"}], "temperature": 2.5}, "temperature"),
    ({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature"),
    ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
    ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 1.5}, "max_tokens"),
    ({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
    ({"messages": [{"role": "user", "content": "x"}], "session_id": 42}, "session_id"),
    ({"messages": [{"role": "user", "content": "x"}], "model": 1}, "model"),
    ({"messages": [{"role": "user", "content": "x"}], "stream_options": []}, "stream_options"),
])
def test_invalid_fields_are_400_naming_the_field(emulator, body: dict, field: str) -> None:
    with client(emulator) as c:
        assert_error(c.post("/v1/chat/completions", json=body), 400, "invalid_request", f"'{field}'")


def test_malformed_json_and_non_object_bodies_are_400(emulator) -> None:
    with client(emulator) as c:
        error = assert_error(c.post("/v1/chat/completions", content=b"{not json",
                                    headers={"content-type": "application/json"}),
                             400, "invalid_request", "JSON")
        assert error["type"] == "invalid_request_error"
        assert_error(c.post("/v1/chat/completions", json=[1, 2]), 400, "invalid_request", "object")


def test_unknown_fields_are_tolerated(emulator) -> None:
    with client(emulator) as c:
        r = c.post("/v1/chat/completions", json={"messages": user("x"), "user": "u1", "top_p": 0.5,
                                                 "temperature": 0, "n": 1})
    assert r.status_code == 200


def test_unknown_path_and_wrong_method(emulator) -> None:
    with client(emulator) as c:
        error = assert_error(c.get("/no/such/thing"), 404, "not_found")
        assert error["type"] == "not_found_error"
        assert c.get("/v1/chat/completions").status_code == 405


# auth and scopes ------------------------------------------------------------------------------

def test_missing_and_unknown_keys_are_401(emulator) -> None:
    wrong = "jns_live_" + "A" * 32
    with httpx.Client(base_url=emulator.url) as c:
        missing = c.get("/agents")
        unknown = c.get("/agents", headers={"X-API-Key": wrong})
        bearer_unknown = c.post("/v1/chat/completions", json={"messages": user("x")},
                                headers={"Authorization": f"Bearer {wrong}"})
    for r in (missing, unknown, bearer_unknown):
        error = assert_error(r, 401, "invalid_api_key")
        assert error["type"] == "authentication_error"
        assert r.headers["www-authenticate"] == "ApiKey"
        assert wrong not in r.text


@pytest.mark.parametrize("scope, method, path, body", [
    ("orchestrator:invoke", "POST", "/v1/chat/completions", {"messages": user("x")}),
    ("orchestrator:stream", "POST", "/v1/chat/completions", {"messages": user("x"), "stream": True}),
    ("agents:list", "GET", "/agents", None),
    ("agents:invoke", "POST", "/agents/{research}/completions", {"messages": user("x")}),
    ("sessions:read", "GET", "/sessions", None),
    ("sessions:read", "GET", "/sessions/{sid}/status", None),
    ("sessions:messages", "GET", "/sessions/{sid}/messages", None),
])
def test_each_scope_is_enforced(emulator, agents_by_name, scope, method, path, body) -> None:
    from junis_jupyter.emulator.store import ALL_SCOPES
    with client(emulator) as c:
        sid = c.post("/v1/chat/completions", json={"messages": user("x")}).json()["session_id"]
    path = path.format(research=agents_by_name["Research"]["id"], sid=sid)
    lacking = emulator.new_key(scopes=[s for s in ALL_SCOPES if s != scope])
    with client(emulator, lacking) as c:
        denied = c.request(method, path, json=body)
    with client(emulator, emulator.new_key(scopes=[scope, "orchestrator:invoke"])) as c:
        allowed = c.request(method, path, json=body)
    error = assert_error(denied, 403, "scope_not_allowed", scope)
    assert error["type"] == "permission_error"
    assert allowed.status_code == 200


def test_non_stream_needs_no_stream_scope(emulator) -> None:
    key = emulator.new_key(scopes=["orchestrator:invoke"])
    with client(emulator, key) as c:
        assert c.post("/v1/chat/completions", json={"messages": user("x")}).status_code == 200


# headers --------------------------------------------------------------------------------------

def test_every_response_carries_rate_limit_headers_and_a_request_id(emulator) -> None:
    with client(emulator) as c, httpx.Client(base_url=emulator.url) as anonymous:
        responses = [c.get("/agents"), c.get("/sessions"), c.get("/nowhere"),
                     c.post("/v1/chat/completions", json={"messages": []}),
                     anonymous.get("/agents"), stream(c, messages=user("x"))[0]]
    ids = set()
    for r in responses:
        assert int(r.headers["x-ratelimit-limit"]) > 0
        assert 0 <= int(r.headers["x-ratelimit-remaining"]) <= int(r.headers["x-ratelimit-limit"])
        assert int(r.headers["x-ratelimit-reset"]) > 1_600_000_000
        ids.add(r.headers["x-request-id"])
    assert len(ids) == len(responses)


def test_unicode_and_lone_surrogates_survive_the_round_trip(emulator) -> None:
    raw = b'{"stream": true, "messages": [{"role": "user", "content": "[[echo]] caf\\u00e9 \\ud83d\\ude00 \\ud800"}]}'
    with client(emulator) as c:
        whole = c.post("/v1/chat/completions", content=raw.replace(b'"stream": true, ', b""),
                       headers={"content-type": "application/json"})
        with c.stream("POST", "/v1/chat/completions", content=raw,
                      headers={"content-type": "application/json"}) as response:
            events = sse_events(response)
    expected = "caf\u00e9 \U0001F600 \ud800"
    assert whole.json()["choices"][0]["message"]["content"] == expected
    assert "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1]) == expected


def test_an_internal_error_is_a_contract_500_with_headers(make_emulator) -> None:
    server = make_emulator()
    server.emulator.store.agents.append(42)       # corrupt the data: the agents handler will crash
    with client(server) as c:
        r = c.get("/agents", params={"agent_type": "LLM_AGENT"})
    assert_error(r, 500, "server_error")
    assert r.headers["x-request-id"] and r.headers["x-ratelimit-limit"]
    assert server.stats()["by_status"] == {"500": 1}


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                     max_leaves=8)
_message = st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "assistant", "tool", "x"]) | _json,
                                  "content": st.text(max_size=40) | _json})
_body = st.fixed_dictionaries({}, optional={
    "messages": st.lists(_message, max_size=3) | _json, "stream": st.booleans() | _json,
    "max_tokens": st.integers(-2, 50) | _json, "temperature": st.floats(-1, 3) | _json,
    "session_id": st.none() | st.text(max_size=10), "stream_options": _json, "model": _json})


@pytest.fixture(scope="module")
def shared_client(emulator):
    with client(emulator) as c:
        yield c


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_body)
def test_any_json_body_is_answered_or_refused_never_a_crash(shared_client, body: dict) -> None:
    with shared_client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.read()
    assert response.status_code in (200, 400, 404), response.text
    if response.status_code != 200:
        assert response.json()["error"]["code"] in ("invalid_request", "session_not_found")
