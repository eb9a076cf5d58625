"""Batches that survive (issue 14): `ask_many(..., checkpoint=PATH)` against the emulator.

Rows recorded are never asked again (the emulator's request count says so), a kill -9 of a real
process mid-batch loses at most the rows in flight, and a checkpoint of another batch is refused.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from junis_jupyter.client import JunisClient
from junis_jupyter.data.batch import ask_many
from junis_jupyter.data.checkpoint import Checkpoint
from junis_jupyter.errors import ConfigurationError
from support.clients import wait_until


def chats(server) -> int:
    return server.stats()["requests"]


def recorded(path: Path) -> dict[int, str | None]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT position, error FROM rows"))


@pytest.fixture
def client(junis_env) -> JunisClient:
    with JunisClient() as c:
        yield c


def test_a_rerun_asks_only_the_rows_not_yet_answered(client, junis_env, tmp_path) -> None:
    path = tmp_path / "batch.sqlite3"
    prompts = [f"[[echo]] row {i}" for i in range(8)]
    first = ask_many(prompts[:8], client=client, checkpoint=path, progress=False)
    assert first["answer"].tolist() == [f"row {i}" for i in range(8)]
    before = chats(junis_env)
    again = ask_many(prompts, client=client, checkpoint=path, progress=False)
    assert chats(junis_env) == before                       # every row was recorded: no request
    pd.testing.assert_frame_equal(again.drop(columns="latency"), first.drop(columns="latency"))

    # a checkpoint holding only some rows (as a crash leaves it): only the others are asked
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM rows WHERE position IN (1, 5, 6)")
    before = chats(junis_env)
    third = ask_many(prompts, client=client, checkpoint=path, progress=False)
    assert chats(junis_env) - before == 3
    assert third["answer"].tolist() == [f"row {i}" for i in range(8)]
    assert third["session_id"].iloc[0] == first["session_id"].iloc[0]   # kept, not re-asked
    assert third["session_id"].iloc[1] != first["session_id"].iloc[1]   # asked again


def test_failed_rows_are_recorded_but_asked_again(client, junis_env, tmp_path) -> None:
    path = tmp_path / "batch.sqlite3"
    junis_env.faults({"kind": "status", "status": 402, "code": "insufficient_credits",
                      "message": "No credits left.", "path": "/v1/chat"})
    prompts = ["[[echo]] one", "[[echo]] two", "[[echo]] three"]
    first = ask_many(prompts, concurrency=1, client=client, checkpoint=path, progress=False)
    assert first["error"].notna().sum() == 1
    assert sum(e is not None for e in recorded(path).values()) == 1     # the failure is kept
    before = chats(junis_env)
    again = ask_many(prompts, concurrency=1, client=client, checkpoint=path, progress=False)
    assert chats(junis_env) - before == 1                # only the failed row is asked again
    assert again["error"].isna().all()
    assert again["answer"].tolist() == ["one", "two", "three"]


def test_the_accessor_checkpoints_too(client, junis_env, tmp_path) -> None:
    import junis_jupyter.data.accessor  # noqa: F401 - registers df.junis
    path = tmp_path / "frame.sqlite3"
    df = pd.DataFrame({"city": ["Oslo", "Lima", "Pune"]}, index=[7, 8, 9])
    first = df.junis.ask("[[echo]] {city}", client=client, checkpoint=path, progress=False)
    before = chats(junis_env)
    again = df.junis.ask("[[echo]] {city}", client=client, checkpoint=path, progress=False)
    assert chats(junis_env) == before
    assert list(again.index) == [7, 8, 9]
    assert again["answer"].tolist() == first["answer"].tolist() == ["Oslo", "Lima", "Pune"]


def test_a_checkpoint_of_another_batch_is_refused_in_one_line(client, junis_env,
                                                              tmp_path) -> None:
    path = tmp_path / "batch.sqlite3"
    prompts = ["[[echo]] a", "[[echo]] b"]
    ask_many(prompts, client=client, checkpoint=path, temperature=0.2, progress=False)
    before = chats(junis_env)
    cases = [
        (dict(items=prompts + ["[[echo]] c"], temperature=0.2), r"it has 2 prompts, this batch 3"),
        (dict(items=["[[echo]] a", "[[echo]] B"], temperature=0.2), r"prompt of row 1 differs"),
        (dict(items=prompts, temperature=0.7), r"options differ \(temperature 0.2 -> 0.7\)"),
        (dict(items=prompts, temperature=0.2, agent="Research"), r"options differ \(agent"),
        (dict(items=prompts, temperature=0.2, model="other"), r"options differ \(model"),
    ]
    for kwargs, reason in cases:
        with pytest.raises(ConfigurationError, match=reason) as info:
            ask_many(kwargs.pop("items"), client=client, checkpoint=path, **kwargs)
        message = str(info.value)
        assert "\n" not in message and message.startswith(f"checkpoint {path} belongs to another")
        assert message.endswith("pass a new checkpoint path, or delete the file to start again.")
    assert chats(junis_env) == before                    # refused before any call
    assert len(recorded(path)) == 2                      # and nothing mixed in

    other = tmp_path / "notes.txt"
    other.write_text("not a database, just words " * 50)
    with pytest.raises(ConfigurationError, match="is not an ask_many checkpoint"):
        ask_many(prompts, client=client, checkpoint=other)


def test_a_checkpoint_round_trips_on_its_own(tmp_path) -> None:
    from junis_jupyter.data.checkpoint import Recorded
    path = tmp_path / "deep" / "er" / "c.sqlite3"
    with Checkpoint.open(path, ["p0", "p1"], {"agent": None}) as cp:
        cp.record(1, Recorded("answer", "s-1", 12, 0.5, None))
        cp.record(0, Recorded(None, None, None, None, "failed"))
    assert Checkpoint.open(tmp_path / "missing.sqlite3", ["p0"], {}, create=False) is None
    with Checkpoint.open(path, ["p0", "p1"], {"agent": None}) as cp:
        assert cp.done() == {1: Recorded("answer", "s-1", 12, 0.5, None)}


CHILD = textwrap.dedent("""
    import sys
    from junis_jupyter.data.batch import ask_many
    prompts = [f"[[echo]] [[delay=0.1]] row {i}" for i in range(int(sys.argv[2]))]
    ask_many(prompts, concurrency=2, checkpoint=sys.argv[1], progress=False)
    print("finished")
