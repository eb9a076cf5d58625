"""One bounded pool for many calls: a concurrency cap, a shared 429 gate, interrupts, progress.

`AsyncJunisClient.map` (tasks), `ask_many` and `frames.messages` (threads over the blocking
client) all run here. It lives in the client floor because `map` is a client method and the
client may not import `data/`; progress is a hook (`progress(finished, total)`) rather than a
tqdm bar so that the client stays free of tqdm and widgets (`data/progress.py` makes the bar).

The gate is the shared core: when one worker's call is rate limited past the client's own
retries, every worker waits until the server's `Retry-After` has passed before its next call,
and that item is tried again, at most `rate_limit_retries` times. The two drivers only do the
waiting (an Event in threads, `asyncio.sleep` in tasks), as the client's sync and async drivers
do over one core.

An outcome is the call's result, an exception of a `catch` type (that item's error; the others
carry on), or `UNFINISHED`. Any other exception stops the pool and is raised. An interrupt
(KeyboardInterrupt, or the task's cancellation) stops the rest and is returned as
`Results.interrupted` with every finished outcome kept; the caller re-raises it or reports it.
Threads cannot be cancelled mid-call, so calls in flight finish first; tasks are cancelled.
`run_threads(stop=Event)` lets another thread (a background job) stop the pool the same way: the
outcomes come back with `Results.interrupted` a `Stopped`.

Pacing is the other half of the shared core: every outcome's rate-limit headers (its
`rate_limit`, a `RateLimitInfo`: limit, remaining, reset) feed one `Pacer`, and every call asks it
for a start time first. While the calls still to make fit in what is left of the key's window,
they go at once; when they do not, the window's remaining calls are spread evenly until its reset
(and, in a window no response has described yet, at `limit` per minute), so a batch larger than
the window never spends it at once and meets 429s. Calls in flight are counted against the
estimate (a response's `remaining` does not know of the calls started after it). 429s that come
anyway are ridden out by the gate as before.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from ..errors import JunisError, RateLimitError
from ._checks import whole_number

__all__ = ["Gate", "Pacer", "Results", "Stopped", "UNFINISHED", "run_threads", "run_tasks",
           "check_concurrency", "outcome_rate_limit"]

T = TypeVar("T")
Item = TypeVar("Item")
Progress = Callable[[int, int], None]
OnOutcome = Callable[[int, Any], None]      # (index, outcome), as each item finishes
Observe = Callable[[Any], object]           # outcome -> its RateLimitInfo, or None

DEFAULT_WAIT = 1.0      # seconds, when a 429 names no wait
MAX_WAIT = 120.0
RATE_LIMIT_RETRIES = 8
WINDOW = 60.0           # seconds: the window X-RateLimit-Limit counts (requests per minute)
RECHECK = 0.5           # seconds: the longest a paced worker sleeps before asking again

_sleep = asyncio.sleep  # a module attribute, so tests can watch the waits


class _Unfinished:
    def __repr__(self) -> str:
        return "UNFINISHED"


UNFINISHED: Final = _Unfinished()
"""The outcome of an item the pool was stopped before it finished."""


class Gate:
    """The pause every worker honours, and how many times a rate-limited item is tried again."""

    def __init__(self, retries: int = RATE_LIMIT_RETRIES) -> None:
        self.retries = retries
        self._lock = threading.Lock()
        self._resume_at = 0.0

    def left(self) -> float:
        """Seconds until workers may call again (0 when there is no pause)."""
        return max(0.0, self._resume_at - time.monotonic())

    def retry(self, exc: RateLimitError, tried: int) -> bool:
        """An item was rate limited after `tried` retries: pause every worker for the server's
        wait (`Retry-After`, as the error carries it) and say yes, or say no if the item has used
        its retries or the wait is longer than MAX_WAIT (an hourly quota: waiting it out would
        stall the notebook for many minutes and then, most likely, fail the same way)."""
        wait = exc.retry_after if exc.retry_after is not None and exc.retry_after > 0 \
            else DEFAULT_WAIT
        if tried >= self.retries or wait > MAX_WAIT:
            return False
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + wait)
        return True


def outcome_rate_limit(outcome: object) -> object:
    """The default `observe`: the `rate_limit` a result (or an exception) carries, if any."""
    return getattr(outcome, "rate_limit", None)


class Pacer:
    """When each call may start, from the rate-limit headers seen so far (see the module's doc).

    `reserve(pending)` is asked before every call, `pending` being the calls the pool still has
    to make, this one included; `seen(info, seq)` is told each response's headers, `seq` being
    the number `reserve` gave that call. Thread-safe; the clock is wall time (Unix seconds),
    because `X-RateLimit-Reset` is.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.limit: int | None = None
        self.left: int | None = None       # calls the window still allows, in-flight ones taken
        self.reset: float | None = None    # when that window ends
        self._floor = 0.0                  # the reset of the last window a response described
        self._assumed = False              # the window after a reset no response has described
        self._started = 0
        self._next_at = 0.0

    def seen(self, info: object, seq: int | None = None) -> None:
        remaining = getattr(info, "remaining", None)
        reset = getattr(info, "reset", None)
        if remaining is None or reset is None:
            return
        limit = getattr(info, "limit", None)
        with self._lock:
            # the calls started after this one may not have been counted in `remaining` yet
            after = 0 if seq is None else max(0, self._started - seq - 1)
            estimate = max(0, remaining - after)
            if self.reset is None or reset > self._floor:          # a newer window
                self.left, self.reset, self._floor = estimate, reset, reset
                self._assumed = False
                self._next_at = 0.0
            elif reset == self._floor and not self._assumed and self.left is not None:
                self.left = min(self.left, estimate)
            else:
                return                                               # an older window's news
            if limit is not None:
                self.limit = limit

    def reserve(self, pending: int = 1) -> tuple[bool, float, int]:
        """(granted, wait, seq): granted, the call may start now (it is counted); not granted,
        ask again in `wait` seconds (at most RECHECK, so that news a response brings meanwhile,
        such as a new window, is acted on)."""
        with self._lock:
            now = self._clock()
            seq = self._started
            if self.reset is not None and now >= self.reset and self.limit is None:
                self.left = self.reset = None       # ended, and its size unknown: no pacing
            elif self.reset is not None and now >= self.reset:
                # the window ended: assume a fresh one until a response says what it is
                self._floor = self.reset if not self._assumed else self._floor
                self.reset, self.left = self.reset + WINDOW, self.limit
                self._assumed, self._next_at = True, 0.0
            if self.left is not None and self.reset is not None:
                if self.left <= 0:
                    return False, min(RECHECK, max(0.0, self.reset - now)), seq
                if pending > self.left:       # more calls than the window allows: spread them
                    if self._next_at > now:
                        return False, min(RECHECK, self._next_at - now), seq
                    interval = (WINDOW / self.limit if self._assumed and self.limit
                                else max(0.0, self.reset - now) / self.left)
                    self._next_at = now + interval
                self.left -= 1
            self._started += 1
            return True, 0.0, seq


class Stopped(Exception):
    """`Results.interrupted` when the caller's `stop` event ended the pool (a cancelled job)."""


@dataclass
class Results(Generic[T]):
    """Outcomes in input order, and the interrupt that stopped the pool early, if one did."""
    outcomes: list[Any]
    interrupted: BaseException | None = None


def check_concurrency(concurrency: object) -> int:
    """A pool's `concurrency`: a whole number of workers, 1 or more (NaN, infinity or 2.5 would
    start no worker, or fail deep in asyncio or the executor, or hang)."""
    return whole_number(concurrency, "concurrency", 1)


def _check(concurrency: object, retries: object) -> None:
    check_concurrency(concurrency)
    whole_number(retries, "rate_limit_retries", 0)


# --- threads ----------------------------------------------------------------------------------

class _Unstarted:
    """How many items have not made their first call yet (what the pacer calls `pending`)."""

    def __init__(self, n: int) -> None:
        self._lock = threading.Lock()
        self.n = n

    def pending(self, first: bool) -> int:
        with self._lock:
            return self.n if first else self.n + 1

    def started(self) -> None:
        with self._lock:
            self.n -= 1


class _Schedule:
    """When each call of the pool may start and whether it goes again: the decisions a worker
    makes around each call, the same for threads and tasks (the drivers only wait differently):
    before it, a start time from the pacer; after it, whether a 429 is tried again."""

    def __init__(self, gate: Gate, pace: Pacer, unstarted: _Unstarted, observe: Observe) -> None:
        self.gate, self.pace, self.unstarted, self.observe = gate, pace, unstarted, observe

    def reserve(self, tried: int) -> tuple[bool, float, int]:
        granted, wait, seq = self.pace.reserve(self.unstarted.pending(tried == 0))
        if granted and tried == 0:
            self.unstarted.started()
        return granted, wait, seq

    def failed(self, exc: BaseException, seq: int, tried: int) -> bool:
        """The call raised: True when it is a 429 the gate will try again."""
        self.pace.seen(self.observe(exc), seq)
        return isinstance(exc, RateLimitError) and self.gate.retry(exc, tried)

    def succeeded(self, result: object, seq: int) -> None:
        self.pace.seen(self.observe(result), seq)


def run_threads(fn: Callable[[Item], T], items: Sequence[Item], *, concurrency: int,
                rate_limit_retries: int = RATE_LIMIT_RETRIES,
                catch: tuple[type[BaseException], ...] = (JunisError,),
                progress: Progress | None = None, name: str = "junis-pool",
                on_outcome: OnOutcome | None = None, pacer: Pacer | None = None,
                observe: Observe = outcome_rate_limit,
                stop: threading.Event | None = None) -> Results[T]:
    """`fn(item)` for every item on at most `concurrency` worker threads. From a notebook cell,
    call it on the thread that receives Ctrl-C (the cell's): that is where the interrupt is
    caught. From any other thread (a background job), pass `stop` and set it to cancel.

    `on_outcome(index, outcome)` and `progress` are called on the calling thread as each item
    finishes. `pacer` (a fresh one by default; pass a shared one to pace several pools as one
    key) is fed `observe(outcome)`."""
    _check(concurrency, rate_limit_retries)
    n = len(items)
    results: Results[T] = Results([UNFINISHED] * n)
    if not n:
        return results
    gate = Gate(rate_limit_retries)
    schedule = _Schedule(gate, pacer if pacer is not None else Pacer(), _Unstarted(n), observe)
    stop = stop if stop is not None else threading.Event()
    stopped_by_caller = stop.is_set

    def attempt(item: Item) -> T | _Unfinished:
        tried = 0
        while True:
            while (left := gate.left()) > 0 and not stop.wait(left):
                pass
            while not stop.is_set():
                granted, wait, seq = schedule.reserve(tried)
                if granted:
                    break
                stop.wait(wait)
            if stop.is_set():
                return UNFINISHED
            try:
                result = fn(item)
            except BaseException as exc:
                if not schedule.failed(exc, seq, tried):
                    raise
                tried += 1
                continue
            schedule.succeeded(result, seq)
            return result

    def take(future: Future[T | _Unfinished], index: int) -> None:
        try:
            results.outcomes[index] = future.result()
        except catch as exc:
            results.outcomes[index] = exc
        if on_outcome is not None and results.outcomes[index] is not UNFINISHED:
            on_outcome(index, results.outcomes[index])

    pool = ThreadPoolExecutor(max_workers=min(concurrency, n), thread_name_prefix=name)
    futures = {pool.submit(attempt, item): i for i, item in enumerate(items)}
    try:
        for finished, future in enumerate(as_completed(futures), 1):
            take(future, futures[future])
            if progress is not None:
                progress(finished, n)
    except KeyboardInterrupt as exc:
        results.interrupted = exc
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)     # calls in flight finish
        for future, i in futures.items():
            if results.outcomes[i] is UNFINISHED and future.done() and not future.cancelled():
                try:
                    take(future, i)
                except Exception:       # not a `catch` type: that item stays unfinished
                    pass
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
    if results.interrupted is None and stopped_by_caller() \
            and any(o is UNFINISHED for o in results.outcomes):
        results.interrupted = Stopped("the pool was stopped before every item finished")
    return results


