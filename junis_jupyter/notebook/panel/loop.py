"""Moving the panel's work onto one event loop, its "home", and keeping track of it there.

Home is the loop running when the panel first starts work (the kernel's). A request started as a
task there leaves the loop free between chunks, so Stop (another widget callback) can cancel it at
once and other cells keep running. ipykernel 7 may deliver widget messages on a subshell thread with
a loop of its own: every callback is handed over to home (`call_soon_threadsafe`), so the HTTP
client and the streaming task only ever live on one loop. No threads of our own, no nest_asyncio.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["Home", "TaskSet", "Throttle", "wait_for"]


class Home:
    """The panel's loop. `report` gets whatever a callback or a task raised, since no frontend
    would ever show it."""

    def __init__(self, report: Callable[[BaseException], None]) -> None:
        self._report = report
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """`coro` as a task on the running loop (which becomes home if there is none yet);
        None, and `coro` closed, when no loop runs here (a plain script)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            return None
        if self._loop is None or self._loop.is_closed():
            self._loop, self._thread = loop, threading.get_ident()
        task = loop.create_task(coro)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._report(task.exception())   # type: ignore[arg-type]

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn` on home's thread: now if we are there, else as soon as it is free."""
        loop = self._loop
        if loop is not None and not loop.is_closed() and threading.get_ident() != self._thread:
            loop.call_soon_threadsafe(fn, *args)
        else:
            fn(*args)

    def guard(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """A widget callback that runs at home and never raises into the frontend."""
        def guarded(arg: Any) -> None:
            try:
                fn(arg)
            except Exception as exc:
                self._report(exc)

        return lambda arg: self.call(guarded, arg)


class TaskSet:
    """Tasks someone may wait for (the pickers loading, a session's history); finished ones
    drop out by themselves, so waiting covers every one started, not only the latest."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def add(self, task: asyncio.Task[Any] | None) -> asyncio.Task[Any] | None:
        if task is not None and not task.done():
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return task

    def pending(self) -> list[asyncio.Task[Any]]:
        """Those not done, leaving out the caller's own task (it cannot wait for itself)."""
        me = asyncio.current_task()
        return [t for t in self._tasks if t is not me and not t.done()]


async def wait_for(*sets: TaskSet) -> None:
    """Until every task of `sets` has finished, those started meanwhile too; their failures are
    theirs to report, and cancelling this wait cancels none of them."""
    while True:
        pending = [t for s in sets for t in s.pending()]
        if not pending:
            return
        await asyncio.wait(pending)


class Throttle:
    """Calls `fn` at most once per `interval` seconds, and once more after the last request;
    when `fn` returns False (it put its work off), it is called again an interval later."""

    def __init__(self, fn: Callable[[], bool], interval: float) -> None:
        self.fn = fn
        self.interval = interval
        self.last = float("-inf")
        self.timer: asyncio.TimerHandle | None = None

    def request(self) -> None:
        if self.timer is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self.last + self.interval - loop.time()
        if wait <= 0:
            self.flush()
        else:
            self.timer = loop.call_later(wait, self.flush)

    def flush(self) -> None:
        self.cancel()
        loop = asyncio.get_running_loop()
        self.last = loop.time()
        if self.fn() is False:
            self.timer = loop.call_later(self.interval, self.flush)

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
