"""A notebook is a document: failing cells fail, commands return frames, the conversation follows
the cells (by cell id), answers replay from a cache, and the client follows the key.

A real InteractiveShell (tests/support/shells.py) against the emulator over loopback; cell ids are
passed to `run_cell` as JupyterLab's kernel does.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from junis_jupyter import config, frames
from junis_jupyter.client.sync import JunisClient
from junis_jupyter.data import ledger
from junis_jupyter.notebook.cellerror import CellError

from support.shells import MagicShell


@pytest.fixture
def nb(shell: MagicShell, junis_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MagicShell:
    """The shared shell with failing cells raising and the answer cache in a fresh file."""
    monkeypatch.setattr(shell.magic, "on_error", "raise")
    monkeypatch.setenv("JUNIS_CACHE_PATH", str(tmp_path / "answers.junis-cache.sqlite"))
    monkeypatch.delenv("JUNIS_CACHE", raising=False)
    return shell


def answer(nb: MagicShell, source: str, cell_id: str | None = None) -> Any:
    cell = nb.run(source, cell_id=cell_id)
    assert cell.error is None, (cell.error, cell.out, cell.err)
    return nb.shell.user_ns["_junis"]


# -- 1. failing cells fail -------------------------------------------------------------------

@pytest.mark.parametrize("source, words", [
    ("%%junis --agent NoSuchAgent\nHi", "NoSuchAgent"),
    ("%%junis --temperature warm\nHi", "bad option"),
    ("%%junis --session 00000000-0000-0000-0000-000000000000\nHi", "session_not_found"),
    ("%junis no-such-command", "unknown command"),
])
def test_a_failing_cell_fails_with_one_line(nb: MagicShell, source: str, words: str) -> None:
    cell = nb.run(source)
    assert isinstance(cell.error, CellError)
    assert words in cell.error.line and "\n" not in cell.error.line
    assert cell.error._render_traceback_() == [f"Junis: {cell.error.line}"]


def test_a_refused_key_fails_the_cell_without_the_key(nb: MagicShell, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = "jns_live_" + "Z" * 32
    monkeypatch.setenv("JUNIS_API_KEY", bad)
    cell = nb.run("%%junis\nHi")
    assert isinstance(cell.error, CellError) and "401" in cell.error.line
    assert bad not in cell.error.line and bad not in cell.out + cell.err


def test_a_broken_stream_fails_the_cell_and_keeps_the_text(nb: MagicShell, emulator: Any) -> None:
    emulator.faults({"kind": "cut", "after": 3, "path": "/v1/chat"})
    cell = nb.run("%%junis\n[[chunks=8]] A story")
    assert isinstance(cell.error, CellError) and "broke off" in cell.error.line
    kept = nb.shell.user_ns["_junis"]
    assert kept.text and cell.shown.startswith(kept.text)


def test_on_error_print_restores_print_and_succeed(nb: MagicShell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nb.magic, "on_error", "print")
    cell = nb.run("%%junis --agent NoSuchAgent\nHi")
    assert cell.error is None
    assert [line for line in cell.err.splitlines() if line.strip()][0].startswith("Junis: ")


# -- 2. line commands return their frame -------------------------------------------------------

@pytest.mark.parametrize("command, kind", [("agents", "agents"), ("sessions", "sessions"),
                                           ("history", "messages")])
def test_line_commands_return_the_frames_schema(nb: MagicShell, command: str, kind: str) -> None:
    answer(nb, "%%junis\nHello")
    df = nb.shell.run_line_magic("junis", command)
    assert isinstance(df, pd.DataFrame) and len(df) > 0
    assert df.dtypes.equals(frames.empty(kind).dtypes)


def test_a_command_as_the_last_line_shows_only_its_frame(nb: MagicShell) -> None:
    cell = nb.run("agents = %junis agents\nagents")
    assert cell.error is None
    assert isinstance(nb.shell.user_ns["agents"], pd.DataFrame)
    assert "[7 rows x 8 columns]" in cell.out          # the displayhook's one table
    assert cell.events == []                            # and nothing displayed besides it


def test_usage_returns_the_summary_frame_and_calls_the_ledger_frame(nb: MagicShell) -> None:
    answer(nb, "%%junis\nHello")
    df = nb.shell.run_line_magic("junis", "usage")
    assert isinstance(df, pd.DataFrame) and len(df) >= 1
    assert df.dtypes.equals(frames.empty("usage_summary").dtypes)
    calls = nb.shell.run_line_magic("junis", "usage --calls")
    assert isinstance(calls, pd.DataFrame) and len(calls) >= 1
    assert calls.dtypes.equals(frames.empty("usage").dtypes)


# -- 3. the conversation follows the notebook ---------------------------------------------------

def _run_all(nb: MagicShell, cells: list[tuple[str, str]]) -> list[int]:
    return [answer(nb, f"%%junis\n{prompt}", cell_id).usage.prompt_tokens for cell_id, prompt in cells]


def test_run_all_twice_sends_the_same_prompt_tokens(nb: MagicShell) -> None:
    cells = [("c1", "What is a p-value?"), ("c2", "And a confidence interval?"),
             ("c3", "Which should I report?")]
    first = _run_all(nb, cells)
    second = _run_all(nb, cells)
    assert first == second and first[0] < first[1] < first[2]


def test_editing_a_cell_forks_and_later_cells_see_only_the_new_turn(nb: MagicShell) -> None:
    answer(nb, "%%junis\n[[echo]] one", "c1")
    answer(nb, "%%junis\n[[echo]] two", "c2")
    answer(nb, "%%junis\n[[echo]] one, edited", "c1")
    last = answer(nb, "%%junis\n[[echo]] two again", "c2")
    with JunisClient() as client:
        history = [(m.role, m.content) for m in client.messages(last.session_id)]
    assert history == [("user", "[[echo]] one, edited"), ("assistant", "one, edited"),
                       ("user", "[[echo]] two again"), ("assistant", "two again")]
    chain = nb.shell.run_line_magic("junis", "conversation")
    assert chain["cell_id"].tolist() == ["c1", "c2"]
    ran = nb.shell.execution_count - 1              # the count of the last cell run ("two again")
    assert chain["cell"].tolist() == [f"[{ran - 1}]", f"[{ran}]"]     # `[n]`, as the notebook shows
    assert chain["session_id"].nunique() == 1 and chain["session_id"].iloc[0] == last.session_id


def test_rerunning_a_middle_cell_drops_the_later_turns(nb: MagicShell) -> None:
    for cell_id in ("c1", "c2", "c3"):
        answer(nb, f"%%junis\n[[echo]] {cell_id}", cell_id)
    answer(nb, "%%junis\n[[echo]] c2 again", "c2")
    assert nb.shell.run_line_magic("junis", "conversation")["cell_id"].tolist() == ["c1", "c2"]


def test_without_cell_ids_turns_append_as_before(nb: MagicShell) -> None:
    first = answer(nb, "%%junis\nOne")
    again = answer(nb, "%%junis\nOne")
    assert again.session_id == first.session_id
    assert again.usage.prompt_tokens > first.usage.prompt_tokens


def test_new_and_session_keep_their_meaning(nb: MagicShell) -> None:
    first = answer(nb, "%%junis\nOne", "c1")
    nb.shell.run_line_magic("junis", "new")
    fresh = answer(nb, "%%junis\nTwo", "c2")
    assert fresh.session_id != first.session_id
    back = answer(nb, f"%%junis --session {first.session_id}\nThree", "c3")
    assert back.session_id == first.session_id


# -- 4. the answer cache ----------------------------------------------------------------------

def test_use_then_hit_makes_no_request(nb: MagicShell, emulator: Any) -> None:
    nb.magic.cache = "use"
    first = answer(nb, "%%junis\nExplain entropy", "c1")
    before = emulator.stats()["requests"]
    cell = nb.run("%%junis\nExplain entropy", cell_id="c1")
    assert cell.error is None and emulator.stats()["requests"] == before
    assert nb.shell.user_ns["_junis"].text == first.text
    assert cell.footer["metadata"]["junis"]["note"] == "cached"
    rows = ledger.Ledger(ledger.default_path()).rows()
    assert rows[-1]["error_code"] == "cached" and rows[-1]["total_tokens"] == 0


def test_a_changed_option_is_a_miss(nb: MagicShell, emulator: Any) -> None:
    nb.magic.cache = "use"
    answer(nb, "%%junis\nExplain entropy", "c1")
    before = emulator.stats()["requests"]
    answer(nb, "%%junis --temperature 0.2\nExplain entropy", "c1")
    assert emulator.stats()["requests"] > before


def test_replay_needs_no_key_and_no_network(nb: MagicShell, make_emulator: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    server = make_emulator()
    monkeypatch.setenv("JUNIS_BASE_URL", server.url)
    monkeypatch.setenv("JUNIS_API_KEY", server.key)
    nb.magic.cache = "use"
    cells = [("c1", "What is a p-value?"), ("c2", "And its pitfalls?")]
    recorded = [answer(nb, f"%%junis\n{p}", c).text for c, p in cells]
    server.stop()
    monkeypatch.delenv("JUNIS_API_KEY")
    monkeypatch.setenv("JUNIS_BASE_URL", "http://127.0.0.1:9")     # nothing listens there
    nb.magic.cache = "replay"
    nb.magic.session_id = None
    assert [answer(nb, f"%%junis\n{p}", c).text for c, p in cells] == recorded
    miss = nb.run("%%junis\nSomething never asked", cell_id="c3")
    assert isinstance(miss.error, CellError) and "no recorded answer" in miss.error.line


def test_a_miss_after_hits_forks_from_the_cached_turns(nb: MagicShell) -> None:
    nb.magic.cache = "use"
    answer(nb, "%%junis\n[[echo]] one", "c1")
    nb.magic.session_id = None
    answer(nb, "%%junis\n[[echo]] one", "c1")                      # a hit
    fresh = answer(nb, "%%junis\n[[echo]] two", "c2")              # a miss after it
    with JunisClient() as client:
        history = [m.content for m in client.messages(fresh.session_id)]
    assert history == ["[[echo]] one", "one", "[[echo]] two", "two"]


def test_refresh_always_asks_and_stores(nb: MagicShell, emulator: Any) -> None:
    nb.magic.cache = "refresh"
    answer(nb, "%%junis\nHi", "c1")
    before = emulator.stats()["requests"]
    answer(nb, "%%junis\nHi", "c1")
    assert emulator.stats()["requests"] > before
    nb.magic.cache = "replay"
    assert answer(nb, "%%junis\nHi", "c1").text


def test_a_corrupt_cache_warns_once_and_asks(nb: MagicShell, emulator: Any, tmp_path: Path) -> None:
    path = tmp_path / "answers.junis-cache.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    nb.magic.cache = "use"
    with pytest.warns(UserWarning, match="cannot be used"):
        first = answer(nb, "%%junis\nHi", "c1")
    assert first.text
    assert path.read_bytes() == b"this is not a database" * 100     # left as it was


def test_the_cache_file_holds_no_key(nb: MagicShell, emulator: Any, tmp_path: Path) -> None:
    nb.magic.cache = "use"
    answer(nb, f"%%junis\n[[echo]] my key is {emulator.key}", "c1")
    data = (tmp_path / "answers.junis-cache.sqlite").read_bytes()
    assert emulator.key.encode() not in data
    with sqlite3.connect(tmp_path / "answers.junis-cache.sqlite") as db:
        assert db.execute("SELECT count(*) FROM answers").fetchone()[0] == 1


def test_cache_mode_comes_from_the_environment(nb: MagicShell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUNIS_CACHE", "replay")
    assert nb.magic.trait_defaults("cache") == "replay"


# -- 5. the client follows the key ----------------------------------------------------------

def test_a_new_environment_key_rebuilds_the_client(nb: MagicShell, make_emulator: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    answer(nb, "%%junis\nHi")
    other = make_emulator()
    monkeypatch.setenv("JUNIS_BASE_URL", other.url)
    monkeypatch.setenv("JUNIS_API_KEY", other.key)
    nb.magic.session_id = None
    before = other.stats()["requests"]
    answer(nb, "%%junis\nHi again")
    assert other.stats()["requests"] == before + 1


def test_login_rebuilds_the_client(nb: MagicShell, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    answer(nb, "%%junis\nHi")
    client = nb.magic.client
    monkeypatch.setattr("getpass.getpass", lambda prompt="": emulator.new_key())
    nb.run("%junis login")
    assert nb.magic.client is not client
    assert nb.magic.client._core.key == config.resolve_key()


def test_the_cache_sits_beside_the_notebook_when_its_path_is_known(
        nb: MagicShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUNIS_CACHE_PATH")
    monkeypatch.setitem(nb.shell.user_ns, "__session__", str(tmp_path / "analysis.ipynb"))
    nb.magic.cache = "use"
    answer(nb, "%%junis\nHi", "c1")
    assert (tmp_path / "analysis.junis-cache.sqlite").exists()
    nb.magic.cache_path = str(tmp_path / "elsewhere.sqlite")          # the setting wins
    answer(nb, "%%junis\nHi again", "c2")
    assert (tmp_path / "elsewhere.sqlite").exists()
