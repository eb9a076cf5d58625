"""`ask_many(..., background=True)`: the batch runs in a worker thread, the call returns a job at
once; `%junis jobs` lists it, `%junis wait` waits for it, `%junis cancel` stops it keeping every
answered row (in the checkpoint too)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from junis_jupyter.client.sync import JunisClient
from junis_jupyter.data.background import BatchJob, JobState
from junis_jupyter.data.batch import ask_many
from junis_jupyter.errors import ConfigurationError

from support.shells import MagicShell


def test_a_background_batch_returns_at_once_and_its_frame_on_wait(emulator: Any) -> None:
    with JunisClient(api_key=emulator.key, base_url=emulator.url) as client:
        started = time.monotonic()
        job = ask_many([f"[[delay=0.05]] [[chunks=4]] q{i}" for i in range(6)], client=client,
                       concurrency=2, background=True, progress=False)
        returned = time.monotonic() - started
        assert isinstance(job, BatchJob)
        frame = job.wait(timeout=60)
        assert returned < job.elapsed                       # it returned before the work ended
    assert job.state is JobState.DONE and job.done == 6 and job.failed == 0
    assert frame["error"].isna().all() and len(frame) == 6
    assert job.tokens == int(frame["tokens"].sum()) > 0


def test_stopping_a_background_batch_keeps_the_answered_rows(emulator: Any, tmp_path: Path) -> None:
    prompts = [f"[[delay=0.05]] [[chunks=6]] row {i}" for i in range(12)]
    path = tmp_path / "rows.sqlite"
    with JunisClient(api_key=emulator.key, base_url=emulator.url) as client:
        job = ask_many(prompts, client=client, concurrency=1, checkpoint=path,
                       background=True, progress=False)
        while job.done < 2 and not job.state.over:
            time.sleep(0.02)
        job.stop()
        frame = job.wait(timeout=60)
        assert job.state is JobState.CANCELLED
        answered = int(frame["error"].isna().sum())
        assert 2 <= answered < len(prompts)
        before = emulator.stats()["requests"]
        again = ask_many(prompts, client=client, concurrency=2, checkpoint=path, progress=False)
        assert emulator.stats()["requests"] - before == len(prompts) - answered   # only the rest
        assert again["error"].isna().all()


def test_a_dry_run_has_nothing_to_run_in_the_background() -> None:
    with pytest.raises(ConfigurationError, match="nothing to run in the background"):
        ask_many(["a"], dry_run=True, background=True)


def test_the_extension_lists_waits_for_and_cancels_background_batches(shell: MagicShell,
                                                                      junis_env: Any) -> None:
    shell.shell.user_ns["ask_many"] = ask_many
    cell = shell.run("job = ask_many([f'[[delay=0.02]] [[chunks=3]] q{i}' for i in range(4)], "
                     "background=True, progress=False)")
    assert cell.error is None, cell.error
    job = shell.shell.user_ns["job"]
    jobs = shell.shell.run_line_magic("junis", "jobs")
    assert job.id in set(jobs["id"]) and job.id == len(jobs)
    assert shell.run("%junis wait").error is None            # no loop here: blocks until done
    assert job.state is JobState.DONE
    listed = shell.shell.run_line_magic("junis", "jobs").set_index("id").loc[job.id]
    assert listed["state"] == "done" and listed["tokens"] == job.tokens > 0
    slow = ask_many([f"[[delay=0.05]] [[chunks=8]] s{i}" for i in range(20)], concurrency=1,
                    background=True, progress=False)
    cell = shell.run(f"%junis cancel {slow.id}")
    assert "1 job stopped" in cell.out
    assert slow.wait(timeout=60) is not None and slow.state is JobState.CANCELLED
