"""The bounded pool on its own, no server: cap, order, the 429 gate, bounded retries, interrupts,
per-item errors and the progress hook, for both drivers (threads and tasks).

Waits are compared on the pool's own clock (`time.monotonic`): a call the gate held back starts no
earlier than the pause it was given ends. That is an ordering the pool guarantees, not a timing
threshold.
"""
from __future__ import annotations

import _thread
import asyncio
import os
import signal
import threading
import time
from typing import Any, Callable

import pytest

from junis_jupyter.client import pool
from junis_jupyter.client.pool import UNFINISHED, Gate, run_tasks, run_threads
from junis_jupyter.errors import BadRequestError, ConfigurationError, NotFoundError, RateLimitError

WAIT = 0.2     # the server's Retry-After in these tests, seconds


def limited(wait: float | None = WAIT) -> RateLimitError:
    return RateLimitError("Too many requests.", status=429, code="rate_limit_exceeded",
                          retry_after=wait)


class Tracker:
    """Counts calls in flight (thread- and task-safe: updated without awaiting in between)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.starts: dict[int, list[float]] = {}

    def enter(self, item: int) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.starts.setdefault(item, []).append(time.monotonic())

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


def in_tasks(fn: Callable[[Any], Any], items: list[Any], **kw: Any) -> pool.Results:
    return asyncio.run(run_tasks(fn, items, **kw))


# --- cap and order ----------------------------------------------------------------------------

def test_threads_keep_order_and_never_exceed_the_cap() -> None:
    seen = Tracker()

    def work(i: int) -> int:
        seen.enter(i)
        time.sleep(0.02 if i % 3 else 0.05)       # early items finish late
        seen.leave()
        return i * 10

    done = run_threads(work, list(range(12)), concurrency=3)
    assert done.outcomes == [i * 10 for i in range(12)] and done.interrupted is None
    assert 2 <= seen.most <= 3


def test_tasks_keep_order_and_never_exceed_the_cap() -> None:
    seen = Tracker()

    async def work(i: int) -> int:
        seen.enter(i)
        await asyncio.sleep(0.02 if i % 3 else 0.05)
        seen.leave()
        return i * 10

    done = in_tasks(work, list(range(12)), concurrency=3)
    assert done.outcomes == [i * 10 for i in range(12)] and done.interrupted is None
    assert 2 <= seen.most <= 3


def test_no_items_and_a_bad_cap() -> None:
    assert run_threads(lambda i: i, [], concurrency=2).outcomes == []
    assert in_tasks(lambda i: i, [], concurrency=2).outcomes == []
    with pytest.raises(ConfigurationError, match="concurrency"):
        run_threads(lambda i: i, [1], concurrency=0)
    with pytest.raises(ConfigurationError, match="rate_limit_retries"):
        in_tasks(lambda i: i, [1], concurrency=1, rate_limit_retries=-1)


@pytest.mark.timeout(60)        # bounds the hang NaN used to cause (no worker thread ever started)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0.5, 2.5, True, "3"], ids=repr)
def test_a_cap_that_is_not_a_count_is_one_line_naming_it(bad: Any) -> None:
    for run in (run_threads, in_tasks):
        with pytest.raises(ConfigurationError) as info:
            run(lambda i: i, [1, 2], concurrency=bad)
        assert str(info.value).startswith("concurrency must be a whole number")
        with pytest.raises(ConfigurationError, match="rate_limit_retries"):
            run(lambda i: i, [1, 2], concurrency=1, rate_limit_retries=bad)


# --- the 429 gate -----------------------------------------------------------------------------

@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, threading.Event]]:
    """(when the gate was asked to pause, an Event set once it has) for every pause."""
    seen: list[tuple[float, threading.Event]] = []
    paused = threading.Event()
    original = Gate.retry

    def retry(self: Gate, exc: RateLimitError, tried: int) -> bool:
        seen.append((time.monotonic(), paused))
        again = original(self, exc, tried)
        paused.set()
        return again

    monkeypatch.setattr(Gate, "retry", retry)
    seen.append((0.0, paused))      # seen[0][1]: the Event, before any pause
    return seen


def test_threads_a_429_pauses_every_worker_then_the_item_is_retried(pauses) -> None:
    seen = Tracker()
    paused = pauses[0][1]

    def work(i: int) -> str:
        seen.enter(i)
        try:
            if i == 0 and len(seen.starts[0]) == 1:
                raise limited()
            if i == 1:
                assert paused.wait(5)       # in flight across the pause: its worker goes on next
            return f"ok {i}"
        finally:
            seen.leave()

    done = run_threads(work, [0, 1, 2, 3], concurrency=2)
    assert done.outcomes == ["ok 0", "ok 1", "ok 2", "ok 3"]
    paused_at = pauses[1][0]
    assert len(seen.starts[0]) == 2                          # tried again
    later = [seen.starts[0][1], seen.starts[2][0], seen.starts[3][0]]
    assert all(t >= paused_at + WAIT for t in later)        # nobody called before the pause ended


def test_tasks_a_429_pauses_every_worker_then_the_item_is_retried(pauses) -> None:
    seen = Tracker()
    paused = pauses[0][1]

    async def work(i: int) -> str:
        seen.enter(i)
        try:
            if i == 0 and len(seen.starts[0]) == 1:
                raise limited()
            if i == 1:
                while not paused.is_set():
                    await asyncio.sleep(0.005)
            return f"ok {i}"
        finally:
            seen.leave()

    done = in_tasks(work, [0, 1, 2, 3], concurrency=2)
    assert done.outcomes == ["ok 0", "ok 1", "ok 2", "ok 3"]
    paused_at = pauses[1][0]
    later = [seen.starts[0][1], seen.starts[2][0], seen.starts[3][0]]
    assert all(t >= paused_at + WAIT for t in later)


@pytest.mark.parametrize("driver", ["threads", "tasks"])
def test_rate_limit_retries_are_bounded(driver: str) -> None:
    calls: list[int] = []

    def sync_work(i: int) -> str:
        calls.append(i)
        if i == 0:
            raise limited(0.01)
        return "fine"

    async def async_work(i: int) -> str:
        return sync_work(i)

    run = (lambda **kw: run_threads(sync_work, [0, 1], **kw)) if driver == "threads" else \
        (lambda **kw: in_tasks(async_work, [0, 1], **kw))
    done = run(concurrency=1, rate_limit_retries=2)
    assert isinstance(done.outcomes[0], RateLimitError) and done.outcomes[1] == "fine"
    assert calls.count(0) == 3                       # the first try and two retries
    calls.clear()
    assert isinstance(run(concurrency=1, rate_limit_retries=0).outcomes[0], RateLimitError)
    assert calls.count(0) == 1
    with pytest.raises(RateLimitError):              # not caught: raised, like any error
        run(concurrency=1, rate_limit_retries=1, catch=())


def test_the_gate_waits_what_the_server_said_within_bounds() -> None:
    gate = Gate(retries=3)
    assert gate.left() == 0
    assert gate.retry(limited(0.5), 0) and 0.4 < gate.left() <= 0.5
    assert gate.retry(limited(0.1), 1) and gate.left() > 0.3         # a shorter wait never shortens it
    assert not gate.retry(limited(0.1), 3)                            # retries used up
    assert Gate().retry(limited(None), 0)                             # no Retry-After: a second
    fresh = Gate()
    fresh.retry(limited(None), 0)
    assert 0.9 < fresh.left() <= pool.DEFAULT_WAIT
    longer = Gate()                                                   # an hourly quota:
    assert not longer.retry(limited(pool.MAX_WAIT + 1), 0)            # not waited for
    assert longer.left() == 0
    assert Gate().retry(limited(pool.MAX_WAIT), 0)


# --- errors per item ----------------------------------------------------------------------------

def test_caught_errors_are_outcomes_and_others_stop_the_pool() -> None:
    def work(i: int) -> int:
        if i == 1:
            raise BadRequestError("bad", status=400)
        return i

    done = run_threads(work, [0, 1, 2], concurrency=2)
    assert done.outcomes[0] == 0 and isinstance(done.outcomes[1], BadRequestError)
    assert done.outcomes[2] == 2

    started: list[int] = []

    def failing(i: int) -> int:
        started.append(i)
        if i == 0:
            raise NotFoundError("gone", status=404)
        time.sleep(0.05)
        return i

    with pytest.raises(NotFoundError):
        run_threads(failing, list(range(20)), concurrency=1, catch=())
    assert started == [0]                              # the rest were never started

    async def bug(i: int) -> int:
        if i == 0:
            raise ZeroDivisionError
        await asyncio.sleep(10)
        return i

    with pytest.raises(ZeroDivisionError):             # not a JunisError: a bug, raised
        in_tasks(bug, [0, 1, 2], concurrency=3)


# --- interrupts ---------------------------------------------------------------------------------

def test_ctrl_c_keeps_the_finished_items_and_marks_the_rest() -> None:
    def work(i: int) -> int:
        if i == 2:
            _thread.interrupt_main()      # Ctrl-C arrives while item 2 is in flight
        elif i > 2:
            time.sleep(0.2)
        return i

    done = run_threads(work, list(range(8)), concurrency=1)
    assert isinstance(done.interrupted, KeyboardInterrupt)
    assert done.outcomes[:3] == [0, 1, 2]              # finished, including the one in flight
    assert done.outcomes[-1] is UNFINISHED
    assert all(o is UNFINISHED or o == i for i, o in enumerate(done.outcomes))


def test_ctrl_c_during_a_pause_stops_at_once() -> None:
    # A real SIGINT, as a kernel's interrupt sends: it wakes the main thread's wait (a simulated
    # one, _thread.interrupt_main, is only seen once that wait ends by itself).
    def work(i: int) -> int:
        if i == 0:
            threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
            raise limited(60)
        return i

    started = time.monotonic()
    done = run_threads(work, [0, 1, 2], concurrency=1)
    assert isinstance(done.interrupted, KeyboardInterrupt)
    assert done.outcomes == [UNFINISHED] * 3
    assert time.monotonic() - started < 60             # bounds a hang: nobody sat out the pause


def test_cancelling_keeps_the_finished_items_and_cancels_the_calls_in_flight() -> None:
    finished = asyncio.Event()
    stopped: list[int] = []

    async def work(i: int) -> int:
        if i < 2:
            return i
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            stopped.append(i)
            raise
        return i

    async def main() -> pool.Results:
        task = asyncio.ensure_future(run_tasks(
            work, list(range(6)), concurrency=2,
            progress=lambda n, total: finished.set() if n == 2 else None))
        await finished.wait()
        await asyncio.sleep(0.01)
        task.cancel()
        return await task

    done = asyncio.run(main())
    assert isinstance(done.interrupted, asyncio.CancelledError)
    assert done.outcomes[:2] == [0, 1]
    assert done.outcomes[2:] == [UNFINISHED] * 4
    assert sorted(stopped) == [2, 3]                   # the two in flight were cancelled


# --- progress -----------------------------------------------------------------------------------

def test_progress_is_told_each_finished_item_on_the_calling_thread() -> None:
    calls: list[tuple[int, int, str]] = []
    run_threads(lambda i: i, list(range(5)), concurrency=2,
                progress=lambda n, total: calls.append((n, total, threading.current_thread().name)))
    assert [(n, total) for n, total, _ in calls] == [(n, 5) for n in range(1, 6)]
    assert {name for *_, name in calls} == {threading.current_thread().name}

    told: list[tuple[int, int]] = []

    async def work(i: int) -> int:
        return i

    in_tasks(work, list(range(4)), concurrency=3, progress=lambda n, total: told.append((n, total)))
    assert told == [(n, 4) for n in range(1, 5)]


# --- pacing -------------------------------------------------------------------------------------

class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def headers(remaining: int, reset: float, limit: int = 10) -> Any:
    from junis_jupyter.client.types import RateLimitInfo
    return RateLimitInfo(limit=limit, remaining=remaining, reset=reset)


def test_the_pacer_lets_a_batch_that_fits_go_at_once_and_spreads_one_that_does_not() -> None:
    clock = Clock()
    pacer = pool.Pacer(clock)
    assert pacer.reserve(100)[0]                     # nothing seen yet: no pacing
    pacer.seen(headers(remaining=9, reset=1010.0), seq=0)
    assert all(pacer.reserve(9 - k)[0] for k in range(5))    # 5 calls, 8 left: fits, at once
    pacer = pool.Pacer(clock)
    pacer.seen(headers(remaining=5, reset=1010.0))
    starts = []
    while len(starts) < 5:                           # 20 calls, 5 left in 10 s: 2 s apart
        granted, wait, _ = pacer.reserve(20 - len(starts))
        if granted:
            starts.append(clock.now)
        else:
            assert 0 < wait <= pool.RECHECK
            clock.now += wait
    assert [round(t - 1000, 3) for t in starts] == [0, 2, 4, 6, 8]
    granted, wait, _ = pacer.reserve(15)             # the window is spent: wait for its reset
    assert not granted and wait <= pool.RECHECK
    clock.now = 1010.0                               # a new window, no response yet: limit/minute
    assert pacer.reserve(15)[0] and pacer.left == 9
    assert not pacer.reserve(14)[0]


def test_the_pacer_counts_calls_in_flight_and_ignores_an_older_window() -> None:
    clock = Clock()
    pacer = pool.Pacer(clock)
    seqs = [pacer.reserve(1)[2] for _ in range(4)]   # 4 calls start before any response
    assert seqs == [0, 1, 2, 3]
    pacer.seen(headers(remaining=6, reset=1060.0), seq=0)   # 3 started after it: maybe uncounted
    assert pacer.left == 3
    pacer.seen(headers(remaining=9, reset=1060.0), seq=3)   # a higher figure never raises it
    assert pacer.left == 3
    pacer.seen(headers(remaining=50, reset=1120.0), seq=3)  # a newer window replaces it
    assert (pacer.left, pacer.reset) == (50, 1120.0)
    pacer.seen(headers(remaining=1, reset=1060.0), seq=2)   # late news of the old one: ignored
    assert pacer.left == 50
    pacer.seen(None)
    pacer.seen(headers(remaining=None, reset=None))         # no headers: nothing changes
    assert pacer.left == 50


class Answer:
    def __init__(self, remaining: int, reset: float) -> None:
        self.rate_limit = headers(remaining, reset, limit=4)


def test_both_drivers_pace_from_the_outcomes_headers(monkeypatch) -> None:
    # 4 calls a 1-second window, 10 items: the pool must spread them, never more than 4 a window
    def fake(window: list[float], lock: threading.Lock) -> Callable[[int], Answer]:
        def call(i: int) -> Answer:
            with lock:
                now = time.time()
                if not window or now >= window[0] + 1.0:
                    window[:] = [now, 0]
                window[1] += 1
                assert window[1] <= 4, "the window was overspent"
                return Answer(4 - int(window[1]), window[0] + 1.0)
        return call

    monkeypatch.setattr(pool, "WINDOW", 1.0)
    call = fake([], threading.Lock())
    done = run_threads(call, list(range(10)), concurrency=3, catch=())
    assert all(isinstance(o, Answer) for o in done.outcomes)

    acall = fake([], threading.Lock())

    async def work(i: int) -> Answer:
        return acall(i)
    done = in_tasks(work, list(range(10)), concurrency=3, catch=())
    assert all(isinstance(o, Answer) for o in done.outcomes)


def test_on_outcome_and_a_callers_stop() -> None:
    seen: list[tuple[int, Any]] = []
    stop = threading.Event()

    def work(i: int) -> int:
        if i == 1:
            stop.set()
        return i

    done = run_threads(work, list(range(6)), concurrency=1, stop=stop,
                       on_outcome=lambda i, o: seen.append((i, o)))
    assert isinstance(done.interrupted, pool.Stopped)
    assert done.outcomes[:2] == [0, 1] and done.outcomes[2:] == [UNFINISHED] * 4
    assert seen == [(0, 0), (1, 1)]                  # unfinished items are not reported
