"""Every fault the emulator can inject, on every path a user takes, with its expected outcome.

Paths: sync chat, sync stream, async chat, async stream, `%%junis` (streamed and --no-stream) in
a real InteractiveShell, and the chat panel driven without a frontend. Faults: 500, 502, 503, 504, 429 with and without
Retry-After, a connection reset before the first byte, a first byte later than the client's
timeout, a stream cut after N chunks, a malformed chunk and an error event mid-stream.

Expected outcomes (clients made with max_retries=1):
- a retryable fault once: retried, the whole answer arrives;
- a retryable fault on every attempt: one clear error (an exception of the right class, one
  `Junis:` line under the cell, one error notice in the panel);
- a fault inside a stream: one clear error, and the text that arrived before it is kept.
Every call the user sees leaves exactly one usage-ledger row with the final status and error code.

When all of it has run, the module writes the matrix and each cell's result to build/fault-matrix.md;
`make tests-readme` copies that into the committed tests/README.md (no test writes a tracked file).
"""
from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from junis_jupyter.data import ledger as ledger_module
from junis_jupyter.client import DEFAULT_OBSERVERS, aio
from junis_jupyter.client.aio import AsyncJunisClient
from junis_jupyter.client.sync import JunisClient
from junis_jupyter.emulator.responder import answer_text, split_pieces
from junis_jupyter.errors import (APIConnectionError, APITimeoutError, JunisError,
                                  RateLimitError, ServerError, StreamError)
from support.checks import one_line
from support.servers import StripHeaderProxy

pytestmark = pytest.mark.timeout(90)

MAX_RETRIES = 1
TIMEOUT = 1.5           # the client's read timeout ...
SLOW_FIRST_BYTE = 4.0   # ... and a first byte that comes later than it
CHUNKS, AFTER = 8, 3
PROMPT = f"Summarise the quarterly figures for the board [[chunks={CHUNKS}]]"
ANSWER = answer_text(PROMPT)[0]
PARTIAL = "".join(split_pieces(ANSWER, CHUNKS)[:AFTER])
CHAT_PATH = "/v1/chat/completions"

PATHS = ("sync chat", "sync stream", "async chat", "async stream", "magic", "magic --no-stream",
         "panel")
STREAMING_PATHS = ("sync stream", "async stream", "magic", "panel")


@dataclass(frozen=True)
class Fault:
    name: str
    spec: dict[str, Any]
    error: type[JunisError]
    code: str | None                # the ledger row's error_code when it wins
    status: int | None              # the ledger row's status when it wins
    retryable: bool = True
    strip_retry_after: bool = False

    def queued(self, count: int) -> dict[str, Any]:
        return {**self.spec, "path": CHAT_PATH, "count": count}

    @property
    def scenarios(self) -> tuple[str, ...]:
        return ("once", "every attempt") if self.retryable else ("mid-stream",)


FAULTS = [
    Fault("500", {"kind": "status", "status": 500, "code": "server_error"}, ServerError,
          "server_error", 500),
    Fault("502", {"kind": "status", "status": 502, "code": "bad_gateway"}, ServerError,
          "bad_gateway", 502),
    Fault("503", {"kind": "status", "status": 503, "code": "service_unavailable"}, ServerError,
          "service_unavailable", 503),
    Fault("504", {"kind": "status", "status": 504, "code": "gateway_timeout"}, ServerError,
          "gateway_timeout", 504),
    Fault("429 with Retry-After", {"kind": "status", "status": 429, "code": "rate_limit_exceeded",
                                   "retry_after": 2}, RateLimitError, "rate_limit_exceeded", 429),
    Fault("429 without Retry-After", {"kind": "status", "status": 429,
                                      "code": "rate_limit_exceeded"},
          RateLimitError, "rate_limit_exceeded", 429, strip_retry_after=True),
    Fault("reset before the first byte", {"kind": "reset"}, APIConnectionError,
          "connection_error", None),
    Fault("first byte after the timeout", {"kind": "delay", "seconds": SLOW_FIRST_BYTE},
          APITimeoutError, "timeout", None),
    Fault(f"stream cut after {AFTER} chunks", {"kind": "cut", "after": AFTER}, StreamError,
          "stream_error", 200, retryable=False),
    Fault("malformed chunk", {"kind": "malformed", "after": AFTER}, StreamError,
          "stream_error", 200, retryable=False),
    Fault("error event mid-stream", {"kind": "error_event", "after": AFTER,
                                     "code": "agent_failed"},
          StreamError, "stream_error", 200, retryable=False),
]


