"""Shared fixtures: a real emulator on a loopback socket (docs/internals.md, "Test fixtures")."""
from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from junis_jupyter.emulator import EmulatorThread, start_emulator_thread
from support.key_watch import LeakWatch, make_canary_key

# Fixtures live beside their helpers: the client suites' (client, records, sleeps) in
# support/clients.py, the one IPython shell (ipython, shell) in support/shells.py; support/skips.py
# fails a run on any skip when JUNIS_FAIL_ON_SKIP=1 (`make test-pythons`).
pytest_plugins = ("support.clients", "support.shells", "support.skips")

CANARY_KEY = make_canary_key()
_watch = LeakWatch(CANARY_KEY)


def pytest_configure(config: pytest.Config) -> None:
    # A shell starts a command run in the background (`make test &`, `nohup`) with SIGINT
    # ignored, and Python then leaves it ignored: the tests that press Ctrl-C
    # (`_thread.interrupt_main`) would press it into nothing. Ctrl-C is put back as Python's own.
    import signal
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    _watch.attach()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _watch.scan_report(report)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _watch.leaks and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    tr = terminalreporter
    tr.write_line(_watch.summary())
    for leak in _watch.leaks[:20]:
        tr.write_line(f"  KEY LEAKED: {leak}", red=True)

@pytest.fixture(scope="session", autouse=True)
def _junis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """What the suite writes through the package (the usage ledger, the transcript log) goes to a
    folder of its own, never the user's data folder; a test may still set its own JUNIS_HOME."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUNIS_HOME", str(tmp_path_factory.mktemp("junis_home")))
        yield


# The shared emulator serves the whole suite within a minute or two: its key's request rate is
# lifted so that no test trips a limit it did not ask for (use make_emulator(rpm=...) for that).
_SESSION_RPM = 1_000_000


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorThread]:
    """A running emulator (token_delay=0, admin routes on) shared by the whole test session."""
    server = start_emulator_thread(rpm=_SESSION_RPM, key=CANARY_KEY)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _clear_emulator_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Faults a test queued but did not use must not strike the next test."""
    yield
    if "emulator" in request.fixturenames:
        request.getfixturevalue("emulator").clear_faults()


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., EmulatorThread]]:
    """A factory for emulators with other options (plan, credits, rpm, concurrency, token_delay,
    state, key); each is stopped at the end of the test."""
    started: list[EmulatorThread] = []

    def make(**options: Any) -> EmulatorThread:
        server = start_emulator_thread(**options)
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def junis_env(emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch,
              tmp_path: Any) -> Iterator[EmulatorThread]:
    """JUNIS_BASE_URL / JUNIS_API_KEY pointing at the session emulator, JUNIS_HOME a fresh directory."""
    monkeypatch.setenv("JUNIS_BASE_URL", emulator.url)
    monkeypatch.setenv("JUNIS_API_KEY", emulator.key)
    monkeypatch.setenv("JUNIS_HOME", str(tmp_path / "junis_home"))
    yield emulator
