"""Background cells in a real kernel (nbclient): they return at once and stream into their own
output while other cells run; jobs, wait, cancel; a failing job; one concurrency limit shared by
background cells and the chat panel."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = pytest.mark.timeout(240)

SLOW = "[[delay=0.05]] [[chunks=30]] Three ways to summarise a sales table"
JOB = "from junis_jupyter.notebook import extension; job = extension.current().jobs.all"


def execute(cwd: Path, *sources: str, allow_errors: bool = False) -> Any:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def answer(cell: Any) -> str:
    """The answer as the cell finally shows it: its parts joined, the footer left out."""
    return "".join(o["data"]["text/plain"] for o in cell.outputs
                   if o.get("output_type") == "display_data" and "junis" not in o.get("metadata", {})
                   and "text/html" in o.get("data", {}))


def footers(cell: Any) -> list[Any]:
    return [o["metadata"]["junis"] for o in cell.outputs if "junis" in o.get("metadata", {})]


def printed(cell: Any, name: str = "stdout") -> str:
    return "".join(o["text"] for o in cell.outputs
                   if o.get("output_type") == "stream" and o.get("name") == name)


def test_a_background_cell_returns_at_once_and_ends_as_a_foreground_answer(
        junis_env: Any, tmp_path: Path) -> None:
    nb = execute(tmp_path,
                 "%load_ext junis_jupyter",
                 f"%%junis --background --new --out bg\n{SLOW}",
                 f"{JOB}\nimport time\nother_done = time.monotonic()\n"
                 "print('running' if job[0].state.value == 'running' else job[0].state.value)",
                 "%junis wait",
                 "print(job[0].state.value, job[0].ended > other_done, bg is _junis,"
                 " len(bg.text) > 0)",
                 f"%%junis --new\n{SLOW}")
    background, foreground = nb.cells[1], nb.cells[5]
    assert printed(nb.cells[2]).strip() == "running"     # the other cell ran meanwhile
    assert printed(nb.cells[4]).split() == ["done", "True", "True", "True"]   # and ended first
    assert answer(background) == answer(foreground) and answer(background)
    assert [f["note"] for f in footers(background)] == [None] == [f["note"] for f in footers(foreground)]
    assert footers(background)[0]["total_tokens"] > 0
    assert printed(background) == ""        # no stray lines: two displays, as a short answer
    assert answer(nb.cells[2]) == "" and answer(nb.cells[3]) == ""   # nothing strayed elsewhere


def test_jobs_cancel_and_wait(junis_env: Any, tmp_path: Path) -> None:
    nb = execute(tmp_path,
                 "%load_ext junis_jupyter",
                 "%%junis --background --new\n[[delay=0.2]] [[chunks=200]] A long answer please",
                 "%%junis --background --new --no-stream\n[[chunks=3]] A short one",
                 f"{JOB}\nimport asyncio\nwhile not job[0].text:\n    await asyncio.sleep(0.05)",
                 "%junis cancel 1",
                 "%junis wait",
                 "frame = %junis jobs\nprint(list(frame.state.astype(str)), [int(i) for i in frame.id])\n"
                 "print(job[0].result.interrupted, len(job[0].result.text) > 0,"
                 " job[0].result.text in _junis.text or _junis is job[1].result)")
    assert "1 job stopped" in printed(nb.cells[4])
    states, rest = printed(nb.cells[6]).splitlines()
    assert states == "['cancelled', 'done'] [1, 2]"
    assert rest.split()[:2] == ["True", "True"]
    assert footers(nb.cells[1])[0]["note"] == "cancelled"
    assert "[cancelled]" in answer(nb.cells[1]) or "cancelled" in str(nb.cells[1].outputs[-2])


def test_a_failing_job_shows_its_line_in_its_cell_and_fails_the_wait(
        junis_env: Any, tmp_path: Path) -> None:
    sources = ("%load_ext junis_jupyter",
               "%%junis --background --agent NoSuchAgent\nHello",
               "ran = True",
               "%junis wait",
               "after = 'ran'")
    nb = execute(tmp_path, *sources, allow_errors=True)
    line = "".join(o["data"]["text/plain"] for o in nb.cells[1].outputs
                   if o.get("output_type") == "display_data")
    assert line.startswith("Junis: ") and "NoSuchAgent" in line and "Traceback" not in line
    assert printed(nb.cells[2], "stderr") == ""
    errors = [o for o in nb.cells[3].outputs if o.get("output_type") == "error"]
    assert errors and "job 1 failed" in "".join(errors[0]["traceback"])
    with pytest.raises(CellExecutionError) as caught:
        execute(tmp_path, *sources)
    assert "NoSuchAgent" in str(caught.value) and "Traceback" not in str(caught.value)


def test_background_cells_and_the_panel_share_one_limit(make_emulator: Any, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    server = make_emulator(concurrency=2)
    monkeypatch.setenv("JUNIS_BASE_URL", server.url)
    monkeypatch.setenv("JUNIS_API_KEY", server.key)
    monkeypatch.setenv("JUNIS_HOME", str(tmp_path / "home"))
    slow = "[[delay=0.05]] [[chunks=20]] Answer number"
    nb = execute(tmp_path,
                 "%load_ext junis_jupyter\n%config JunisMagics.max_concurrent = 2",
                 f"%%junis --background --new\n{slow} one",
                 f"%%junis --background --new\n{slow} two",
                 f"%%junis --background --new\n{slow} three",
                 "from junis_jupyter.notebook.panel import ChatPanel\n"
                 f"panel = ChatPanel()\ntask = panel.send({slow + ' four'!r})",
                 "%junis wait\nawait panel.wait()",
                 "frame = %junis jobs\nprint(list(frame.state.astype(str)), len(panel.turns))")
    assert printed(nb.cells[6]).split("]")[0] == "['done', 'done', 'done'"
    stats = server.stats()
    assert stats["max_concurrent"] == 2
    assert 429 not in stats["by_status"] and "429" not in stats["by_status"]
    assert stats["requests"] >= 4
    for cell in nb.cells[1:4]:
        assert answer(cell) and footers(cell)[0]["note"] is None


def test_jobs_lists_the_cell_that_started_each_job(junis_env: Any, tmp_path: Path) -> None:
    """The `cell` column is the execution count the notebook shows for the cell that started
    the job (IPython 9 already counts the next cell while one runs)."""
    nb = execute(tmp_path,
                 "%load_ext junis_jupyter",
                 "x = 1",
                 "%%junis --background --new\n[[chunks=3]] Hello",
                 "from junis_jupyter import ask_many\n"
                 "batch = ask_many(['a', 'b'], background=True, progress=False)",
                 "%junis wait",
                 "frame = %junis jobs\nprint([int(c) for c in frame.cell])")
    started = [nb.cells[2].execution_count, nb.cells[3].execution_count]
    assert started == [3, 4]
    assert printed(nb.cells[5]).strip() == str(started)


def test_a_failed_job_fails_the_first_wait_that_reports_it_not_every_wait(
        junis_env: Any, tmp_path: Path) -> None:
    nb = execute(tmp_path,
                 "%load_ext junis_jupyter",
                 "%%junis --background --agent NoSuchAgent\nHello",
                 "%junis wait",
                 "%junis wait",
                 "%%junis --background --new\n[[chunks=3]] Hello",
                 "%junis wait",
                 "frame = %junis jobs\nprint(list(frame.state.astype(str)))",
                 allow_errors=True)
    errors = [[o for o in c.outputs if o.get("output_type") == "error"] for c in nb.cells]
    assert errors[2] and "job 1 failed" in "".join(errors[2][0]["traceback"])
    assert errors[3] == [] and errors[5] == []          # reported once, not at every wait
    assert printed(nb.cells[6]).strip() == "['failed', 'done']"   # still listed as failed
