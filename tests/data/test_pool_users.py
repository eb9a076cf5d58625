"""The pool's three users against the emulator: `AsyncJunisClient.map`, `frames.messages` (and
`ask_many`, in test_batch.py) ride out rate limits beyond the client's own retries and never have
more calls in flight than asked."""
from __future__ import annotations

import asyncio
from typing import Any

from junis_jupyter import frames
from junis_jupyter.client import AsyncJunisClient, JunisClient
from junis_jupyter.errors import RateLimitError


def rate_limits(server: Any, count: int, path: str, wait: float = 0.1) -> None:
    # `count` 429s: the client's own 3 attempts fail count // 3 times over
    server.faults({"kind": "status", "status": 429, "code": "rate_limit_exceeded",
                   "retry_after": wait, "count": count, "path": path})


def run_map(server: Any, prompts: list[str], **kw: Any) -> list[Any]:
    async def main() -> list[Any]:
        async with AsyncJunisClient(server.key, server.url) as c:
            return await c.map(prompts, **kw)
    return asyncio.run(main())


def test_map_rides_out_rate_limits_beyond_the_clients_own_retries(emulator) -> None:
    rate_limits(emulator, 6, "/v1/chat")
    results = run_map(emulator, ["[[echo]] first", "[[echo]] second"], concurrency=1)
    assert [r.text for r in results] == ["first", "second"]      # not a RateLimitError


def test_map_stays_within_its_cap_while_riding_out_rate_limits(make_emulator) -> None:
    server = make_emulator(rpm=1_000_000)
    rate_limits(server, 9, "/v1/chat")
    prompts = [f"[[echo]] [[chunks=4]] [[delay=0.05]] item {n}" for n in range(8)]
    results = run_map(server, prompts, concurrency=3)
    assert [r.text for r in results] == [f"item {n}" for n in range(8)]
    stats = server.stats()
    assert stats["by_status"].get("429", stats["by_status"].get(429, 0)) == 9
    assert stats["max_concurrent"] <= 3


def test_map_gives_a_persistent_rate_limit_to_that_item(make_emulator) -> None:
    server = make_emulator(rpm=1_000_000)
    rate_limits(server, 1_000, "/v1/chat", wait=0.01)      # never clears within the pool's retries
    results = run_map(server, ["[[echo]] only"], concurrency=1)
    assert isinstance(results[0], RateLimitError)
    server.clear_faults()


def test_cancelling_map_cancels_its_calls(make_emulator) -> None:
    server = make_emulator(rpm=1_000_000, token_delay=0.02)

    async def main() -> bool:
        async with AsyncJunisClient(server.key, server.url) as c:
            task = asyncio.ensure_future(c.map(["[[chunks=50]] long"] * 4, concurrency=2))
            while server.stats()["in_flight"] < 2:
                await asyncio.sleep(0.02)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                return True
            return False

    assert asyncio.run(main())                    # cancellation is raised, not swallowed


def test_messages_ride_out_rate_limits_beyond_the_clients_own_retries(make_emulator) -> None:
    server = make_emulator(rpm=1_000_000)
    with JunisClient(server.key, server.url) as c:
        ids = [c.chat(f"[[echo]] s{i}").session_id for i in range(3)]
        rate_limits(server, 6, "/sessions/")
        df = frames.messages(c, ids, concurrency=1, progress=False)
    assert df["content"].tolist() == [x for i in range(3) for x in (f"[[echo]] s{i}", f"s{i}")]


def test_messages_stay_within_the_cap_while_riding_out_rate_limits(make_emulator) -> None:
    server = make_emulator(rpm=1_000_000)
    with JunisClient(server.key, server.url) as c:
        ids = [c.chat(f"[[echo]] s{i}").session_id for i in range(8)]
        rate_limits(server, 9, "/sessions/")
        server.faults({"kind": "delay", "seconds": 0.05, "path": "/sessions/", "count": 8})
        df = frames.messages(c, ids, concurrency=3, progress=False)
    assert df["content"].tolist() == [x for i in range(8) for x in (f"[[echo]] s{i}", f"s{i}")]
    stats = server.stats()
    assert stats["by_status"].get("429", stats["by_status"].get(429, 0)) == 9
    assert stats["max_concurrent"] <= 3
