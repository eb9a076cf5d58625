"""AsyncJunisClient against the emulator: the same calls awaited, streams for `async for`, task
cancellation, retries, and `map` (order, bounded concurrency, per-item errors)."""
from __future__ import annotations

import asyncio
import gc
import time
from typing import Any, Awaitable, Callable, TypeVar

import pytest

from junis_jupyter.client import AsyncJunisClient, CallRecord, ChatResult, aio
from junis_jupyter.errors import (AgentNotFoundError, APIError, BadRequestError,
                                  ConfigurationError, NotFoundError, PermissionDeniedError,
                                  ServerError, StreamError)

T = TypeVar("T")


def run(coro_fn: Callable[[AsyncJunisClient], Awaitable[T]], emulator: Any,
        records: list[CallRecord] | None = None, **kw: Any) -> T:
    """Run `coro_fn(client)` on a fresh event loop with a fresh client."""
    async def main() -> T:
        async with AsyncJunisClient(kw.pop("key", emulator.key), emulator.url,
                                    observers=[records.append] if records is not None else None,
                                    **kw) as client:
            return await coro_fn(client)
    return asyncio.run(main())


async def wait_until_async(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll a server-side condition (the timeout only bounds a hang; nothing is timed)."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(aio, "_sleep", record)
    return waits


SLOW = "Slow answer [[chunks=40]] [[delay=0.25]]"      # ten seconds if nobody stops it


def test_every_endpoint(emulator: Any) -> None:
    records: list[CallRecord] = []

    async def scenario(c: AsyncJunisClient) -> None:
        first = await c.chat("Remember seven")
        assert first.session_id and first.usage.total_tokens > 0 and first.rate_limit.limit
        parts = []
        async with c.stream("And then? [[chunks=6]]", session_id=first.session_id) as stream:
            async for chunk in stream:
                parts.append(chunk.text)
        assert "".join(parts) == stream.text == stream.result.text
        assert stream.session_id == first.session_id and stream.usage.total_tokens > 0
        history = await c.messages(first.session_id, page_size=3)
        assert [m.position for m in history] == [0, 1, 2, 3]
        assert history[-1].content == stream.text
        assert first.session_id in {s.session_id for s in await c.sessions(page_size=5)}
        assert (await c.session_status(first.session_id)).status == "idle"
        agents = await c.agents()
        assert "Writer" in {a.name for a in agents}
        assert (await c.resolve_agent("writer")).name == "Writer"
        assert (await c.chat("Draft", agent="Writer")).agent == "Writer"
        with pytest.raises(AgentNotFoundError, match="Writer"):
            await c.chat("x", agent="Ghost")
        assert c.rate_limit is not None

    run(scenario, emulator, records)
    assert [r.endpoint for r in records[:2]] == ["chat", "chat"] and records[1].stream


def test_errors_map_the_same_way(emulator: Any) -> None:
    async def scenario(c: AsyncJunisClient) -> None:
        with pytest.raises(NotFoundError) as info:
            await c.session_status("missing")
        assert info.value.code == "session_not_found" and info.value.request_id
        with pytest.raises(BadRequestError, match="only LLM_AGENT"):
            await c.chat("x", agent="Fanout")

    run(scenario, emulator)
    key = emulator.new_key(scopes=["orchestrator:invoke"])

    async def no_stream_scope(c: AsyncJunisClient) -> None:
        with pytest.raises(PermissionDeniedError, match="orchestrator:stream"):
            async for _ in c.stream("x"):
                pass

    run(no_stream_scope, emulator, key=key)


def test_retries_with_backoff_then_gives_up(emulator: Any, sleeps: list[float]) -> None:
    records: list[CallRecord] = []
    emulator.faults({"kind": "status", "status": 503, "retry_after": 2},
                    {"kind": "reset"})
    assert run(lambda c: c.agents(), emulator, records)
    assert sleeps[0] == 2.0 and len(sleeps) == 2 and records[-1].attempts == 3
    emulator.faults({"kind": "status", "status": 500, "count": 3})
    with pytest.raises(ServerError):
        run(lambda c: c.agents(), emulator, records)
    assert records[-1].attempts == 3 and records[-1].error_code == "server_error"


def test_broken_stream_keeps_partial_text(emulator: Any) -> None:
    emulator.faults({"kind": "cut", "after": 2, "abrupt": True})

    async def scenario(c: AsyncJunisClient) -> tuple[list[str], StreamError]:
        seen: list[str] = []
        try:
            async for chunk in c.stream("cut me [[chunks=8]]"):
                seen.append(chunk.text)
        except StreamError as err:
            return seen, err
        raise AssertionError("no StreamError")

    seen, err = run(scenario, emulator)
    assert err.partial_text == "".join(seen) and len([s for s in seen if s]) == 2


def test_cancelling_the_task_closes_the_connection(emulator: Any) -> None:
    records: list[CallRecord] = []

    async def scenario(c: AsyncJunisClient) -> None:
        stream = c.stream(SLOW)
        first = asyncio.Event()

        async def consume() -> None:
            async with stream:
                async for chunk in stream:
                    if chunk.text:
                        first.set()

        task = asyncio.create_task(consume())
        await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await wait_until_async(lambda: emulator.stats()["in_flight"] == 0)
        assert stream.result.interrupted and stream.result.text == stream.text != ""
        stored = (await c.messages(stream.session_id))[-1]
        assert stored.content.startswith(stream.text) and len(stored.content) < 2000

    run(scenario, emulator, records)
    assert records[0].error_code == "interrupted" and records[0].stream


def test_an_error_in_the_loop_without_async_with_closes_the_connection(emulator: Any) -> None:
    records: list[CallRecord] = []

    async def scenario(c: AsyncJunisClient) -> None:
        with pytest.raises(ZeroDivisionError):
            async for chunk in c.stream(SLOW):
                if chunk.text:
                    1 / 0
        assert await wait_until_async(lambda: emulator.stats()["in_flight"] == 0)

    gc.disable()     # closed when the loop lets go of the stream, not when the collector runs
    try:
        run(scenario, emulator, records)
    finally:
        gc.enable()
    assert records[0].error_code == "interrupted"


def test_cancelling_without_async_with_also_closes(emulator: Any) -> None:
    async def scenario(c: AsyncJunisClient) -> None:
        stream = c.stream(SLOW)

        async def consume() -> None:
            async for _ in stream:
                pass

        task = asyncio.create_task(consume())
        while not stream.text:
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await wait_until_async(lambda: emulator.stats()["in_flight"] == 0)
        assert stream.result.interrupted

    run(scenario, emulator)


def test_aclose_from_another_task_stops_the_stream(emulator: Any) -> None:
    async def scenario(c: AsyncJunisClient) -> list[str]:
        stream = c.stream(SLOW)
        seen: list[str] = []

        async def consume() -> None:
            async for chunk in stream:
                seen.append(chunk.text)

        task = asyncio.create_task(consume())
        while not stream.text:
            await asyncio.sleep(0.02)
        await stream.aclose()                  # the panel's Stop button
        await asyncio.wait_for(task, 5)        # the loop ends quietly
        assert await wait_until_async(lambda: emulator.stats()["in_flight"] == 0)
        assert stream.result.interrupted and stream.result.text.startswith("".join(seen))
        return seen

    assert run(scenario, emulator)


def test_map_keeps_order_and_reports_errors_per_item(emulator: Any) -> None:
    prompts: list[Any] = [f"[[echo]] item {n}" for n in range(7)]
    prompts[3] = {"prompt": "bad", "agent": "Pipeline"}
    prompts[5] = {"prompt": "bad", "session_id": "no-such-session"}
    results = run(lambda c: c.map(prompts, concurrency=3), emulator)
    assert len(results) == 7
    for n, result in enumerate(results):
        if n == 3:
            assert isinstance(result, BadRequestError) and result.code == "agent_not_invocable"
        elif n == 5:
            assert isinstance(result, NotFoundError) and result.code == "session_not_found"
        else:
            assert isinstance(result, ChatResult) and result.text == f"item {n}"


def test_map_holds_a_prompt_that_is_not_unicode_as_that_items_error(emulator: Any) -> None:
    undecodable = b"caf\xe9".decode("utf-8", "surrogateescape")
    before = emulator.stats()["requests"]
    results = run(lambda c: c.map(["[[echo]] one", undecodable, "[[echo]] three"]), emulator)
    assert isinstance(results[1], ConfigurationError) and "not valid Unicode" in str(results[1])
    assert [r.text for r in results[::2]] == ["one", "three"]           # type: ignore[union-attr]
    assert emulator.stats()["requests"] - before == 2                      # the bad one never left


def test_a_whole_answer_over_max_response_bytes_is_refused(emulator: Any) -> None:
    async def scenario(c: AsyncJunisClient) -> tuple[Any, Any]:
        with pytest.raises(APIError) as info:
            await c.chat("Too long [[size=20000]]")
        return info.value, await c.chat("Fits [[size=2000]]")

    err, fine = run(scenario, emulator, max_response_bytes=8192)
    assert (err.status, err.code) == (200, "response_too_large") and "too large" in str(err)
    assert len(fine.text) == 2000


def test_map_runs_at_most_concurrency_requests_at_once(make_emulator: Any) -> None:
    server = make_emulator()
    prompts = [f"slowish {n} [[chunks=4]] [[delay=0.05]]" for n in range(8)]
    results = run(lambda c: c.map(prompts, agent="Research", concurrency=3), server)
    assert all(isinstance(r, ChatResult) and r.agent == "Research" for r in results)
    stats = server.stats()
    assert stats["max_concurrent"] <= 3            # never more than asked
    assert stats["max_concurrent"] >= 2            # and really concurrent


def test_map_with_an_unknown_agent_fails_every_item_once(emulator: Any) -> None:
    results = run(lambda c: c.map(["a", "b"], agent="Ghost"), emulator)
    assert all(isinstance(r, AgentNotFoundError) for r in results)


def test_to_async_shares_settings_and_observers(emulator: Any) -> None:
    from junis_jupyter.client import JunisClient
    seen: list[CallRecord] = []
    with JunisClient(emulator.key, emulator.url, max_retries=4, observers=[seen.append]) as sync_c:
        twin = sync_c.to_async()
        assert repr(twin) == repr(sync_c).replace("JunisClient", "AsyncJunisClient")

        async def use() -> str:
            async with twin:
                return (await twin.chat("[[echo]] twin")).text

        assert asyncio.run(use()) == "twin"
        assert [r.endpoint for r in seen] == ["chat"]
        assert twin._core.policy.max_retries == 4
        assert sync_c.chat("[[echo]] still open").text == "still open"   # its own connections
