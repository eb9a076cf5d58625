"""Background cells: `%%junis --background`, `%junis jobs | wait | cancel`.

A background cell is prepared exactly as a foreground one (the magic's `_prepare`: options,
interpolation, the chain's place, the cache key, a renderer) and settled exactly as one
(`_settle`: the cache, the chain, `_junis`/`--out`, the footer); only the request in between runs
as a task on the kernel's event loop, through the async client, as the chat panel's does. The
cell returns at once.

How the answer reaches its own cell: a frontend (JupyterLab, nbclient) takes no new output for a
cell once it has finished, only updates of displays it already has. So the job makes its two
displays (the answer, and the footer or a failure's line) while the cell runs, and afterwards only
updates them, by display id. The task runs in an empty context, so those updates carry the parent
header of the cell running when they are sent, which is the one a frontend listens to; the
display id takes them to this cell's outputs. A background answer is therefore one display
updated in place, not settled into outputs block by block as a foreground answer is; re-sending
it is paid for by its growth (`budget.py`), so a long one is updated about once a second.

`%junis wait` must let the loop run the jobs while it waits, so it cannot be a plain call: on a
line of its own in a kernel, an input transformer turns it into `await ...` (IPython then runs the
cell as a coroutine on the kernel's loop, as it does any cell with a top-level await). Interrupting
the kernel cancels that wait, never the jobs. Where no loop runs (terminal IPython), a background
cell runs in the foreground and says so.
"""
from __future__ import annotations

import asyncio
import contextvars
import re
import time
from typing import TYPE_CHECKING, Any

from traitlets import HasTraits, Integer, Unicode, UseEnum

from .. import config, errors
from ..data.background import BatchJob, JobState
from .cellerror import AnswerInterrupted

if TYPE_CHECKING:
    from .magics import JunisMagics

__all__ = ["Job", "Jobs", "running_loop", "await_wait"]


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
        self.text = ""              # what arrived so far
        self.result: Any = None
        self.task: asyncio.Task[Any] | None = None
        self.handles: tuple[Any, ...] = ()
        self.shown: dict[int, tuple[Any, dict[str, Any]]] = {}   # the last of each display

    def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def reshow(self) -> None:
        """Send the displays' last contents again, as updates under the running cell: what was
        sent while no cell ran reached no frontend (nbclient, papermill listen cell by cell)."""
        for i, (obj, kwargs) in sorted(self.shown.items()):
            self.handles[i].update(obj, **kwargs)

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

    def __init__(self, magics: "JunisMagics") -> None:
        self.magics = magics
        self.all: list[Job] = []

    def start(self, ask: Any, loop: asyncio.AbstractEventLoop) -> Job:
        job = Job(len(self.all) + 1, ask.count, ask.opts.agent)
        self.all.append(job)
        _outputs(job, ask, self.magics.update_hz)
        # An empty context: the task's messages take the kernel's current parent header, that of
        # the cell running when they are sent (a frontend applies a display update by id only
        # while it listens, i.e. for the running cell); the displays were made by this cell.
        job.task = loop.create_task(self._run(job, ask), context=contextvars.Context())
        return job

    def pick(self, args: list[str], verb: str) -> list[Job]:
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
            "agent": pd.array([j.agent for j in jobs], dtype="string"),
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
        job.cell = getattr(self.magics.shell, "execution_count", None)
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

    async def wait(self, jobs: list[Job]) -> list[Job]:
        """Until every one of `jobs` has ended; the failed ones. Cancelling this wait (an
        interrupt) cancels none of them."""
        tasks = [j.task for j in jobs if j.task is not None and not j.task.done()]
        if tasks:
            await asyncio.wait(tasks)
        return [j for j in jobs if j.state is JobState.FAILED]

    # -- the job ----------------------------------------------------------------------------

    async def _run(self, job: Job, ask: Any) -> None:
        try:
            await self._work(job, ask)
        except BaseException as exc:    # noqa: BLE001 - never a traceback from a task
            if not job.state.over:
                job.error, job.state = f"{type(exc).__name__}: {exc}", JobState.FAILED

    async def _work(self, job: Job, ask: Any) -> None:
        from ..advice import Surface, advise
        magics = self.magics
        chain = magics.chain
        request = magics._request_args(ask.opts, ask.cell_id)
        client = None
        # The server's session gets this turn only when it ends: cells run meanwhile fork from
        # the chain rather than pile onto that session, and the turn is live only if the chain
        # did not move meanwhile.
        chain.lose_sync()
        turns = list(chain.turns)
        job.state = JobState.RUNNING
        try:
            try:
                client = magics.client.to_async()
                result = await self._ask(job, ask, client, request)
            except BaseException:
                chain.lose_sync()
                raise
            live = list(chain.turns) == turns and chain.plan(None).session_id is None
            job.result = result
            job.tokens = result.usage.completion_tokens or job.tokens
            try:
                magics._settle(ask, result, live=live,
                               note="cancelled" if result.interrupted else None)
            except AnswerInterrupted:
                pass
            job.state = JobState.CANCELLED if result.interrupted else JobState.DONE
        except asyncio.CancelledError:      # before an answer began
            ask.renderer.finish(note="cancelled")
            job.state = JobState.CANCELLED
        except Exception as exc:            # noqa: BLE001 - the cell's one line, never a traceback
            line = advise(exc, Surface.CELL, base_url=magics._base_url())
            job.error = line
            if not job.text:                # no answer: the placeholder goes
                job.shown[0] = (_Line(""), {})
                job.handles[0].update(_Line(""))
            ask.show(_Line(f"Junis: {config.scrub(line, config.current_key())}", error=True))
            job.state = JobState.FAILED
        finally:
            job.ended = time.monotonic()
            if client is not None:
                await client.aclose()

    async def _ask(self, job: Job, ask: Any, client: Any, request: dict[str, Any]) -> Any:
        """The answer, streamed into the cell's renderer (or whole, with --no-stream)."""
        from ..data import estimate
        renderer, opts = ask.renderer, ask.opts
        if not opts.stream:
            result = await client.chat(ask.prompt, **request)
            job.text = result.text
            renderer.feed(result.text)
            renderer.finish()
            return result
        stream = client.stream(ask.prompt, **request)
        try:
            async with stream:
                async for chunk in stream:
                    renderer.feed(chunk.text)
                    job.text = stream.text
                    job.tokens = estimate.tokens(job.text)
        except asyncio.CancelledError:
            if stream.result is None:       # stopped before the answer began
                raise
            renderer.finish(note="cancelled")
            return stream.result
        except errors.StreamError as exc:
            self.magics._broken(exc, renderer, opts)
            raise
        renderer.finish()
        return stream.result


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


