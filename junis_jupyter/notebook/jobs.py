"""Background cells: `%%junis --background`, `%junis jobs | wait | cancel`.

A background cell goes through the same cell pipeline as a foreground one (`cell.py`: prepared,
asked through the answer pipeline, concluded); only the asking runs as a task on the kernel's event
loop, through the async client, as the chat panel's does. The cell returns at once.

How the answer reaches its own cell: a frontend (JupyterLab, nbclient) takes no new output for a
cell once it has finished, only updates of displays it already has. So the job makes its two
displays (the answer, and the footer or a failure's line) while the cell runs, and afterwards only
updates them, by display id. The task runs in an empty context, so those updates carry the parent
header of the cell running when they are sent, which is the one a frontend listens to; the
display id takes them to this cell's outputs. A background answer is therefore one display
updated in place, not settled into outputs block by block as a foreground answer is; re-sending
it is paid for by its growth (`budget.py`), so a long one is updated about once a second.

`%junis wait` must let the loop run the jobs while it waits, so it cannot be a plain call: on a
line of its own in a kernel, an input transformer (`cmd/jobs.await_wait`) turns it into an
awaited `%junis wait --awaited`, and IPython runs the cell as a coroutine on the kernel's loop, as
it does any cell with a top-level await. Interrupting the kernel cancels that wait, never the
jobs. Where no loop runs (terminal IPython), a background cell runs in the foreground and says so.
"""
from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from traitlets import HasTraits, Integer, Unicode, UseEnum

from .. import config, errors
from ..client.types import ORCHESTRATOR
from ..data.background import BatchJob, JobState

if TYPE_CHECKING:
    from .render import StreamRenderer

__all__ = ["Job", "Jobs", "running_loop"]


