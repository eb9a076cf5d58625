"""notebook/jobs.py: a background cell's task runs in an empty context (its messages take the
kernel's current parent header, not the starting cell's), on Python 3.10 too, whose
`create_task` has no `context=` (`make test-pythons` runs this there)."""
from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest

from junis_jupyter.notebook import jobs

CELL: contextvars.ContextVar[str] = contextvars.ContextVar("cell")


def test_a_job_task_starts_in_an_empty_context(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    async def work(job: jobs.Job) -> None:
        seen.append(CELL.get("unset"))

    monkeypatch.setattr(jobs.Job, "open_displays", lambda self: None)   # no displays here
    background = jobs.Jobs(lambda: 7)

    async def cell() -> jobs.Job:
        CELL.set("the starting cell's")
        job = background.start(7, None, asyncio.get_running_loop(), work)
        await job.task
        return job

    job = asyncio.run(cell())
    assert seen == ["unset"]
    assert background.all == [job] and job.error is None
