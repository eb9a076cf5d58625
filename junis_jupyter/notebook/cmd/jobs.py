"""The background jobs: `%junis jobs`, `wait`, `cancel` (notebook/jobs.py runs them)."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ... import errors

if TYPE_CHECKING:
    from ..state import KernelState

__all__ = ["jobs", "wait", "cancel", "await_wait", "AWAITED"]

AWAITED = "--awaited"
_WAIT_LINE = re.compile(
    r"^(\s*)get_ipython\(\)\.run_line_magic\('junis', 'wait((?: [\d ]*)?)'\)\s*$")


def await_wait(lines: list[str]) -> list[str]:
    """IPython input transformer: a `%junis wait` line of its own becomes an awaited
    `%junis wait --awaited` (which returns a coroutine), so the cell runs as a coroutine on the
    kernel's loop and the jobs go on while it waits. Only where a loop runs this cell
    (ipykernel) and IPython awaits top-level code; asyncio is imported only for such a line."""
    if not any("run_line_magic('junis', 'wait" in line for line in lines):
        return lines
    from IPython import get_ipython

    from ..jobs import running_loop
    shell = get_ipython()
    if shell is None or running_loop() is None or not getattr(shell, "autoawait", False):
        return lines
    out = []
    for line in lines:
        m = _WAIT_LINE.match(line.rstrip("\n"))
        if m:
            line = (f"{m.group(1)}await get_ipython().run_line_magic('junis', "
                    f"'wait {AWAITED}{m.group(2)}')\n")
        out.append(line)
    return out


def jobs(state: KernelState, args: list[str]) -> Any:
    if args:
        raise errors.ConfigurationError("usage: %junis jobs")
    return state.jobs.frame()


def wait(state: KernelState, args: list[str]) -> Any:
    """`--awaited` (what the input transformer writes, on a line of its own in a kernel): a
    coroutine the cell awaits, so the loop runs the jobs meanwhile. Otherwise (a terminal, or
    inside other code) a blocking wait, which only background batches (threads) can end."""
    from ..jobs import running_loop
    if args[:1] == [AWAITED]:
        return _awaited(state, args[1:])
    picked = state.jobs.pick(args, "wait")
    going = [j for j in picked if not j.state.over]
    if going and running_loop() is not None:
        raise errors.ConfigurationError(
            "`%junis wait` waits only on a line of its own at the top of a cell (the jobs run "
            "on this kernel's loop, which a blocking wait would stop).")
    for job in going:            # no loop: only background batches (threads) can be running
        future = getattr(job, "future", None)
        if future is not None:
            try:
                future.result()
            except Exception:       # noqa: BLE001 - the job keeps it; the line below says it
                pass
    failed = state.jobs.unreported(picked)
    if failed:
        raise errors.ConfigurationError(f"job {failed[0].id} failed: {failed[0].error}")
    return None


def cancel(state: KernelState, args: list[str]) -> None:
    stopped = state.jobs.cancel(state.jobs.pick(args, "cancel"))
    print(f"Junis: {stopped} job{'' if stopped == 1 else 's'} stopped; the text that arrived "
          "is kept.")


async def _awaited(state: KernelState, args: list[str]) -> None:
    """`%junis wait [ID ...]` as awaited: fails the cell (one line) if a job failed."""
    import asyncio
    try:
        picked = state.jobs.pick(args, "wait")
        try:
            failed = await state.jobs.wait(picked)
            for job in picked:
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
        state.fail(str(exc))