# --- tasks ------------------------------------------------------------------------------------

async def run_tasks(fn: Callable[[Item], Awaitable[T]], items: Sequence[Item], *,
                    concurrency: int, rate_limit_retries: int = RATE_LIMIT_RETRIES,
                    catch: tuple[type[BaseException], ...] = (JunisError,),
                    progress: Progress | None = None, on_outcome: OnOutcome | None = None,
                    pacer: Pacer | None = None,
                    observe: Observe = outcome_rate_limit) -> Results[T]:
    """`await fn(item)` for every item on at most `concurrency` tasks. Cancelling the caller
    cancels the calls in flight; the caller must re-raise `Results.interrupted`. `on_outcome`,
    `progress`, `pacer` and `observe` as in `run_threads`."""
    _check(concurrency, rate_limit_retries)
    n = len(items)
    results: Results[T] = Results([UNFINISHED] * n)
    gate = Gate(rate_limit_retries)
    schedule = _Schedule(gate, pacer if pacer is not None else Pacer(), _Unstarted(n), observe)
    todo = iter(range(n))
    finished = 0

    async def attempt(item: Item) -> T:
        tried = 0
        while True:
            while (left := gate.left()) > 0:
                await _sleep(left)
            while True:
                granted, wait, seq = schedule.reserve(tried)
                if granted:
                    break
                await _sleep(wait)
            try:
                result = await fn(item)
            except Exception as exc:     # a cancellation is not an outcome: it passes through
                if not schedule.failed(exc, seq, tried):
                    raise
                tried += 1
                continue
            schedule.succeeded(result, seq)
            return result

    async def worker() -> None:
        nonlocal finished
        for index in todo:
            try:
                results.outcomes[index] = await attempt(items[index])
            except catch as exc:
                results.outcomes[index] = exc
            finished += 1
            if on_outcome is not None:
                on_outcome(index, results.outcomes[index])
            if progress is not None:
                progress(finished, n)

    workers = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, n))]
    try:
        await asyncio.gather(*workers)
    except BaseException as exc:    # a cancellation, Ctrl-C, or a bug: stop the other workers
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if not isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):
            raise
        results.interrupted = exc
    return results
