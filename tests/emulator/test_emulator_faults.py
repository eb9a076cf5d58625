"""Faults injected through the admin route, the admin route itself and the statistics."""
from __future__ import annotations

import json
import logging
import socket
import time

import httpx
import pytest


def client(server, timeout: httpx.Timeout | float = 10) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-API-Key": server.key}, timeout=timeout)


def ask(text: str = "Hello", **extra) -> dict:
    return {"messages": [{"role": "user", "content": text}], **extra}


def stream_lines(c: httpx.Client, body: dict) -> list[str]:
    with c.stream("POST", "/v1/chat/completions", json={"stream": True, **body}) as response:
        assert response.status_code == 200
        return [line for line in response.iter_lines() if line]


def contents(lines: list[str]) -> list[str]:
    found = []
    for line in lines:
        try:
            chunk = json.loads(line[6:])
        except ValueError:
            continue
        if chunk.get("choices") and chunk["choices"][0]["delta"].get("content"):
            found.append(chunk["choices"][0]["delta"]["content"])
    return found


def test_status_fault_strikes_once_then_clears(emulator) -> None:
    emulator.faults({"kind": "status", "status": 503})
    with client(emulator) as c:
        failed, ok = c.get("/agents"), c.get("/agents")
    assert failed.status_code == 503
    assert failed.json() == {"error": {"message": failed.json()["error"]["message"],
                                       "type": "server_error", "code": "service_unavailable"}}
    assert failed.headers["x-request-id"] and failed.headers["x-ratelimit-limit"]
    assert ok.status_code == 200


def test_status_fault_with_code_message_retry_after_and_count(emulator) -> None:
    emulator.faults({"kind": "status", "status": 429, "code": "rate_limit_exceeded",
                     "message": "slow down", "retry_after": 2, "count": 2})
    with client(emulator) as c:
        responses = [c.post("/v1/chat/completions", json=ask()) for _ in range(3)]
    assert [r.status_code for r in responses] == [429, 429, 200]
    assert responses[0].json()["error"] == {"message": "slow down", "type": "rate_limit_error",
                                            "code": "rate_limit_exceeded"}
    assert responses[1].headers["retry-after"] == "2"


def test_faults_match_by_path_prefix(emulator) -> None:
    emulator.faults({"kind": "status", "status": 500, "path": "/sessions"})
    with client(emulator) as c:
        agents, sessions = c.get("/agents"), c.get("/sessions")
    assert agents.status_code == 200
    assert sessions.status_code == 500 and sessions.json()["error"]["code"] == "server_error"


def test_delay_fault_holds_the_first_byte(make_emulator) -> None:
    server = make_emulator()
    server.faults({"kind": "delay", "seconds": 30})
    with client(server, timeout=httpx.Timeout(10, read=0.2)) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.get("/agents")
    with client(server) as c:
        assert c.get("/agents").status_code == 200
    for _ in range(500):                  # the server notices the client left, not 30 s later
        if server.stats()["in_flight"] == 0:
            break
        time.sleep(0.01)
    assert server.stats()["by_status"] == {"disconnected": 1, "200": 1}


def test_delayed_request_keeps_its_body(emulator) -> None:
    emulator.faults({"kind": "delay", "seconds": 0.05})
    with client(emulator) as c:
        r = c.post("/v1/chat/completions", json=ask("[[echo]] the body survives"))
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"] == "the body survives"


def test_cut_fault_ends_the_stream_without_done(emulator) -> None:
    emulator.faults({"kind": "cut", "after": 3})
    with client(emulator) as c:
        lines = stream_lines(c, ask("[[chunks=10]]"))
        sid = json.loads(lines[0][6:])["session_id"]
        history = c.get(f"/sessions/{sid}/messages").json()["messages"]
        whole = stream_lines(c, ask("[[chunks=10]]"))
    assert "data: [DONE]" not in lines
    assert len(contents(lines)) == 3
    # the session records what was delivered
    assert history[-1]["content"] == "".join(contents(lines))
    assert whole[-1] == "data: [DONE]" and len(contents(whole)) == 10


def test_abrupt_cut_drops_the_connection_mid_stream(emulator) -> None:
    emulator.faults({"kind": "cut", "after": 2, "abrupt": True})
    received: list[str] = []
    with client(emulator) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            with c.stream("POST", "/v1/chat/completions", json=ask("[[chunks=10]]", stream=True)) as r:
                for line in r.iter_lines():
                    received.append(line)
    assert len(contents(received)) == 2


