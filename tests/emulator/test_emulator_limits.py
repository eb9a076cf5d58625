"""Per-key enforcement: requests per minute, concurrent requests, credits."""
from __future__ import annotations

import time

import httpx

from junis_jupyter.emulator.tokens import count_tokens


def client(server, key: str | None = None) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-API-Key": key or server.key}, timeout=10)


def chat(c: httpx.Client, text: str, **extra) -> httpx.Response:
    return c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": text}], **extra})


def test_plan_limits_show_in_headers(make_emulator) -> None:
    basic, pro = make_emulator(plan="basic"), make_emulator(plan="pro")
    with client(basic) as b, client(pro) as p:
        assert b.get("/agents").headers["x-ratelimit-limit"] == "60"
        assert p.get("/agents").headers["x-ratelimit-limit"] == "300"


def test_requests_per_minute_are_enforced_with_retry_after(make_emulator) -> None:
    server = make_emulator(rpm=3)
    with client(server) as c:
        remaining = [c.get("/agents").headers["x-ratelimit-remaining"] for _ in range(3)]
        limited = c.get("/agents")
        limited_chat = chat(c, "x")
    assert remaining == ["2", "1", "0"]
    for r in (limited, limited_chat):
        assert r.status_code == 429
        error = r.json()["error"]
        assert error["code"] == "rate_limit_exceeded" and error["type"] == "rate_limit_error"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert r.headers["x-ratelimit-limit"] == "3" and r.headers["x-ratelimit-remaining"] == "0"
    # another key of the same organisation has its own window
    with client(server, server.new_key(rpm=3)) as other:
        assert other.get("/agents").status_code == 200


def test_basic_plan_allows_sixty_requests_a_minute(make_emulator) -> None:
    server = make_emulator(plan="basic")
    with client(server) as c:
        statuses = [c.get("/agents").status_code for _ in range(61)]
    assert statuses[:60] == [200] * 60 and statuses[60] == 429


def test_concurrent_requests_are_capped_and_streams_count_until_they_end(make_emulator) -> None:
    server = make_emulator(concurrency=2)
    slow = {"stream": True, "messages": [{"role": "user", "content": "[[chunks=3]] [[delay=0.3]]"}]}
    with client(server) as a, client(server) as b, client(server) as c:
        with a.stream("POST", "/v1/chat/completions", json=slow) as first, \
                b.stream("POST", "/v1/chat/completions", json=slow) as second:
            assert first.status_code == second.status_code == 200
            refused = c.get("/agents")
            for _ in first.iter_lines():          # the first stream runs to its end...
                pass
            admitted = c.get("/agents")           # ...which frees its slot
            for _ in second.iter_lines():
                pass
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert "concurrent" in refused.json()["error"]["message"]
    assert int(refused.headers["retry-after"]) >= 1
    assert admitted.status_code == 200
    assert server.stats()["max_concurrent"] == 3     # two streams and the refused request


def test_a_client_that_disconnects_frees_its_slot(make_emulator) -> None:
    server = make_emulator(concurrency=1)
    slow = {"stream": True, "messages": [{"role": "user", "content": "[[chunks=50]] [[delay=5]]"}]}
    with client(server) as a:
        with a.stream("POST", "/v1/chat/completions", json=slow) as response:
            next(response.iter_lines())
    # the server notices the closed connection and ends the stream; poll (no timing asserted)
    for _ in range(500):
        if server.stats()["in_flight"] == 0:
            break
        time.sleep(0.01)
    with client(server) as b:
        assert b.get("/agents").status_code == 200


def test_credits_are_checked_before_any_work(make_emulator) -> None:
    server = make_emulator(credits=0)
    with client(server) as c:
        refused = chat(c, "hello")
        sessions = c.get("/sessions").json()
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "insufficient_credits" and error["type"] == "billing_error"
    assert sessions["total"] == 0          # no session was created


def test_credits_cost_one_per_started_thousand_tokens(make_emulator) -> None:
    words = "x " * 1200
    prompt = f"[[echo]] {words}"
    total = count_tokens(prompt) + count_tokens(words.strip())
    assert 2000 < total <= 3000                       # so this call costs 3 credits
    exact = make_emulator(credits=3)
    spare = make_emulator(credits=4)
    with client(exact) as c:
        r = chat(c, prompt)
        assert r.json()["usage"]["total_tokens"] == total
        assert chat(c, "small").status_code == 402
    with client(spare) as c:
        assert chat(c, prompt).status_code == 200
        assert chat(c, "small").status_code == 200    # 1 credit left, a small call costs 1
        assert chat(c, "small").status_code == 402


def test_a_prompt_too_large_for_the_credits_left_is_refused(make_emulator) -> None:
    server = make_emulator(credits=1)
    with client(server) as c:
        r = chat(c, "word " * 1500)                   # the prompt alone needs 2 credits
    assert r.status_code == 402


def test_a_key_without_subscription_is_refused(emulator) -> None:
    key = emulator.new_key(plan="none")
    with client(emulator, key) as c:
        responses = [c.get("/agents"), chat(c, "x"), c.get("/sessions")]
    for r in responses:
        assert r.status_code == 403
        error = r.json()["error"]
        assert error["code"] == "subscription_required" and error["type"] == "permission_error"
        assert "x-ratelimit-limit" in r.headers


def test_exactly_the_concurrency_cap_is_admitted_from_a_burst(make_emulator) -> None:
    import asyncio
    from contextlib import AsyncExitStack

    server = make_emulator(concurrency=20)
    body = {"stream": True, "messages": [{"role": "user", "content": "[[chunks=2]] [[delay=30]]"}]}

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": server.key},
                                     limits=httpx.Limits(max_connections=None), timeout=30) as c:
            async with AsyncExitStack() as stack:
                async def open_one() -> int:
                    response = await stack.enter_async_context(
                        c.stream("POST", "/v1/chat/completions", json=body))
                    return response.status_code
                return list(await asyncio.gather(*(open_one() for _ in range(25))))
            # leaving the stack closes every stream: the server frees the slots

    statuses = asyncio.run(burst())
    assert sorted(statuses) == [200] * 20 + [429] * 5
    for _ in range(500):
        if server.stats()["in_flight"] == 0:
            break
        time.sleep(0.01)
    with client(server) as c:
        assert c.get("/agents").status_code == 200
