"""A batch in the background: `ask_many(..., background=True)` returns a `BatchJob` at once.

The rows are asked in a worker thread (the batch is blocking code: the pool's threads and the
blocking client), so the kernel stays free for other cells. The progress bar is made here, on
the calling thread, so it sits in the cell that started the batch and is only updated from the
worker. `%junis jobs` lists the job beside background cells (the extension adopts each job
through `ADOPTERS`, as it joins the usage ledger to the clients' observers), `%junis wait` waits
for it and `%junis cancel` stops it: calls in flight finish, every answered row stays (in the
checkpoint too), the rest are marked interrupted.
"""
from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["JobState", "BatchJob", "ADOPTERS", "start"]


class JobState(enum.Enum):
    """A background job's lifecycle: a background cell's, or a batch's."""
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def over(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


# Called with each new BatchJob; the IPython extension appends its job list here on load.
ADOPTERS: list[Callable[[BatchJob], None]] = []


class BatchJob:
    """A batch running in a worker thread. `wait()` gives its frame; `stop()` cancels it."""

    def __init__(self, total: int, agent: Any) -> None:
        self.id: int | None = None          # given by the job list that adopts it
        self.cell: int | None = None
        self.agent = agent if agent is None or isinstance(agent, str) \
            else getattr(agent, "name", None)
        self.state = JobState.QUEUED
        self.total, self.done, self.failed = total, 0, 0
        self.tokens = 0
        self.error: str | None = None
        self.result: Any = None
        self.reported = False               # a failure is reported by the first wait that sees it
        self.started = time.monotonic()
        self.ended: float | None = None
        from concurrent.futures import Future  # at the first batch, not at %load_ext
        self.future: Future[Any] = Future()
        self.task: Any = None               # the job list's awaitable of `future`, if any
        self._stop = threading.Event()

    @property
    def elapsed(self) -> float:
        return (self.ended if self.ended is not None else time.monotonic()) - self.started

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float | None = None) -> Any:
        """The batch's frame, once it has ended (an error it raised is raised here)."""
        return self.future.result(timeout)

    def reshow(self) -> None:
        """Nothing to send again: the bar is a widget, its state is kept by the frontend."""

    def __repr__(self) -> str:
        return (f"<BatchJob {self.id}: {self.state.value}, {self.done} of {self.total} rows, "
                f"{self.failed} failed>")


def _bar(total: int, done: int, show: bool | None, name: str) -> Any:
    from .progress import SHOWN_OVER
    if not (total - done > SHOWN_OVER if show is None else show):
        return None
    from tqdm.auto import tqdm
    bar = tqdm(total=total, initial=done, desc=f"{name} (background)", unit="row", leave=True)
    bar.set_postfix(failed=0, refresh=False)
    return bar


def start(run: Callable[..., Any], *, total: int, agent: Any,
          progress: bool | None, name: str = "ask_many") -> BatchJob:
    """Run `run(stop=..., on_row=...)` (the batch) in a worker thread; the job, at once. `name`:
    the call the user made, for the progress bar."""
    job = BatchJob(total, agent)
    bar = _bar(total, 0, progress, name)

    def on_row(done: int, of: int, failed: int) -> None:
        if bar is not None:
            bar.update(done - job.done)
            if failed != job.failed:
                bar.set_postfix(failed=failed, refresh=False)
        job.done, job.failed = done, failed

    def work() -> None:
        job.state = JobState.RUNNING
        try:
            frame = run(stop=job._stop, on_row=on_row)
        except BaseException as exc:  # noqa: BLE001 - the job keeps it; wait() raises it
            job.error = f"{type(exc).__name__}: {exc}"
            job.state = JobState.FAILED
            job.future.set_exception(exc)
        else:
            job.result = frame
            job.tokens = int(frame["tokens"].fillna(0).sum())
            job.state = JobState.CANCELLED if job._stop.is_set() else JobState.DONE
            job.future.set_result(frame)
        finally:
            job.ended = time.monotonic()
            if bar is not None:
                bar.close()

    for adopt in ADOPTERS:
        adopt(job)
    threading.Thread(target=work, name=f"junis-batch-{job.id or ''}", daemon=True).start()
    return job