# Open bugs: (fault, scenario, path) -> "file.py function: what is wrong". Each such cell is
# xfail(strict) until its fix lands, and the README shows it. Fixed so far: the panel showed part
# of a broken stream's text twice (panel.py ChatPanel._failed, fixed in 5957fdd).
KNOWN_BUGS: dict[tuple[str, str, str], str] = {}


def _cells() -> list[Any]:
    cells = []
    for fault in FAULTS:
        for scenario in fault.scenarios:
            for path in PATHS:
                if not fault.retryable and path not in STREAMING_PATHS:
                    continue     # the emulator applies stream faults to streams only
                bug = KNOWN_BUGS.get((fault.name, scenario, path))
                marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
                cells.append(pytest.param(fault, scenario, path, marks=marks,
                                          id=f"{fault.name}-{scenario}-{path}".replace(" ", "_")))
    return cells


CELLS = _cells()


# --- the README written from the results ---------------------------------------------------


@dataclass
class Matrix:
    expected: dict[tuple[str, str, str], str] = field(default_factory=dict)
    passed: set[tuple[str, str, str]] = field(default_factory=set)

    def write(self, path: Path) -> None:
        rows = []
        for fault in FAULTS:
            for scenario in fault.scenarios:
                cells = []
                for p in PATHS:
                    key = (fault.name, scenario, p)
                    if key not in self.expected:
                        cells.append("—")
                    else:
                        mark = ("pass" if key in self.passed else
                                "**FAIL: known bug, xfail**" if key in KNOWN_BUGS else "**FAIL**")
                        cells.append(f"{self.expected[key]} ({mark})")
                rows.append(f"| {fault.name} | {scenario} | " + " | ".join(cells) + " |")
        total, ok = len(self.expected), len(self.passed)
        text = f"""# Test suite notes (generated)

This file is made by `make tests-readme` from the table that
`tests/reliability/test_faults_matrix.py` writes to `build/fault-matrix.md` each time the whole
matrix runs; do not edit it by hand. How to run the suites and what they cover:
[docs/reliability.md](../docs/reliability.md).

## Fault matrix

Each fault is injected by the emulator's admin route (`POST /_emulator/faults`) on
`{CHAT_PATH}`; the 429 without `Retry-After` goes through a loopback proxy that removes the
header (the emulator always sends it). Clients use `max_retries={MAX_RETRIES}` and a
{TIMEOUT:g} s read timeout; the slow first byte comes after {SLOW_FIRST_BYTE:g} s. "once" queues the
fault for one attempt, "every attempt" for {MAX_RETRIES + 1} (more than the retries), "mid-stream"
strikes after {AFTER} of {CHUNKS} chunks. Every cell also checks that exactly one usage-ledger row
was written for the call, with the final status and error code.

Outcomes: **answer** = retried, the whole answer arrived; **error** = one clear error (exception,
one `Junis:` line, or one panel notice) and nothing half-shown; **partial + error** = the text
that arrived before the fault is kept and one clear error follows. "—": the fault only exists
inside a stream and this path does not stream.

{ok} of {total} cells passed.{_bug_notes()}

| fault | when | {" | ".join(PATHS)} |
|---|---|{"---|" * len(PATHS)}
""" + "\n".join(rows) + "\n"
        path.write_text(text, encoding="utf-8")


def _bug_notes() -> str:
    reasons = sorted(set(KNOWN_BUGS.values()))
    if not reasons:
        return ""
    return ("\n\nOpen bugs (their cells are marked xfail until fixed):\n\n"
            + "\n".join(f"- {r}" for r in reasons))


@pytest.fixture(scope="module")
def matrix() -> Any:
    table = Matrix()
    yield table
    if len(table.expected) == len(CELLS):     # only a full run writes the table
        out = Path(__file__).resolve().parents[2] / "build" / "fault-matrix.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        table.write(out)


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proxy(emulator: Any) -> Any:
    with StripHeaderProxy(emulator.url, "retry-after") as p:
        yield p


