"""The usage ledger: where it lives, what a row holds, many writers at once, failures kept."""
from __future__ import annotations

import multiprocessing
import os
import threading
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from junis_jupyter import client as client_pkg
from junis_jupyter.data import ledger as ledger_mod
from junis_jupyter.client import JunisClient
from junis_jupyter.client.types import CallRecord, Usage
from junis_jupyter.errors import BadRequestError
from junis_jupyter.data.ledger import Ledger

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def call(i: int = 0, *, ok: bool = True, agent: str | None = "Research") -> CallRecord:
    return CallRecord(
        started_at=T0 + timedelta(seconds=i), endpoint="/v1/chat/completions", agent=agent,
        session_id=f"s{i}", stream=bool(i % 2), status=200 if ok else 429,
        error_code=None if ok else "rate_limit_exceeded",
        usage=Usage(10, i, 10 + i) if ok else None, latency_s=0.5 + i, first_token_s=0.1 if i % 2 else None,
        request_id=f"req-{i}", attempts=1 if ok else 3)


def test_default_path_follows_junis_home_then_xdg(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("JUNIS_HOME", str(tmp_path / "home"))
    assert ledger_mod.default_path() == tmp_path / "home" / "usage.sqlite3"
    monkeypatch.delenv("JUNIS_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert ledger_mod.default_path() == tmp_path / "xdg" / "junis-jupyter" / "usage.sqlite3"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert ledger_mod.default_path() == \
        tmp_path / "user" / ".local" / "share" / "junis-jupyter" / "usage.sqlite3"


def test_rows_round_trip_with_failures_and_survive_a_new_instance(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "usage.sqlite3"
    first = Ledger(path)
    first.record(call(0))
    first.record(call(1, ok=False, agent=None))
    rows = Ledger(path).rows()      # a fresh instance: what a restarted kernel sees
    assert [r["session_id"] for r in rows] == ["s0", "s1"]
    ok, failed = rows
    assert ok["started_at"] == "2026-03-01T12:00:00.000000Z"
    assert (ok["status"], ok["error_code"], ok["total_tokens"], ok["stream"]) == (200, None, 10, 0)
    assert (failed["status"], failed["error_code"], failed["total_tokens"]) == \
        (429, "rate_limit_exceeded", None)
    assert failed["agent"] is None and failed["attempts"] == 3 and failed["first_token_s"] == 0.1


def test_rows_since_until_bounds(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "u.sqlite3")
    for i in range(5):
        led.record(call(i))
    picked = led.rows(since=T0 + timedelta(seconds=1), until="2026-03-01T12:00:03Z")
    assert [r["session_id"] for r in picked] == ["s1", "s2"]
    assert Ledger(tmp_path / "absent.sqlite3").rows() == []


def test_wal_mode_is_set(tmp_path: Path) -> None:
    import sqlite3
    led = Ledger(tmp_path / "u.sqlite3")
    led.record(call())
    with sqlite3.connect(led.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _write_rows(path: str, worker: int, count: int) -> None:
    led = Ledger(path)
    for i in range(count):
        rec = call(i)
        rec.session_id = f"w{worker}-{i}"
        led.record(rec)


def test_concurrent_writers_from_several_processes_keep_every_row(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite3")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_rows, args=(path, w, 250)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    ids = [r["session_id"] for r in Ledger(path).rows()]
    assert len(ids) == 1000
    assert set(ids) == {f"w{w}-{i}" for w in range(4) for i in range(250)}


def test_concurrent_writers_from_threads_keep_every_row(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "threads.sqlite3")
    threads = [threading.Thread(target=_write_rows, args=(str(led.path), w, 50)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(led.rows()) == 300


def test_a_failing_write_never_raises_warns_once_and_is_written_later(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the ledger's directory should be")
    led = Ledger(blocker / "usage.sqlite3")
    with pytest.warns(RuntimeWarning, match="cannot write") as caught:
        led.record(call(0))
        led.record(call(1))
    assert len(caught) == 1 and led.pending == 2
    blocker.unlink()                # the directory can be made now
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        led.record(call(2))
    assert led.pending == 0
    assert [r["session_id"] for r in led.rows()] == ["s0", "s1", "s2"]


def test_install_is_idempotent_and_uninstall_removes() -> None:
    before = list(client_pkg.DEFAULT_OBSERVERS)
    try:
        ledger_mod.install()
        ledger_mod.install()
        assert client_pkg.DEFAULT_OBSERVERS.count(ledger_mod.record) == 1
    finally:
        ledger_mod.uninstall()
    assert client_pkg.DEFAULT_OBSERVERS == before


def test_installed_ledger_records_successes_and_failures_of_a_client(junis_env) -> None:
    ledger_mod.install()
    try:
        with JunisClient() as c:
            ok = c.chat("How many tokens is this?", agent="Research")
            with pytest.raises(BadRequestError):
                c.chat("hello", agent="Pipeline")       # not invocable: 400
    finally:
        ledger_mod.uninstall()
    with JunisClient() as c:                                # not installed: not recorded
        c.chat("unrecorded")
    rows = ledger_mod.default_ledger().rows()
    chats = [r for r in rows if r["endpoint"] != "agents"]   # name resolution is a call too
    assert len(chats) == 2
    good, bad = chats
    assert good["status"] == 200 and good["error_code"] is None
    assert good["session_id"] == ok.session_id
    assert good["total_tokens"] == ok.usage.total_tokens and good["total_tokens"] > 0
    assert bad["status"] == 400 and bad["error_code"] == "agent_not_invocable"
    assert bad["total_tokens"] is None and bad["prompt_tokens"] is None
    assert ledger_mod.default_path().parent == Path(os.environ["JUNIS_HOME"])


def test_async_client_calls_are_recorded_too(junis_env) -> None:
    import asyncio

    from junis_jupyter.client import AsyncJunisClient

    async def chat() -> str:
        async with AsyncJunisClient() as ac:
            chunks = [ch.text async for ch in ac.stream("stream me")]
            return "".join(chunks)

    ledger_mod.install()
    try:
        text = asyncio.run(chat())
    finally:
        ledger_mod.uninstall()
    rows = ledger_mod.default_ledger().rows()
    assert text and len(rows) == 1
    assert rows[0]["stream"] == 1 and rows[0]["status"] == 200
    assert rows[0]["first_token_s"] is not None and rows[0]["total_tokens"] > 0
