"""Notebooks run by a real kernel (nbclient, nbval): a failing cell stops the run, and a notebook
recorded into the answer cache replays with no emulator, no key and no network."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = pytest.mark.timeout(180)


def notebook(*sources: str) -> Any:
    return new_notebook(cells=[new_code_cell(s) for s in sources])


def execute(nb: Any, cwd: Path) -> Any:
    NotebookClient(nb, timeout=60, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def replay_under_nbval(path: Path) -> str:
    """nbval on the stored notebook with the cache in replay mode, no key and nothing listening
    at the URL; its output (the run must pass)."""
    env = {k: v for k, v in os.environ.items() if k != "JUNIS_API_KEY"}
    env.update(JUNIS_CACHE="replay", JUNIS_BASE_URL="http://127.0.0.1:9")
    run = subprocess.run([sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env",
                          "-p", "no:cacheprovider", "-q", str(path)],
                         cwd=path.parent, env=env, capture_output=True, text=True, timeout=150)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return run.stdout


def answers(nb: Any) -> list[str]:
    """Each answer's text, as the cell finally shows it: its outputs joined (a streamed answer
    settles its finished blocks into outputs of their own), footers left out."""
    found = []
    for cell in nb.cells:
        parts = [o["data"]["text/plain"] for o in cell.get("outputs", [])
                 if o.get("output_type") == "display_data" and "junis" not in o.get("metadata", {})
                 and "text/html" in o.get("data", {})]
        if parts:
            found.append("".join(parts))
    return found


def test_a_failing_cell_stops_the_notebook_with_its_one_line(junis_env: Any, tmp_path: Path) -> None:
    nb = notebook("%load_ext junis_jupyter",
                  "%%junis --agent NoSuchAgent\nHello",
                  "after = 'ran'")
    with pytest.raises(CellExecutionError) as caught:
        execute(nb, tmp_path)
    message = str(caught.value)
    assert "Junis: " in message and "NoSuchAgent" in message
    assert "Traceback" not in message
    assert nb.cells[2].get("execution_count") is None and nb.cells[2].outputs == []


def test_a_recorded_notebook_replays_under_nbval_with_no_emulator(
        make_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = make_emulator()
    cache = tmp_path / "doc.junis-cache.sqlite"
    monkeypatch.setenv("JUNIS_BASE_URL", server.url)
    monkeypatch.setenv("JUNIS_API_KEY", server.key)
    monkeypatch.setenv("JUNIS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JUNIS_CACHE_PATH", str(cache))
    monkeypatch.setenv("JUNIS_CACHE", "use")
    sources = ("%load_ext junis_jupyter",
               "%%junis\nWhat are three good ways to summarise a sales table?",
               "%%junis\nAnd which chart fits the second one?",
               "print(_junis.text.splitlines()[0])")
    recorded = execute(notebook(*sources), tmp_path)          # misses: asked and stored
    requests = server.stats()["requests"]
    replayed = execute(notebook(*sources), tmp_path)          # hits: no request
    assert server.stats()["requests"] == requests
    assert answers(replayed) == answers(recorded) and len(answers(recorded)) == 2
    path = tmp_path / "doc.ipynb"
    nbformat.write(replayed, path)

    server.stop()
    assert "4 passed" in replay_under_nbval(path)


def test_the_context_example_notebook_replays_under_nbval_with_no_key(
        make_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """notebooks/context.ipynb (explain, fix, a data view, dry runs): recorded once, then nbval
    replays it with the emulator stopped, no key and nothing listening at the URL."""
    server = make_emulator()
    monkeypatch.setenv("JUNIS_BASE_URL", server.url)
    monkeypatch.setenv("JUNIS_API_KEY", server.key)
    monkeypatch.setenv("JUNIS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JUNIS_CACHE_PATH", str(tmp_path / "context.junis-cache.sqlite"))
    monkeypatch.setenv("JUNIS_CACHE", "use")
    example = Path(__file__).resolve().parents[2] / "notebooks" / "context.ipynb"
    execute(nbformat.read(example, as_version=4), tmp_path)            # asked and stored
    requests = server.stats()["requests"]
    replayed = execute(nbformat.read(example, as_version=4), tmp_path)  # from the cache
    assert server.stats()["requests"] == requests
    path = tmp_path / "context.ipynb"
    nbformat.write(replayed, path)

    server.stop()
    out = replay_under_nbval(path)
    assert " passed" in out and "failed" not in out
