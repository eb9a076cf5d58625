"""The process-wide request limiter: threads and coroutines share one cap, waits are FIFO, a
loop is never blocked, cancelled waiters give nothing away, a hopeless wait says so."""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Iterator

import pytest

from junis_jupyter.client import limiter
from junis_jupyter.client.aio import AsyncJunisClient
from junis_jupyter.client.limiter import Limiter, LimitBusy
from junis_jupyter.client.sync import JunisClient
from junis_jupyter.errors import ConfigurationError


@pytest.fixture
def installed() -> Iterator[Limiter]:
    limiter.uninstall()
    yield limiter.install(2)
    limiter.uninstall()


def test_threads_never_hold_more_than_the_limit() -> None:
    lim = Limiter(2)
    gate = threading.Barrier(2)
    order: list[int] = []

    def work(i: int) -> None:
        slot = lim.acquire()
        order.append(lim.in_flight)
        if i < 2:
            gate.wait()            # the first two hold their slots together
        slot.release()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert lim.peak == 2 and max(order) <= 2 and lim.in_flight == 0


def test_coroutines_wait_without_blocking_the_loop_and_in_order() -> None:
    lim = Limiter(1)
    got: list[str] = []

    async def main() -> None:
        first = await lim.acquire_async()

        async def later(name: str) -> None:
            slot = await lim.acquire_async()
            got.append(name)
            slot.release()

        tasks = [asyncio.ensure_future(later(n)) for n in "abc"]
        await asyncio.sleep(0)
        ticks = 0
        for _ in range(5):         # the loop runs on while they wait
            await asyncio.sleep(0)
            ticks += 1
        assert ticks == 5 and got == [] and lim.waiting == 3
        first.release()
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert got == ["a", "b", "c"] and lim.in_flight == 0 and lim.peak == 1


def test_a_thread_release_wakes_a_coroutine_and_back() -> None:
    lim = Limiter(1)
    held = lim.acquire()

    async def main() -> None:
        threading.Timer(0.05, held.release).start()
        slot = await lim.acquire_async()
        done = threading.Event()

        def thread() -> None:
            lim.acquire().release()
            done.set()

        t = threading.Thread(target=thread)
        t.start()
        await asyncio.sleep(0.05)
        assert not done.is_set()
        slot.release()
        await asyncio.get_running_loop().run_in_executor(None, t.join)
        assert done.is_set()

    asyncio.run(main())
    assert lim.in_flight == 0


def test_a_cancelled_waiter_takes_no_slot() -> None:
    lim = Limiter(1)

    async def main() -> None:
        held = await lim.acquire_async()
        waiter = asyncio.ensure_future(lim.acquire_async())
        await asyncio.sleep(0)
        waiter.cancel()
        held.release()              # granted to the cancelled waiter? it gives it back
        await asyncio.sleep(0)
        assert waiter.cancelled()
        again = await lim.acquire_async()
        again.release()

    asyncio.run(main())
    assert lim.in_flight == 0 and lim.waiting == 0


def test_raising_the_limit_lets_waiters_go() -> None:
    lim = Limiter(1)

    async def main() -> None:
        held = await lim.acquire_async()
        waiter = asyncio.ensure_future(lim.acquire_async())
        await asyncio.sleep(0)
        lim.limit = 2
        slot = await waiter
        assert lim.in_flight == 2
        slot.release()
        held.release()

    asyncio.run(main())


def test_sync_code_on_a_loop_cannot_wait_for_that_loops_tasks() -> None:
    lim = Limiter(1)

    async def main() -> None:
        held = await lim.acquire_async()
        with pytest.raises(LimitBusy, match="%junis wait"):
            lim.acquire()           # a sync cell while a background task holds the slot
        held.release()

    asyncio.run(main())
    assert lim.waiting == 0


def test_a_thread_waiting_on_a_blocked_loop_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limiter, "PROBE_S", 0.05)
    lim = Limiter(1)
    outcome: list[BaseException] = []

    async def main() -> None:
        held = await lim.acquire_async()

        def worker() -> None:
            try:
                lim.acquire()
            except LimitBusy as exc:
                outcome.append(exc)

        t = threading.Thread(target=worker)
        t.start()
        t.join()                    # the loop is blocked: its task can never give the slot back
        held.release()

    asyncio.run(main())
    assert outcome and lim.waiting == 0 and lim.in_flight == 0