def _outputs(job: Job, ask: Any, update_hz: float) -> None:
    """The cell's outputs, made now while the cell runs: a frontend (JupyterLab, nbclient) takes
    no new output for a cell once it has finished, only updates of displays it already has. So
    the answer is one display updated in place (no settled blocks: those would be new outputs),
    and the footer (or a failure's line) goes into a second one."""
    from IPython.display import display
    from .render import StreamRenderer
    answer = display(_Line(f"[job {job.id}: the answer streams in here; `%junis wait` waits "
                           "for it]"), display_id=True)
    footer = display(_Line(""), display_id=True)

    class Into:         # the renderer's handle: each update is kept for `reshow`
        def update(self, obj: Any) -> None:
            job.shown[0] = (obj, {})
            answer.update(obj)

    def into(obj: Any, **kwargs: Any) -> Any:
        handle = Into()
        handle.update(obj)
        return handle

    def show(obj: Any, **kwargs: Any) -> None:
        job.shown[1] = (obj, kwargs)
        footer.update(obj, **kwargs)

    job.handles = (answer, footer)

    ask.renderer = StreamRenderer(ask.mode, update_hz=update_hz, display=into,
                                  segment_chars=1 << 62)
    ask.show = show


# -- `%junis wait`, awaited --------------------------------------------------------------------

_WAIT_LINE = re.compile(r"^(\s*)get_ipython\(\)\.run_line_magic\('junis', '(wait(?: [\d ]*)?)'\)\s*$")


def await_wait(lines: list[str]) -> list[str]:
    """IPython input transformer: a `%junis wait` line of its own becomes an awaited wait, so the
    cell runs as a coroutine on the kernel's loop and the jobs go on while it waits. Only where
    a loop runs this cell (ipykernel) and IPython awaits top-level code."""
    if not any("run_line_magic('junis', 'wait" in line for line in lines):
        return lines
    from .magics import _instance
    shell = getattr(_instance, "shell", None)
    if shell is None or running_loop() is None or not getattr(shell, "autoawait", False):
        return lines
    out = []
    for line in lines:
        m = _WAIT_LINE.match(line.rstrip("\n"))
        if m:
            line = (f"{m.group(1)}await __import__('junis_jupyter.notebook.jobs', fromlist=['_'])"
                    f".wait_line({m.group(2)[4:].strip()!r})\n")
        out.append(line)
    return out


async def wait_line(args: str) -> None:
    """`%junis wait [ID ...]` as awaited: fails the cell (one line) if a job failed."""
    from .magics import _instance
    magics = _instance
    if magics is None:
        return
    try:
        jobs = magics.jobs.pick(args.split(), "wait")
        try:
            failed = await magics.jobs.wait(jobs)
            for job in jobs:
                job.reshow()
        except asyncio.CancelledError:
            raise errors.ConfigurationError(
                "interrupted: stopped waiting; the jobs go on (`%junis jobs` shows them, "
                "`%junis cancel` stops them).") from None
        if failed:
            ids = ", ".join(str(j.id) for j in failed)
            raise errors.ConfigurationError(
                f"job{'s' if len(failed) > 1 else ''} {ids} failed: {failed[0].error}")
    except errors.JunisError as exc:
        magics._fail(str(exc))
