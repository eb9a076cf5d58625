"""Provenance (data/provenance.py): each answer's footer output carries where the answer came
from in its metadata, and `frames.provenance` reads a saved notebook's answers back."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from junis_jupyter import __version__, frames

FIELDS = {"session_id", "message_id", "agent", "model", "cache_key", "cached", "package_version",
          "answered_at"}


def junis(cell: Any) -> dict[str, Any]:
    return cell.footer["metadata"]["junis"]


def test_an_answer_says_where_it_came_from(shell: Any, junis_env: Any, tmp_path: Path) -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    cell = shell.run("%%junis --new --agent Research\n[[chunks=3]] Where from?")
    said, result = junis(cell), shell.shell.user_ns["_junis"]
    assert FIELDS <= set(said)
    assert (said["session_id"], said["message_id"], said["agent"], said["model"]) == (
        result.session_id, result.id, "Research", result.model)
    assert said["message_id"] and said["model"] == "gemini/gemini-2.5-flash"
    assert (said["cache_key"], said["cached"]) == (None, False)        # the cache is off
    assert said["package_version"] == __version__
    answered = datetime.fromisoformat(said["answered_at"].replace("Z", "+00:00"))
    assert before <= answered <= datetime.now(timezone.utc)


def test_a_cached_answer_says_so_with_its_key(shell: Any, junis_env: Any,
                                              tmp_path: Path) -> None:
    shell.run(f"%config JunisMagics.cache_path = {str(tmp_path / 'c.sqlite')!r}")
    asked = junis(shell.run("%%junis --new --cache use\n[[chunks=2]] Cache me"))
    replayed = junis(shell.run("%%junis --new --cache use\n[[chunks=2]] Cache me"))
    assert asked["cached"] is False and replayed["cached"] is True
    assert asked["cache_key"] == replayed["cache_key"] and len(asked["cache_key"]) == 64
    assert replayed["session_id"] == asked["session_id"]
    # the answer it replays: its message and model, not asked again
    assert asked["message_id"] and asked["model"]
    assert (replayed["message_id"], replayed["model"]) == (asked["message_id"], asked["model"])


def test_a_cache_file_from_before_message_ids_were_kept_still_replays(
        shell: Any, junis_env: Any, tmp_path: Path) -> None:
    """A cache file made before the message_id and model columns: its rows replay (unknown
    provenance stays None), and new answers are stored with them."""
    import sqlite3
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE answers (key TEXT PRIMARY KEY, answer TEXT NOT NULL, "
                   "session_id TEXT, agent TEXT, prompt_tokens INTEGER NOT NULL, "
                   "completion_tokens INTEGER NOT NULL, total_tokens INTEGER NOT NULL, "
                   "stored_at TEXT NOT NULL)")
    shell.run(f"%config JunisMagics.cache_path = {str(path)!r}")
    first = junis(shell.run("%%junis --new --cache use\n[[chunks=2]] Old file"))
    with sqlite3.connect(path) as db:
        columns = [r[1] for r in db.execute("PRAGMA table_info(answers)")]
        db.execute("UPDATE answers SET message_id = NULL, model = NULL")   # as an old row
        db.execute("INSERT INTO answers (key, answer, session_id, agent, prompt_tokens, "
                   "completion_tokens, total_tokens, stored_at) "
                   "VALUES ('x', 'y', 's', 'a', 1, 1, 2, '2026-01-01')")
    assert {"message_id", "model"} <= set(columns) and first["message_id"]
    replayed = shell.run("%%junis --new --cache use\n[[chunks=2]] Old file")
    said = junis(replayed)
    assert replayed.error is None and said["cached"] is True
    assert said["message_id"] is None and said["model"] is None
    assert shell.shell.user_ns["_junis"].text


def test_reading_a_saved_notebook_tolerates_old_and_edited_footers(tmp_path: Path) -> None:
    answer = new_output("display_data", data={"text/plain": "An answer", "text/html": "<p>"})
    stamped = new_output("display_data", data={"text/plain": "[session s1]"}, metadata={
        "junis": {"session_id": "s1", "message_id": "cmpl-1", "agent": "Writer", "model": "m",
                  "cache_key": "k" * 64, "cached": False, "package_version": "0.1.0",
                  "answered_at": "2026-03-01T09:00:00.000Z"}})
    old = new_output("display_data", data={"text/plain": "[session s2]"},
                     metadata={"junis": {"session_id": "s2", "agent": None}})   # before provenance
    edited = new_output("display_data", data={"text/plain": "[?]"},
                        metadata={"junis": {"session_id": 7, "cached": "yes",
                                            "answered_at": "yesterday"}})
    nb = new_notebook(cells=[new_code_cell("x = 1"),
                             new_code_cell("%%junis\nQ", outputs=[answer, stamped]),
                             new_code_cell("%%junis\nQ2", outputs=[old]),
                             new_code_cell("%%junis\nQ3", outputs=[edited])])
    nb.cells[1].execution_count = 4
    path = tmp_path / "report.ipynb"
    nbformat.write(nb, path)
    table = frames.provenance(path)
    assert table.dtypes.equals(frames.empty("provenance").dtypes)
    assert table["cell"].tolist() == [1, 2, 3]
    first = table.iloc[0]
    assert (first["session_id"], first["agent"], first["version"], first["answer"],
            first["execution_count"]) == ("s1", "Writer", "0.1.0", "An answer", 4)
    assert first["answered_at"] == datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    assert table.iloc[1]["session_id"] == "s2" and table.iloc[1][["model", "cached"]].isna().all()
    assert table.iloc[2][["session_id", "cached", "answered_at"]].isna().all()
    assert len(frames.provenance(new_notebook())) == 0


@pytest.mark.parametrize("bad", ["no such file.ipynb"])
def test_a_missing_notebook_is_the_usual_error(bad: str, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        frames.provenance(tmp_path / bad)