def test_limits_are_checked() -> None:
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ConfigurationError):
            Limiter(bad)        # type: ignore[arg-type]


def test_clients_take_a_slot_per_request_and_give_it_back(installed: Limiter,
                                                          emulator: Any) -> None:
    with JunisClient(api_key=emulator.key, base_url=emulator.url) as client:
        client.chat("[[echo]] Hello")
        with client.stream("[[chunks=5]] [[echo]] a b c d e f") as stream:
            next(iter(stream))
            assert installed.in_flight == 1      # a stream holds its slot while it is read
        assert installed.in_flight == 0
        client.agents()
    assert installed.in_flight == 0

    async def main() -> None:
        async with AsyncJunisClient(api_key=emulator.key, base_url=emulator.url) as client:
            async with client.stream("[[chunks=5]] [[echo]] a b c d e f") as stream:
                async for _ in stream:
                    assert installed.in_flight == 1
            assert installed.in_flight == 0
            results = await asyncio.gather(*(client.chat(f"[[delay=0.05]] [[chunks=4]] [[echo]] n{i} a b")
                                             for i in range(5)))
            assert len(results) == 5

    asyncio.run(main())
    assert installed.in_flight == 0 and installed.peak == 2


def test_a_plain_script_is_not_capped(emulator: Any) -> None:
    limiter.uninstall()
    with JunisClient(api_key=emulator.key, base_url=emulator.url) as client:
        assert client.chat("[[echo]] Hello").text
    assert limiter.current() is None


# --- a client is handed its limiter when it is made --------------------------------------------

def _ask_together(client: AsyncJunisClient, n: int = 4) -> None:
    """`n` chats at once, each answered after a short server-side delay (so they overlap)."""
    async def main() -> None:
        async with client:
            results = await asyncio.gather(*(client.chat(f"[[delay=0.05]] [[echo]] n{i}")
                                             for i in range(n)))
            assert [r.text for r in results] == [f"n{i}" for i in range(n)]

    asyncio.run(main())


def test_a_client_made_with_its_own_limiter_is_capped_by_it(installed: Limiter,
                                                            emulator: Any) -> None:
    own = Limiter(1)
    _ask_together(AsyncJunisClient(emulator.key, emulator.url, limiter=own))
    assert own.peak == 1 and own.in_flight == 0
    assert installed.peak == 0                      # the installed one was never consulted
    limiter.uninstall()                             # and with none installed, still capped
    with JunisClient(emulator.key, emulator.url, limiter=own) as client:
        client.chat("[[echo]] alone")
    _ask_together(AsyncJunisClient(emulator.key, emulator.url, limiter=own))
    assert own.peak == 1 and own.in_flight == 0


def test_a_client_keeps_the_limiter_installed_when_it_was_made(installed: Limiter,
                                                               emulator: Any) -> None:
    capped = AsyncJunisClient(emulator.key, emulator.url)
    assert capped.limiter is installed
    limiter.uninstall()
    uncapped = AsyncJunisClient(emulator.key, emulator.url)
    later = limiter.install(1)
    _ask_together(capped)
    assert installed.peak == 2 and later.peak == 0  # the limiter it was made under, limit 2
    _ask_together(uncapped)
    assert uncapped.limiter is None and later.peak == 0
    _ask_together(AsyncJunisClient(emulator.key, emulator.url, limiter=None))
    assert later.peak == 0                          # None: uncapped, whatever is installed


def test_to_async_keeps_the_limiter(emulator: Any) -> None:
    own = Limiter(1)
    with JunisClient(emulator.key, emulator.url, limiter=own) as client:
        twin = client.to_async()
    assert twin.limiter is own
    _ask_together(twin)
    assert own.peak == 1 and own.in_flight == 0


def test_a_limiter_that_is_not_one_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="limiter must be"):
        JunisClient("jns_live_" + "a" * 32, "http://127.0.0.1:9",
                    limiter=5)   # type: ignore[arg-type]
