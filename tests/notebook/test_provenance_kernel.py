"""Provenance over a real kernel (nbclient): a notebook is run, saved to disk, and read back with
nbformat alone, as a colleague opening the file would; every answer says where it came from."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from junis_jupyter import __version__, frames

pytestmark = pytest.mark.timeout(240)


def test_a_saved_notebook_says_where_every_answer_came_from(junis_env: Any,
                                                            tmp_path: Path) -> None:
    started = datetime.now(timezone.utc) - timedelta(seconds=1)
    cache = tmp_path / "report.junis-cache.sqlite"
    nb = new_notebook(cells=[
        new_code_cell(f"%load_ext junis_jupyter\n%config JunisMagics.cache_path = {str(cache)!r}"),
        new_code_cell("%%junis --new --cache use\n[[chunks=3]] Summarise churn by region"),
        new_code_cell("import json\nprint(json.dumps([_junis.session_id, _junis.id, _junis.model]))"),
        new_code_cell("%%junis --new --cache use\n[[chunks=3]] Summarise churn by region"),
        new_code_cell("%%junis --agent Writer\n[[chunks=3]] Now as a paragraph"),
        new_code_cell("print(json.dumps([_junis.session_id, _junis.id, _junis.model]))"),
    ])
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    path = tmp_path / "report.ipynb"
    nbformat.write(nb, path)

    saved = nbformat.read(path, as_version=4)          # what a reader of the file has
    said = [o["metadata"]["junis"] for cell in saved.cells for o in cell.get("outputs", [])
            if "junis" in o.get("metadata", {})]
    asked, replayed, writer = said
    first = json.loads(saved.cells[2].outputs[0]["text"])
    last = json.loads(saved.cells[5].outputs[0]["text"])
    assert [asked["session_id"], asked["message_id"], asked["model"]] == first
    assert [writer["session_id"], writer["message_id"], writer["model"]] == last
    assert asked["agent"] == "Orchestrator" and writer["agent"] == "Writer"    # named as the service names it
    assert replayed["session_id"] == asked["session_id"]    # the replay names the asked one
    assert (asked["cached"], replayed["cached"]) == (False, True)
    assert replayed["cache_key"] == asked["cache_key"] and len(asked["cache_key"]) == 64
    assert {s["package_version"] for s in said} == {__version__}
    times = [datetime.fromisoformat(s["answered_at"].replace("Z", "+00:00")) for s in said]
    assert started <= times[0] <= times[1] <= times[2] <= datetime.now(timezone.utc)

    table = frames.provenance(path)                    # the same, as a frame
    assert table["cell"].tolist() == [1, 3, 4]
    assert table["cached"].tolist() == [False, True, False]
    assert table["session_id"].tolist() == [s["session_id"] for s in said]
    assert table["answer"].iloc[0] == table["answer"].iloc[1] != ""
