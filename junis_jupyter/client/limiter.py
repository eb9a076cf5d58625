"""One process-wide cap on requests in flight, shared by every client (threads and event loops).

The plan caps concurrent requests per key (Basic: 5); background cells, the chat panel and
batches in one kernel would each stay under it alone and draw a 429 together. A client takes a
slot around each HTTP request it sends (each attempt: a retry's backoff holds none) and gives it
back when the response is closed, a stream's when it ends. Nothing is capped until `install()`
(the IPython extension does it, as it installs the usage ledger) or `set_limit(n)`; a plain script
is unaffected unless it asks.

A client is handed its limiter when it is made (`limiter=`): by default the one installed at that
moment (`INSTALLED`), kept for the client's life and by its `to_async()` twin; None: uncapped.
Changing the installed limiter's `limit` reaches every client that holds it.

A thread waits for a slot blocking; a coroutine awaits one without blocking its loop. Slots go in
FIFO order. A thread that would wait for slots held by tasks of a loop that cannot run (its own
loop, blocked by this very wait, or one that answers no probe) would wait forever: it raises
`LimitBusy` instead, one line saying what holds the slots.
"""
from __future__ import annotations

import enum
import sys
import threading
from collections import deque
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import asyncio

from ..errors import ConfigurationError
from ._checks import whole_number

__all__ = ["Limiter", "Slot", "LimitBusy", "DEFAULT_LIMIT", "INSTALLED", "Installed", "install",
           "uninstall", "current", "set_limit"]

DEFAULT_LIMIT = 5       # the Basic plan's concurrent-request cap
PROBE_S = 2.0           # how long a waiting thread gives a holder's loop to show it still runs


class Installed(enum.Enum):
    """The type of `INSTALLED` (a sentinel: `limiter=None` already means uncapped)."""
    LIMITER = "the limiter installed when the client is made"


INSTALLED: Final = Installed.LIMITER
"""A client's default `limiter=`: whatever `current()` is when the client is made."""


class LimitBusy(ConfigurationError):
    """A blocking call would wait for request slots that can never come free."""


class Slot:
    """One request in flight; `release()` gives it back (idempotent, any thread)."""

    __slots__ = ("_limiter", "loop", "_released")

    def __init__(self, limiter: Limiter, loop: asyncio.AbstractEventLoop | None) -> None:
        self._limiter = limiter
        self.loop = loop            # the loop of the task holding it; None: a thread
        self._released = False

    def release(self) -> None:
        limiter = self._limiter
        with limiter._lock:
            if self._released:
                return
            self._released = True
            limiter._held.discard(self)
            limiter._grant()


class _Waiter:
    __slots__ = ("event", "loop", "future", "slot")

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None,
                 future: asyncio.Future[Slot] | None = None) -> None:
        self.event = threading.Event() if loop is None else None
        self.loop = loop
        self.future = future
        self.slot: Slot | None = None


def _hand_over(future: asyncio.Future[Slot], slot: Slot) -> None:
    """On the waiter's loop: give it the slot, or give the slot back if it stopped waiting."""
    if future.done():
        slot.release()
    else:
        future.set_result(slot)


