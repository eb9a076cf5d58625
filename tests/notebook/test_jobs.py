"""Background cells without a kernel loop (the shared shell, like terminal IPython): they run
in the foreground and say so; the commands, the help, the limit setting, the wait transformer."""
from __future__ import annotations

import asyncio
from typing import Any

from junis_jupyter.client import limiter
from junis_jupyter.data.background import JobState
from junis_jupyter.notebook.cmd.jobs import await_wait


def test_without_a_loop_background_runs_in_the_foreground_and_says_so(shell: Any,
                                                                        junis_env: Any) -> None:
    cell = shell.run("%%junis --background --new --out bg\n[[chunks=3]] [[echo]] one two three")
    assert cell.error is None, cell.error
    assert "--background runs in the foreground" in cell.out
    assert shell.shell.user_ns["bg"].text == "one two three"
    frame = shell.run("jobs = %junis jobs").error is None and shell.shell.user_ns["jobs"]
    assert list(frame.columns) == ["id", "cell", "agent", "state", "tokens", "elapsed_s", "error"]
    assert list(frame.state.cat.categories) == [s.value for s in JobState]
    assert shell.run("%junis wait").error is None


def test_bad_job_ids_fail_with_one_line(shell: Any, junis_env: Any) -> None:
    cell = shell.run("%junis cancel 99")      # the shared shell prints (on_error='print')
    assert "%junis cancel [ID ...]" in str(cell.error or "") + cell.err


def test_help_lists_the_commands_and_the_limit_follows_the_config(shell: Any,
                                                                 junis_env: Any) -> None:
    out = shell.run("%junis help").out
    for word in ("--background", "%junis jobs", "%junis wait", "%junis cancel", "max_concurrent"):
        assert word in out
    assert limiter.current() is not None              # the extension installed it
    shell.run("%config JunisMagics.max_concurrent = 2")
    assert limiter.current().limit == 2
    shell.run("%config JunisMagics.max_concurrent = 5")
    assert limiter.current().limit == 5


def test_wait_is_awaited_only_on_a_line_of_its_own_under_a_running_loop(shell: Any) -> None:
    lines = ["get_ipython().run_line_magic('junis', 'wait 1 2')\n"]
    assert await_wait(lines) == lines                 # no loop runs: left as it is

    async def inside() -> list[str]:
        return await_wait(lines + ["x = get_ipython().run_line_magic('junis', 'wait')\n"])

    rewritten = asyncio.run(inside())
    assert rewritten[0].startswith("await ") and "'wait --awaited 1 2'" in rewritten[0]
    assert not rewritten[1].startswith("await")
