"""Fixtures and a helper shared by the blocking client's suites (test_client_sync, test_client_stream).

conftest.py loads this module as a plugin, so every test module can use its fixtures.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterator

import pytest

from junis_jupyter.client import CallRecord, JunisClient, sync


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll a server-side condition (never a timing assertion: the timeout only bounds a hang)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retry waits the client asked for, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(sync, "_sleep", waits.append)
    return waits


@pytest.fixture
def records() -> list[CallRecord]:
    """Every CallRecord the `client` fixture's calls produced."""
    return []


@pytest.fixture
def client(emulator: Any, sleeps: list[float], records: list[CallRecord]) -> Iterator[JunisClient]:
    """A JunisClient on the session emulator that never sleeps between retries."""
    with JunisClient(emulator.key, emulator.url, observers=[records.append]) as c:
        yield c