class Limiter:
    """At most `limit` slots held at once. `peak` is the most ever held (for tests and demos)."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        # Re-entrant: a response dropped unclosed gives its slot back from a weakref finalizer
        # (client/_base.py), and the garbage collector runs finalizers inside whatever code this
        # thread is running, a section holding this lock included. With a plain Lock that
        # thread waited for itself for good (a %%junis cell hung in `acquire`, seen on 3.13).
        self._lock = threading.RLock()
        self._granting = False      # _grant is running: a release inside it leaves it to it
        self._regrant = False
        self._held: set[Slot] = set()
        self._waiters: deque[_Waiter] = deque()
        self._limit = whole_number(limit, "the concurrency limit", 1)
        self.peak = 0

    @property
    def limit(self) -> int:
        return self._limit

    @limit.setter
    def limit(self, value: int) -> None:
        with self._lock:
            self._limit = whole_number(value, "the concurrency limit", 1)
            self._grant()           # a higher limit lets waiters go at once

    @property
    def in_flight(self) -> int:
        return len(self._held)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def _take(self, loop: asyncio.AbstractEventLoop | None) -> Slot:
        slot = Slot(self, loop)
        self._held.add(slot)
        self.peak = max(self.peak, len(self._held))
        return slot

    def _grant(self) -> None:
        """Hand free slots to the waiters, first come first served (the lock is held).

        Not twice at once: a finalizer's release inside the loop (see `__init__`) would hand out
        slots the loop below has already counted as free, one over the limit."""
        if self._granting:
            self._regrant = True    # the running one goes round again
            return
        self._granting = self._regrant = True
        try:
            while self._regrant:
                self._regrant = False
                self._grant_once()
        finally:
            self._granting = False

    def _grant_once(self) -> None:
        while self._waiters and len(self._held) < self._limit:
            waiter = self._waiters.popleft()
            loop, future = waiter.loop, waiter.future
            if waiter.event is not None:                    # a thread
                waiter.slot = self._take(None)
                waiter.event.set()
                continue
            if loop is None or future is None or future.cancelled():
                continue
            waiter.slot = slot = self._take(loop)
            try:
                loop.call_soon_threadsafe(_hand_over, future, slot)
            except RuntimeError:                            # its loop is closed: nobody waits
                self._held.discard(slot)

    # -- threads ----------------------------------------------------------------------------

    def acquire(self) -> Slot:
        """A slot, waiting for one if need be (blocking this thread)."""
        with self._lock:
            if not self._waiters and len(self._held) < self._limit:
                return self._take(None)
            own = _running_loop()                   # sync code run by a loop (a cell)
            if own is not None and any(s.loop is own for s in self._held):
                raise LimitBusy(self._busy())
            waiter = _Waiter()
            self._waiters.append(waiter)
        assert waiter.event is not None
        while not waiter.event.wait(PROBE_S):
            if self._stuck():
                with self._lock:
                    if waiter.slot is None:
                        self._waiters.remove(waiter)
                        raise LimitBusy(self._busy())
                break
        assert waiter.slot is not None
        return waiter.slot

    def _stuck(self) -> bool:
        """Every slot is held by tasks of loops that do not run a callback within PROBE_S."""
        with self._lock:
            holders = [s.loop for s in self._held]
        if not holders or None in holders:
            return False            # a thread holds one: it gives it back by itself
        ran = []
        for loop in {loop for loop in holders if loop is not None}:
            seen = threading.Event()
            try:
                loop.call_soon_threadsafe(seen.set)
            except RuntimeError:
                continue            # closed: its tasks will never give their slots back
            ran.append(seen)
        return not any(seen.wait(PROBE_S) for seen in ran) if ran else True

    def _busy(self) -> str:
        return (f"all {self._limit} request slots (the plan's concurrent-request cap) are held "
                "by background cells or the chat panel, which cannot go on while this cell "
                "waits: run `%junis wait` first, or raise %config JunisMagics.max_concurrent "
                "if your plan allows more.")

    # -- event loops ------------------------------------------------------------------------

    async def acquire_async(self) -> Slot:
        """A slot, awaiting one if need be; the loop keeps running meanwhile."""
        import asyncio
        loop = asyncio.get_running_loop()
        with self._lock:
            if not self._waiters and len(self._held) < self._limit:
                return self._take(loop)
            future: asyncio.Future[Slot] = loop.create_future()
            waiter = _Waiter(loop, future)
            self._waiters.append(waiter)
        try:
            return await future
        except asyncio.CancelledError:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            if future.done() and not future.cancelled():
                future.result().release()   # granted just as it was cancelled
            raise


_current: Limiter | None = None
_install_lock = threading.Lock()


def current() -> Limiter | None:
    """The process-wide limiter, or None when requests are not capped."""
    return _current


def install(limit: int | None = None) -> Limiter:
    """Cap every client's requests from now on (idempotent; `limit` given: set it too)."""
    global _current
    with _install_lock:
        if _current is None:
            _current = Limiter(DEFAULT_LIMIT if limit is None else limit)
        elif limit is not None:
            _current.limit = limit
        return _current


def set_limit(n: int) -> Limiter:
    """At most `n` requests in flight in this process (installs the limiter if need be)."""
    return install(n)


def uninstall() -> None:
    """Stop capping. Slots held are given back to a limiter nobody consults any more."""
    global _current
    with _install_lock:
        _current = None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The loop running this code; none can run while asyncio is not even imported (so loading
    the extension in a plain shell does not import it)."""
    module = sys.modules.get("asyncio")
    if module is None:
        return None
    try:
        loop: asyncio.AbstractEventLoop = module.get_running_loop()
    except RuntimeError:
        return None
    return loop
