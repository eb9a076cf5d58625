"""One bounded pool for many calls: a concurrency cap, a shared 429 gate, interrupts, a progress hook.

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
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..errors import ConfigurationError, JunisError, RateLimitError

__all__ = ["Gate", "Results", "UNFINISHED", "run_threads", "run_tasks"]

T = TypeVar("T")
Item = TypeVar("Item")
Progress = Callable[[int, int], None]

DEFAULT_WAIT = 1.0      # seconds, when a 429 names no wait
MAX_WAIT = 120.0
RATE_LIMIT_RETRIES = 8

_sleep = asyncio.sleep  # a module attribute, so tests can watch the waits


class _Unfinished:
    def __repr__(self) -> str:
        return "UNFINISHED"


UNFINISHED: Any = _Unfinished()
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


@dataclass
class Results(Generic[T]):
    """Outcomes in input order, and the interrupt that stopped the pool early, if one did."""
    outcomes: list[Any]
    interrupted: BaseException | None = None


def _check(concurrency: int, retries: int) -> None:
    if concurrency < 1:
        raise ConfigurationError("concurrency must be at least 1.")
    if retries < 0:
        raise ConfigurationError("rate_limit_retries must be 0 or more.")


# --- threads ----------------------------------------------------------------------------------

def run_threads(fn: Callable[[Item], T], items: Sequence[Item], *, concurrency: int,
                rate_limit_retries: int = RATE_LIMIT_RETRIES,
                catch: tuple[type[BaseException], ...] = (JunisError,),
                progress: Progress | None = None, name: str = "junis-pool") -> Results[T]:
    """`fn(item)` for every item on at most `concurrency` worker threads. Call it from the thread
    that receives Ctrl-C (a notebook cell's): that is where the interrupt is caught."""
    _check(concurrency, rate_limit_retries)
    n = len(items)
    results: Results[T] = Results([UNFINISHED] * n)
    if not n:
        return results
    gate = Gate(rate_limit_retries)
    stop = threading.Event()

    def attempt(item: Item) -> T:
        tried = 0
        while True:
            while (left := gate.left()) > 0 and not stop.wait(left):
                pass
            if stop.is_set():
                return UNFINISHED
            try:
                return fn(item)
            except RateLimitError as exc:
                if not gate.retry(exc, tried):
                    raise
                tried += 1

    def take(future: Future[T], index: int) -> None:
        try:
            results.outcomes[index] = future.result()
        except catch as exc:
            results.outcomes[index] = exc

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
    return results


# --- tasks ------------------------------------------------------------------------------------

async def run_tasks(fn: Callable[[Item], Awaitable[T]], items: Sequence[Item], *,
                    concurrency: int, rate_limit_retries: int = RATE_LIMIT_RETRIES,
                    catch: tuple[type[BaseException], ...] = (JunisError,),
                    progress: Progress | None = None) -> Results[T]:
    """`await fn(item)` for every item on at most `concurrency` tasks. Cancelling the caller
    cancels the calls in flight; the caller must re-raise `Results.interrupted`."""
    _check(concurrency, rate_limit_retries)
    n = len(items)
    results: Results[T] = Results([UNFINISHED] * n)
    gate = Gate(rate_limit_retries)
    todo = iter(range(n))
    finished = 0

    async def attempt(item: Item) -> T:
        tried = 0
        while True:
            while (left := gate.left()) > 0:
                await _sleep(left)
            try:
                return await fn(item)
            except RateLimitError as exc:
                if not gate.retry(exc, tried):
                    raise
                tried += 1

    async def worker() -> None:
        nonlocal finished
        for index in todo:
            try:
                results.outcomes[index] = await attempt(items[index])
            except catch as exc:
                results.outcomes[index] = exc
            finished += 1
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