@pytest.fixture
def waits(sleeps: list[float], monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry waits both clients asked for, recorded instead of slept (the sync client's by the
    shared `sleeps` fixture, tests/support/clients.py)."""
    async def no_async_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr(aio, "_sleep", no_async_sleep)
    return sleeps


@pytest.fixture
def usage(shell: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ledger_module.Ledger:
    """The usage ledger as a kernel has it: installed by `%load_ext`, under a fresh JUNIS_HOME."""
    monkeypatch.setenv("JUNIS_HOME", str(tmp_path))
    assert ledger_module.record in DEFAULT_OBSERVERS
    return ledger_module.Ledger(tmp_path / ledger_module.FILENAME)


# --- the seven paths -----------------------------------------------------------------------------


@dataclass
class Outcome:
    text: str = ""                          # what the user ended up with (answer or partial)
    error: BaseException | None = None      # client paths: the exception raised
    lines: list[str] = field(default_factory=list)   # magic / panel: the error lines shown
    extra: dict[str, Any] = field(default_factory=dict)


def _client_kwargs(base_url: str, key: str) -> dict[str, Any]:
    return dict(api_key=key, base_url=base_url, max_retries=MAX_RETRIES, timeout=TIMEOUT)


def run_sync_chat(url: str, key: str, arm: Callable[[], None], shell: Any) -> Outcome:
    with JunisClient(**_client_kwargs(url, key)) as client:
        arm()
        try:
            return Outcome(text=client.chat(PROMPT).text)
        except JunisError as exc:
            return Outcome(error=exc)


def run_sync_stream(url: str, key: str, arm: Callable[[], None], shell: Any) -> Outcome:
    got: list[str] = []
    with JunisClient(**_client_kwargs(url, key)) as client:
        arm()
        try:
            for chunk in client.stream(PROMPT):
                got.append(chunk.text)
        except JunisError as exc:
            return Outcome(text="".join(got), error=exc)
    return Outcome(text="".join(got))


def run_async_chat(url: str, key: str, arm: Callable[[], None], shell: Any) -> Outcome:
    async def go() -> Outcome:
        async with AsyncJunisClient(**_client_kwargs(url, key)) as client:
            arm()
            try:
                return Outcome(text=(await client.chat(PROMPT)).text)
            except JunisError as exc:
                return Outcome(error=exc)
    return asyncio.run(go())


def run_async_stream(url: str, key: str, arm: Callable[[], None], shell: Any) -> Outcome:
    async def go() -> Outcome:
        got: list[str] = []
        async with AsyncJunisClient(**_client_kwargs(url, key)) as client:
            arm()
            try:
                async for chunk in client.stream(PROMPT):
                    got.append(chunk.text)
            except JunisError as exc:
                return Outcome(text="".join(got), error=exc)
        return Outcome(text="".join(got))
    return asyncio.run(go())


def aim_magic(magic: Any, url: str, key: str, mp: pytest.MonkeyPatch) -> None:
    """The magic makes its own client from the environment and its options (again whenever the
    key or URL changes), and some rows put a proxy in front of the emulator: point both at this
    row's server, so its client is made like the other paths' clients."""
    mp.setenv("JUNIS_BASE_URL", url)
    mp.setenv("JUNIS_API_KEY", key)
    mp.setattr(magic, "timeout", TIMEOUT)
    mp.setattr(magic, "max_retries", MAX_RETRIES)
    magic.reset_client()


def run_magic(url: str, key: str, arm: Callable[[], None], shell: Any,
              options: str = "") -> Outcome:
    magic = shell.magic
    with pytest.MonkeyPatch.context() as mp:
        aim_magic(magic, url, key, mp)
        magic.session_id = None
        shell.shell.user_ns["_junis"] = None
        arm()
        cell = shell.run(f"%%junis{options}\n" + PROMPT)
        magic.reset_client()
    assert cell.error is None, cell.error                 # the kernel never sees an exception
    assert "Traceback" not in cell.err + cell.out
    shown = cell.shown.split("\n\n*[", 1)[0]              # the note under a cut-off answer
    result = shell.shell.user_ns.get("_junis")
    return Outcome(text=shown, lines=cell.error_lines(),
                   extra={"result": result, "note": cell.shown[len(shown):]})


def run_panel(url: str, key: str, arm: Callable[[], None], shell: Any) -> Outcome:
    from junis_jupyter.notebook.panel.widget import ChatPanel

    async def go() -> Outcome:
        client = AsyncJunisClient(**_client_kwargs(url, key))
        panel = ChatPanel(client=client)
        await panel.wait()                    # pickers loaded: their calls are not this call
        arm()
        panel.input.value = PROMPT
        panel.send_button.click()
        await panel.wait()
        await client.aclose()
        answers = [t for t in panel.turns if t.role == "assistant"]
        notice = panel.notice.value
        lines = [notice] if "junis-error" in notice else []
        return Outcome(text=answers[-1].text() if answers else "", lines=lines,
                       extra={"turns": [(t.role, t.state) for t in panel.turns],
                              "input": panel.input.value, "notice": notice})
    return asyncio.run(go())


RUNNERS = {"sync chat": run_sync_chat, "sync stream": run_sync_stream,
           "async chat": run_async_chat, "async stream": run_async_stream,
           "magic": run_magic, "panel": run_panel,
           "magic --no-stream": lambda *args: run_magic(*args, options=" --no-stream")}


# --- the matrix ----------------------------------------------------------------------------------


EXPECTED = {"once": "answer", "every attempt": "error", "mid-stream": "partial + error"}


@pytest.mark.parametrize("fault, scenario, path", CELLS)
def test_fault_cell(fault: Fault, scenario: str, path: str, emulator: Any, proxy: Any,
                    shell: Any, usage: ledger_module.Ledger, waits: list[float],
                    matrix: Matrix) -> None:
    key = (fault.name, scenario, path)
    matrix.expected[key] = EXPECTED[scenario]
    url = proxy.url if fault.strip_retry_after else emulator.url
    count = 1 if scenario != "every attempt" else MAX_RETRIES + 1
    rows_before: list[int] = []

    def arm() -> None:
        rows_before.append(len(usage.rows()))
        emulator.faults(fault.queued(count))

    outcome = RUNNERS[path](url, emulator.key, arm, shell)
    rows = usage.rows()[rows_before[0]:]

    # Exactly one ledger row for the one call the user made.
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["endpoint"] == "chat" and bool(row["stream"]) == (path in STREAMING_PATHS)

    if scenario == "once":
        _check_answer(outcome, path)
        assert (row["status"], row["error_code"], row["attempts"]) == (200, None, 2)
        assert len(waits) == 1, waits
        if fault.name == "429 with Retry-After":
            assert waits == [2.0]                 # the server's Retry-After, honoured as given
        elif fault.strip_retry_after:
            assert 0 <= waits[0] <= 61            # X-RateLimit-Reset took its place
    elif scenario == "every attempt":
        _check_error(outcome, path, fault, partial="")
        assert (row["status"], row["error_code"], row["attempts"]) == (
            fault.status, fault.code, MAX_RETRIES + 1)
        if fault.strip_retry_after and outcome.error is not None:
            # no Retry-After: the error's wait is the window's reset, as the retries' was
            assert 0 <= outcome.error.retry_after <= 61   # type: ignore[attr-defined]
    else:
        _check_error(outcome, path, fault, partial=PARTIAL)
        assert (row["status"], row["error_code"], row["attempts"]) == (200, "stream_error", 1)
        assert waits == []                        # a stream that began is never retried
    matrix.passed.add(key)


def _check_answer(outcome: Outcome, path: str) -> None:
    assert outcome.error is None and outcome.lines == [], (outcome.error, outcome.lines)
    assert outcome.text == ANSWER
    if path.startswith("magic"):
        assert outcome.extra["result"].text == ANSWER and outcome.extra["note"] == ""
    if path == "panel":
        assert outcome.extra["turns"] == [("user", "done"), ("assistant", "done")]


def _check_error(outcome: Outcome, path: str, fault: Fault, partial: str) -> None:
    assert outcome.text == partial                # the text that arrived, nothing more or less
    if not path.startswith(("magic", "panel")):
        err = outcome.error
        assert isinstance(err, fault.error), repr(err)
        assert one_line(str(err)), str(err)
        if isinstance(err, StreamError):
            assert err.partial_text == partial
            if fault.spec["kind"] == "error_event":
                assert err.code == "agent_failed"
        return
    assert len(outcome.lines) == 1, outcome.lines
    line = outcome.lines[0]
    assert one_line(line)
    if path.startswith("magic"):
        assert line.startswith("Junis: ")
        result = outcome.extra["result"]
        if partial:      # what arrived stays shown, marked, and in _junis
            assert result is not None and result.text == partial
            assert outcome.extra["note"].startswith("\n\n*[cut off]")
        else:            # nothing arrived: no empty answer stored as the result
            assert result is None
    else:
        if partial:
            assert outcome.extra["turns"] == [("user", "done"), ("assistant", "failed")]
        else:   # nothing arrived: the question is given back, no empty answer left behind
            assert outcome.extra["turns"] == [] and outcome.extra["input"] == PROMPT


# --- beyond chat: the listings behind `%junis` commands and the panel's pickers -----------------


@pytest.mark.parametrize("command, path", [
    ("%junis agents", "/agents"),
    ("%junis sessions", "/sessions"),
    ("%junis history {sid}", "/sessions/"),
    ("%junis status", "/sessions/"),
])
def test_magic_commands_under_a_persistent_fault_are_one_line(
        command: str, path: str, emulator: Any, shell: Any, usage: ledger_module.Ledger,
        waits: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    magic = shell.magic
    aim_magic(magic, emulator.url, emulator.key, monkeypatch)
    shell.run("%%junis --new\nOpen a session for the listings")
    sid = magic.session_id
    assert sid
    before = len(usage.rows())
    emulator.faults({"kind": "status", "status": 503, "code": "service_unavailable",
                     "path": path, "count": MAX_RETRIES + 1})
    cell = shell.run(command.format(sid=sid))
    assert cell.error is None and "Traceback" not in cell.err + cell.out
    lines = cell.error_lines()
    assert len(lines) == 1 and lines[0].startswith("Junis: ") and "503" in lines[0], cell.err
    rows = usage.rows()[before:]
    assert [(r["status"], r["error_code"], r["attempts"]) for r in rows] == [
        (503, "service_unavailable", MAX_RETRIES + 1)]
    healthy = shell.run(command.format(sid=sid))          # the fault is spent: it works again
    assert healthy.error is None and healthy.err == "" and (healthy.events or "Out[" in healthy.out)  # a table, or the returned frame
    magic.reset_client()


def test_panel_pickers_under_a_persistent_fault_then_a_question_works(
        emulator: Any, waits: list[float]) -> None:
    from junis_jupyter.notebook.panel.widget import ChatPanel

    async def go() -> None:
        emulator.faults({"kind": "status", "status": 500, "path": "/agents",
                         "count": MAX_RETRIES + 1},
                        {"kind": "status", "status": 500, "path": "/sessions",
                         "count": MAX_RETRIES + 1})
        client = AsyncJunisClient(**_client_kwargs(emulator.url, emulator.key))
        panel = ChatPanel(client=client)
        await panel.wait()
        notice = panel.notice.value
        assert "junis-error" in notice and "Agents could not be listed" in notice
        assert "Sessions could not be listed" in notice
        assert [label for label, _ in panel.agent_picker.options] == ["Orchestrator"]
        panel.input.value = PROMPT
        panel.send_button.click()
        await panel.wait()
        assert [(t.role, t.state) for t in panel.turns] == [("user", "done"), ("assistant", "done")]
        assert panel.turns[-1].text() == ANSWER
        await client.aclose()
    asyncio.run(go())


# --- a stream that stalls after it began, and a user who stops ----------------------------------

STALL_PROMPT = f"Tell me slowly [[chunks={CHUNKS}]] [[delay={SLOW_FIRST_BYTE}]]"
STALL_FIRST = split_pieces(answer_text(STALL_PROMPT)[0], CHUNKS)[0]


@pytest.mark.parametrize("path", STREAMING_PATHS)
def test_a_stream_that_stalls_after_it_began_times_out_and_keeps_its_text(
        path: str, emulator: Any, shell: Any, usage: ledger_module.Ledger,
        waits: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    """The first chunk comes at once, the next after longer than the read timeout."""
    monkeypatch.setattr(sys.modules[__name__], "PROMPT", STALL_PROMPT)   # what the runners send
    before: list[int] = []
    outcome = RUNNERS[path](emulator.url, emulator.key, lambda: before.append(len(usage.rows())),
                            shell)
    stall = Fault("stall", {"kind": "stall"}, StreamError, "stream_error", 200, retryable=False)
    _check_error(outcome, path, stall, partial=STALL_FIRST)
    rows = usage.rows()[before[0]:]
    assert [(r["status"], r["error_code"], r["attempts"]) for r in rows] == [
        (200, "stream_error", 1)]
    assert waits == []
    if path in ("sync stream", "async stream"):
        assert "timed out" in str(outcome.error)


def test_breaking_out_of_a_stream_records_one_interrupted_call(
        emulator: Any, usage: ledger_module.Ledger) -> None:
    with JunisClient(**_client_kwargs(emulator.url, emulator.key)) as client:
        stream = client.stream(PROMPT)
        got = []
        for chunk in stream:
            got.append(chunk.text)
            if len(got) == AFTER:
                break
        stream.close()
    assert stream.result is not None and stream.result.interrupted
    # The result keeps what reached the client, which may run past the chunks the loop took.
    assert "".join(got) == PARTIAL and stream.result.text.startswith(PARTIAL)
    assert [(r["status"], r["error_code"]) for r in usage.rows()] == [(200, "interrupted")]


def test_cancelling_a_call_during_its_retry_wait_records_one_interrupted_call(
        emulator: Any, usage: ledger_module.Ledger) -> None:
    async def go() -> None:
        async with AsyncJunisClient(**_client_kwargs(emulator.url, emulator.key)) as client:
            emulator.faults({"kind": "status", "status": 429, "retry_after": 30,
                             "path": CHAT_PATH})
            task = asyncio.ensure_future(client.chat(PROMPT))
            while emulator.stats()["by_status"].get("429", 0) == before_429:
                await asyncio.sleep(0.01)      # until the 429 arrived and the 30 s wait began
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    before_429 = emulator.stats()["by_status"].get("429", 0)
    asyncio.run(asyncio.wait_for(go(), 20))
    assert [(r["status"], r["error_code"], r["attempts"]) for r in usage.rows()] == [
        (429, "interrupted", 1)]


def test_cancelling_map_stops_every_worker_and_loses_no_ledger_row(
        emulator: Any, usage: ledger_module.Ledger) -> None:
    done: list[Any] = []

    async def go() -> tuple[int, int]:
        async with AsyncJunisClient(**_client_kwargs(emulator.url, emulator.key),
                                    observers=[done.append]) as client:
            start = emulator.stats()["requests"]
            task = asyncio.ensure_future(client.map(
                [f"item {i} [[chunks=4]] [[delay=0.02]]" for i in range(60)], concurrency=5))
            while sum(1 for r in done if r.error_code is None) < 8:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            sent = emulator.stats()["requests"] - start
            await asyncio.sleep(0.5)                     # any orphan worker would go on sending
            return sent, emulator.stats()["requests"] - start

    sent, later = asyncio.run(asyncio.wait_for(go(), 30))
    assert later == sent < 60
    rows = usage.rows()
    finished = [r for r in rows if r["error_code"] is None]
    stopped = [r for r in rows if r["error_code"] == "interrupted"]
    # One row per call started: the finished ones, and each worker's call in flight (some were
    # cancelled before their request left, so the emulator saw fewer).
    assert len(finished) + len(stopped) == len(rows) >= sent
    assert all(r["status"] == 200 for r in finished)
    assert 1 <= len(stopped) <= 5


def test_interrupting_the_magic_mid_stream_records_one_interrupted_call(
        emulator: Any, shell: Any, usage: ledger_module.Ledger,
        monkeypatch: pytest.MonkeyPatch) -> None:
    magic = shell.magic
    aim_magic(magic, emulator.url, emulator.key, monkeypatch)
    magic.update_hz = 1000.0                 # an update per chunk, so the interrupt lands early

    updates: list[dict[str, Any]] = []

    def interrupt_on_third_update(event: dict[str, Any]) -> None:
        if event["update"]:
            updates.append(event)
            if len(updates) == 3:
                raise KeyboardInterrupt

    shell.publisher.hook = interrupt_on_third_update
    try:
        cell = shell.run("%%junis --new\nA long one [[chunks=200]] [[delay=0.01]]")
    finally:
        shell.publisher.hook = None
        magic.update_hz = magic.trait_defaults("update_hz")
        magic.reset_client()
    assert cell.error is None and "Traceback" not in cell.err + cell.out
    assert "interrupted" in cell.shown, cell.err
    assert [(r["status"], r["error_code"]) for r in usage.rows()] == [(200, "interrupted")]


def test_stopping_the_panel_mid_stream_records_one_interrupted_call(
        emulator: Any, usage: ledger_module.Ledger) -> None:
    from junis_jupyter.notebook.panel.widget import ChatPanel

    async def go() -> None:
        client = AsyncJunisClient(**_client_kwargs(emulator.url, emulator.key))
        panel = ChatPanel(client=client)
        await panel.wait()
        before = len(usage.rows())
        panel.input.value = "A long one [[chunks=200]] [[delay=0.01]]"
        panel.send_button.click()
        while not (panel.turns and panel.turns[-1].text()):
            await asyncio.sleep(0.01)
        panel.stop_button.click()
        await panel.wait()
        assert panel.turns[-1].state == "stopped" and panel.turns[-1].text()
        rows = usage.rows()[before:]
        assert [(r["status"], r["error_code"]) for r in rows] == [(200, "interrupted")]
        await client.aclose()
    asyncio.run(asyncio.wait_for(go(), 30))