""")


def test_a_kill_9_mid_batch_loses_only_the_rows_in_flight(make_emulator, tmp_path,
                                                          monkeypatch) -> None:
    server = make_emulator(rpm=1_000_000, concurrency=10, token_delay=0.0)
    path = tmp_path / "killed.sqlite3"
    count = 40        # 0.1 s a row, 2 at a time: about 2 s for the whole batch
    env = {**os.environ, "JUNIS_BASE_URL": server.url, "JUNIS_API_KEY": server.key,
           "JUNIS_HOME": str(tmp_path / "home")}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(count)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_until(lambda: path.exists() and _answered(path) >= 4, timeout=60), \
            child.stderr.read().decode() if child.poll() is not None else "no rows recorded"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    assert wait_until(lambda: server.stats()["in_flight"] == 0)   # the killed calls ended
    asked_by_child = chats(server)
    kept = recorded(path)
    assert 4 <= len(kept) < count and all(e is None for e in kept.values())
    assert asked_by_child - len(kept) <= 2              # at most the rows in flight were lost

    monkeypatch.setenv("JUNIS_BASE_URL", server.url)
    monkeypatch.setenv("JUNIS_API_KEY", server.key)
    prompts = [f"[[echo]] [[delay=0.1]] row {i}" for i in range(count)]
    df = ask_many(prompts, concurrency=2, checkpoint=path, progress=False)
    assert chats(server) - asked_by_child == count - len(kept)     # none recorded was re-asked
    assert df["input"].tolist() == prompts
    assert df["answer"].tolist() == [f"row {i}" for i in range(count)]
    assert df["error"].isna().all()
    assert list(df.index) == list(range(count))


def _answered(path: Path) -> int:
    try:
        with sqlite3.connect(path, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM rows WHERE error IS NULL").fetchone()[0]
    except sqlite3.OperationalError:       # the child is still creating its tables
        return 0
