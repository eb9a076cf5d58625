"""client/limiter.py: a slot given back by the garbage collector (the weakref finalizer of a
response dropped unclosed, client/_base.py) inside a section that holds the limiter's lock.

The collector runs finalizers wherever the thread is; with a plain Lock the thread then waited for
itself for good (a `%%junis` cell hung in `acquire`, seen in the suites on Python 3.13). The
finalizer is run here exactly where the collector ran it: while `_take` builds a Slot."""
from __future__ import annotations

import threading
from typing import Any

import pytest

from junis_jupyter.client.limiter import Limiter, Slot
from support.clients import wait_until

HANG_GUARD_S = 30   # not a timing figure: a bound on a wait that, unfixed, never ends


def _collect_during_next_slot(monkeypatch: pytest.MonkeyPatch, orphan: Slot) -> None:
    """The next Slot made runs `orphan.release()` as the collector would, in its constructor."""
    made = Slot.__init__

    def init(self: Slot, *args: Any) -> None:
        monkeypatch.setattr(Slot, "__init__", made)
        made(self, *args)
        orphan.release()

    monkeypatch.setattr(Slot, "__init__", init)


def test_a_slot_freed_by_the_collector_inside_acquire_does_not_hang(
        monkeypatch: pytest.MonkeyPatch) -> None:
    limiter = Limiter(2)
    orphan = limiter.acquire()          # a response's slot, its response dropped unclosed
    _collect_during_next_slot(monkeypatch, orphan)
    got: list[Slot] = []
    worker = threading.Thread(target=lambda: got.append(limiter.acquire()), daemon=True)
    worker.start()
    worker.join(HANG_GUARD_S)
    assert got, "acquire waited for the lock its own thread held (the finalizer's release)"
    assert limiter.in_flight == 1 and limiter.waiting == 0
    got[0].release()
    assert limiter.in_flight == 0


def test_a_slot_freed_by_the_collector_while_granting_keeps_the_cap(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Three threads wait on a full limiter of 2; one slot is given back, and while the grant
    makes the first waiter's slot the collector gives back the other. Two run, never three."""
    limiter = Limiter(2)
    held, orphan = limiter.acquire(), limiter.acquire()
    got: list[Slot] = []
    lock = threading.Lock()

    def wait_for_one() -> None:
        slot = limiter.acquire()
        with lock:
            got.append(slot)

    workers = [threading.Thread(target=wait_for_one, daemon=True) for _ in range(3)]
    for w in workers:
        w.start()
    assert wait_until(lambda: limiter.waiting == 3)
    _collect_during_next_slot(monkeypatch, orphan)
    released = threading.Thread(target=held.release, daemon=True)
    released.start()
    released.join(HANG_GUARD_S)
    assert not released.is_alive(), "release waited for the lock its own thread held"
    assert limiter.peak == 2            # the grant ran inside release(): two slots, not three
    assert limiter.in_flight == 2 and limiter.waiting == 1
    assert wait_until(lambda: len(got) == 2)
    for slot in list(got):
        slot.release()                  # the third waiter goes on
    for w in workers:
        w.join(HANG_GUARD_S)
    assert len(got) == 3 and limiter.peak == 2
    got[2].release()
    assert limiter.in_flight == 0