def test_malformed_fault_inserts_a_non_json_line(emulator) -> None:
    emulator.faults({"kind": "malformed", "after": 2})
    with client(emulator) as c:
        lines = stream_lines(c, ask("[[chunks=5]]"))
    bad = [i for i, line in enumerate(lines) if line.startswith("data: ") and line != "data: [DONE]"
           and not _is_json(line[6:])]
    assert len(bad) == 1 and len(contents(lines[:bad[0]])) == 2
    assert lines[-1] == "data: [DONE]" and len(contents(lines)) == 5


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_error_event_fault_sends_an_error_then_closes(emulator) -> None:
    emulator.faults({"kind": "error_event", "after": 2, "code": "service_unavailable",
                     "message": "agent crashed"})
    with client(emulator) as c:
        lines = stream_lines(c, ask("[[chunks=5]]"))
    assert len(contents(lines)) == 2
    assert json.loads(lines[-1][6:]) == {"error": {"message": "agent crashed", "type": "server_error",
                                                   "code": "service_unavailable"}}
    assert "data: [DONE]" not in lines


def test_stream_faults_wait_for_a_stream(emulator) -> None:
    emulator.faults({"kind": "cut", "after": 1})
    with client(emulator) as c:
        assert c.post("/v1/chat/completions", json=ask()).status_code == 200   # not a stream
        lines = stream_lines(c, ask("[[chunks=4]]"))
    assert len(contents(lines)) == 1


def test_reset_fault_closes_the_connection_without_a_response(make_emulator) -> None:
    server = make_emulator()
    server.faults({"kind": "reset"})
    with client(server) as c:
        with pytest.raises(httpx.TransportError):
            c.get("/agents")
        assert c.get("/agents").status_code == 200           # the client reconnects
    assert server.stats()["by_status"] == {"reset": 1, "200": 1}


def test_reset_fault_on_a_completion(emulator) -> None:
    emulator.faults({"kind": "reset", "path": "/v1/chat/completions"})
    with client(emulator) as c:
        with pytest.raises(httpx.TransportError):
            c.post("/v1/chat/completions", json=ask())


def test_clear_faults(emulator) -> None:
    emulator.faults({"kind": "status", "status": 500, "count": 5})
    emulator.clear_faults()
    with client(emulator) as c:
        assert c.get("/agents").status_code == 200


@pytest.mark.parametrize("fault, field", [
    ({"kind": "explode"}, "kind"),
    ({"kind": "status", "status": 200}, "status"),
    ({"kind": "status", "status": "500"}, "status"),
    ({"kind": "delay", "seconds": -1}, "seconds"),
    ({"kind": "cut", "after": 1, "colour": "red"}, "colour"),
    ({"kind": "cut", "count": 0}, "count"),
])
def test_invalid_faults_are_rejected_naming_the_field(emulator, fault: dict, field: str) -> None:
    r = emulator.admin.post("/_emulator/faults", json={"faults": [fault]})
    assert r.status_code == 400
    assert field in r.json()["error"]["message"]


def test_admin_keys_route_makes_working_keys(emulator) -> None:
    key = emulator.new_key(scopes=["agents:list"], plan="basic", credits=5)
    with httpx.Client(base_url=emulator.url, headers={"X-API-Key": key}) as c:
        agents = c.get("/agents")
        chat = c.post("/v1/chat/completions", json=ask())
    assert key.startswith("jns_live_") and len(key) == 41 and key[9:].isalnum()
    assert agents.status_code == 200 and agents.headers["x-ratelimit-limit"] == "60"
    assert chat.status_code == 403
    bad = emulator.admin.post("/_emulator/keys", json={"plan": "gold"})
    assert bad.status_code == 400 and "plan" in bad.json()["error"]["message"]


def test_stats_count_requests_by_status(make_emulator) -> None:
    server = make_emulator()
    with client(server) as c:
        c.get("/agents")
        c.get("/agents")
        c.get("/sessions/nope/status")
        httpx.get(server.url + "/agents")
    stats = server.stats()
    assert stats == {"requests": 4, "by_status": {"200": 2, "404": 1, "401": 1},
                     "max_concurrent": 1, "in_flight": 0}


def test_admin_routes_are_off_without_the_flag(make_emulator) -> None:
    server = make_emulator(admin=False)
    for method, path in [("POST", "/_emulator/faults"), ("DELETE", "/_emulator/faults"),
                         ("POST", "/_emulator/keys"), ("GET", "/_emulator/stats")]:
        r = httpx.request(method, server.url + path, json={"faults": [{"kind": "reset"}]})
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"



def test_client_leaving_mid_body_is_a_quiet_disconnect(make_emulator, caplog) -> None:
    server = make_emulator()
    host, port = server.url.removeprefix("http://").split(":")
    body = json.dumps(ask("A question whose body never fully arrives")).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {server.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with caplog.at_level(logging.DEBUG), socket.create_connection((host, int(port))) as sock:
        sock.sendall(head + body[:len(body) // 2])
        wait_for(lambda: server.stats()["in_flight"] == 1)    # the app is reading the body
    wait_for(lambda: server.stats()["in_flight"] == 0)
    assert server.stats()["by_status"] == {"disconnected": 1}
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    with client(server) as c:           # and the emulator serves the next request as usual
        assert c.post("/v1/chat/completions", json=ask()).status_code == 200


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the emulator did not get there"
        time.sleep(0.01)