class Job(HasTraits):
    """One background cell. `state`, `tokens` and `error` are traits: observe them."""

    state = UseEnum(JobState, default_value=JobState.QUEUED)
    tokens = Integer(0, help="completion tokens: the usage once known, else an estimate")
    error = Unicode(None, allow_none=True)

    def __init__(self, id: int, cell: int | None, agent: str | None) -> None:
        super().__init__()
        self.id = id
        self.cell = cell
        self.agent = agent
        self.started = time.monotonic()
        self.ended: float | None = None
        self.result: Any = None
        self.reported = False       # a failure is reported by the first wait that sees it
        self.task: asyncio.Task[Any] | None = None
        self.handles: tuple[Any, ...] = ()
        self.shown: dict[int, tuple[Any, dict[str, Any]]] = {}   # the last of each display
        self.renderer: StreamRenderer | None = None

    @property
    def text(self) -> str:
        """What arrived so far."""
        return self.renderer.text if self.renderer is not None else ""

    def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def reshow(self) -> None:
        """Send the displays' last contents again, as updates under the running cell: what was
        sent while no cell ran reached no frontend (nbclient, papermill listen cell by cell)."""
        for i, (obj, kwargs) in sorted(self.shown.items()):
            self.handles[i].update(obj, **kwargs)

    def open_displays(self) -> None:
        """The cell's two outputs, made now while the cell runs: a frontend (JupyterLab,
        nbclient) takes no new output for a cell once it has finished, only updates of displays
        it already has. So the answer is one display updated in place (no settled blocks: those
        would be new outputs), and the footer (or a failure's line) goes into a second one."""
        from IPython.display import display
        self.handles = (
            display(_Line(f"[job {self.id}: the answer streams in here; `%junis wait` waits "
                          "for it]"), display_id=True),
            display(_Line(""), display_id=True))

    def into(self, obj: Any, **kwargs: Any) -> Job:
        """A renderer's `display`: the answer's display, updated (this job is the handle)."""
        self.update(obj)
        return self

    def update(self, obj: Any) -> None:
        self.shown[0] = (obj, {})
        self.handles[0].update(obj)

    def show(self, obj: Any, **kwargs: Any) -> None:
        """Into the footer's display (a failure's line, or the footer)."""
        self.shown[1] = (obj, kwargs)
        self.handles[1].update(obj, **kwargs)

    def fail(self, line: str) -> None:
        """The job's one line in its footer display (the answer's placeholder goes if nothing
        arrived); `%junis jobs` and `%junis wait` say it too."""
        self.error = line
        if not self.text:
            self.update(_Line(""))
        self.show(_Line(f"Junis: {config.scrub(line, config.current_key())}", error=True))
        self.state = JobState.FAILED

    @property
    def elapsed(self) -> float:
        return (self.ended if self.ended is not None else time.monotonic()) - self.started

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.state.value}, cell {self.cell}, {len(self.text)} characters>"


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running this (synchronous) code, as ipykernel runs a cell; else None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Jobs:
    """The kernel's background jobs, in the order they started."""

    def __init__(self, cell_count: Callable[[], int | None]) -> None:
        self.cell_count = cell_count       # the running cell's execution count
        self.all: list[Job | BatchJob] = []

    def start(self, cell: int | None, agent: str | None, loop: asyncio.AbstractEventLoop,
              work: Callable[[Job], Coroutine[Any, Any, None]]) -> Job:
        """A job for the running cell: its two displays made now, `work(job)` run as a task."""
        job = Job(len(self.all) + 1, cell, agent)
        self.all.append(job)
        job.open_displays()
        # An empty context: the task's messages take the kernel's current parent header, that of
        # the cell running when they are sent (a frontend applies a display update by id only
        # while it listens, i.e. for the running cell); the displays were made by this cell.
        # (`create_task(context=...)` is 3.11's: a task takes a copy of the context it is made in.)
        job.task = contextvars.Context().run(loop.create_task, _guarded(job, work(job)))
        return job

    def pick(self, args: list[str], verb: str) -> list[Job | BatchJob]:
        if not args:
            return list(self.all)
        picked = []
        for word in args:
            if not word.isdigit() or not 1 <= int(word) <= len(self.all):
                raise errors.ConfigurationError(
                    f"usage: %junis {verb} [ID ...], IDs from `%junis jobs` "
                    f"({'none yet' if not self.all else f'1 to {len(self.all)}'}), not {word!r}.")
            picked.append(self.all[int(word) - 1])
        return picked

    def frame(self) -> Any:
        import pandas as pd
        jobs = self.all
        return pd.DataFrame({
            "id": pd.array([j.id for j in jobs], dtype="Int64"),
            "cell": pd.array([j.cell for j in jobs], dtype="Int64"),
            "agent": pd.array([j.agent or ORCHESTRATOR for j in jobs], dtype="string"),
            "state": pd.Categorical([j.state.value for j in jobs],
                                    categories=[s.value for s in JobState]),
            "tokens": pd.array([j.tokens for j in jobs], dtype="Int64"),
            "elapsed_s": pd.array([round(j.elapsed, 2) for j in jobs], dtype="Float64"),
            "error": pd.array([j.error for j in jobs], dtype="string"),
        })

    def adopt(self, job: BatchJob) -> None:
        """A background batch (`ask_many(..., background=True)`) joins the list: its id, the
        cell that started it, and an awaitable of its end for `%junis wait`."""
        job.id = len(self.all) + 1
        job.cell = self.cell_count()
        loop = running_loop()
        if loop is not None:
            job.task = asyncio.wrap_future(job.future, loop=loop)
            job.task.add_done_callback(lambda task: task.cancelled() or task.exception())
        self.all.append(job)

    def cancel(self, jobs: list[Job | BatchJob]) -> int:
        """Stop those still going; each keeps what arrived (text, answered rows). The number
        stopped."""
        stopped = 0
        for job in jobs:
            if not job.state.over:
                job.stop()
                stopped += 1
        return stopped

    async def wait(self, jobs: list[Job | BatchJob]) -> list[Job | BatchJob]:
        """Until every one of `jobs` has ended; the failed ones not reported by an earlier wait
        (each failure fails one wait, not every wait after it). Cancelling this wait (an
        interrupt) cancels none of them."""
        tasks = [j.task for j in jobs if j.task is not None and not j.task.done()]
        if tasks:
            await asyncio.wait(tasks)
        return self.unreported(jobs)

    def unreported(self, jobs: list[Job | BatchJob]) -> list[Job | BatchJob]:
        """The failed ones of `jobs` no wait has reported yet, now counted as reported."""
        failed = [j for j in jobs if j.state is JobState.FAILED and not j.reported]
        for job in failed:
            job.reported = True
        return failed

async def _guarded(job: Job, work: Coroutine[Any, Any, None]) -> None:
    """Whatever the work raises ends the job failed, never as a task's traceback."""
    try:
        await work
    except BaseException as exc:    # noqa: BLE001 - a task has nobody to raise to
        if not job.state.over:
            job.error, job.state = f"{type(exc).__name__}: {exc}", JobState.FAILED
    finally:
        job.ended = time.monotonic()


class _Line:
    """A line of text in a display (a placeholder, or a failure's line)."""

    def __init__(self, text: str, error: bool = False) -> None:
        self.text = text
        self.error = error

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        import html
        style = ' style="color:var(--jp-error-color1, #c62828)"' if self.error else ""
        return {"text/plain": self.text,
                "text/html": f"<pre{style}>{html.escape(self.text)}</pre>" if self.text else ""}
