"""The transcript log (data/transcript.py): every surface's turns written once by the answer
pipeline, with their provenance; searched in any case; masked of the key; off when asked."""
from __future__ import annotations

import sqlite3
import threading
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from junis_jupyter import ask_many, frames
from junis_jupyter.data import transcript
from junis_jupyter.data.transcript import LogEntry, Transcript

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def entry(prompt: str, answer: str = "ok", *, at: datetime = T0, **fields: Any) -> LogEntry:
    return LogEntry(at=at, prompt=prompt, answer=answer, **fields)


@pytest.fixture(autouse=True)
def _switch_as_the_environment_says() -> Any:
    yield
    transcript.configure(None)        # %junis log --off in a test must not outlive it


# --- written by the pipeline, for every surface --------------------------------------------------

def test_cells_batches_and_cache_hits_are_logged_once_each(shell: Any, junis_env: Any,
                                                           tmp_path: Path) -> None:
    shell.run(f"%config JunisMagics.cache_path = {str(tmp_path / 'c.sqlite')!r}")
    shell.shell.user_ns["__session__"] = "reports/churn.ipynb"
    try:
        cell = shell.run("%%junis --new --cache use\n[[chunks=3]] Churn by region?",
                         cell_id="cell-1")
        asked = shell.shell.user_ns["_junis"]
        again = shell.run("%%junis --new --cache use\n[[chunks=3]] Churn by region?",
                          cell_id="cell-1")
    finally:
        del shell.shell.user_ns["__session__"]
    assert cell.error is None and again.error is None
    ask_many(["[[chunks=2]] one", "[[chunks=2]] two"], progress=False, cache="off")

    log = frames.log()
    assert log.dtypes.equals(frames.empty("log").dtypes)
    assert list(log["origin"]) == ["cell", "cell", "batch", "batch"]
    first, hit = log.iloc[0], log.iloc[1]
    assert first["prompt"] == "[[chunks=3]] Churn by region?"
    assert first["answer"] == asked.text and first["session_id"] == asked.session_id
    assert first["total_tokens"] == asked.usage.total_tokens > 0
    assert first["message_id"] == asked.id and first["model"] == asked.model
    assert (first["notebook"], first["cell_id"]) == ("reports/churn.ipynb", "cell-1")
    assert first["cached"] == False and len(first["cache_key"]) == 64  # noqa: E712
    assert first["credits"] == 1 and pd.isna(first["error"])
    # the replay is a turn too: same answer, nothing spent, marked as a cache hit
    assert hit["cached"] == True and hit["answer"] == first["answer"]  # noqa: E712
    assert (hit["total_tokens"], hit["credits"]) == (0, 0)
    assert hit["cache_key"] == first["cache_key"]
    assert sorted(log["prompt"][2:]) == ["[[chunks=2]] one", "[[chunks=2]] two"]
    assert log["session_id"][2:].notna().all() and log["session_id"].nunique() == 3


def test_a_broken_stream_logs_what_arrived_and_why(shell: Any, junis_env: Any) -> None:
    junis_env.faults({"kind": "cut", "after": 2, "path": "/v1/chat/completions"})
    shell.run("%%junis --new\n[[chunks=6]] Tell me about churn")
    row = frames.log().iloc[-1]
    kept = shell.shell.user_ns["_junis"].text
    assert row["error"] == "stream_error" and row["answer"] == kept and kept


def test_the_key_is_masked_before_anything_is_stored(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    key = "jns_live_Secret1234567890abcdefGHIJKLMN"
    other = "jns_live_" + "Z" * 32
    monkeypatch.setenv("JUNIS_API_KEY", key)
    log = Transcript(tmp_path / "t.sqlite3")
    log.record(entry(f"my key is {key}", f"you said {key} and {other}", notebook=key,
                     cell_id=key, error=f"bad {key}", session_id="s1", opens=f"title {key}"))
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    body = key[len("jns_live_"):]
    windows = {body[i:i + 8] for i in range(len(body) - 7)} | {other[9:17]}
    assert not [w for w in windows if w.encode() in stored]    # no 8 characters of it, anywhere
    row = log.rows()[0]
    assert row["prompt"] == "my key is jns_live_…KLMN"         # the masked form shows 4
    assert log.titles() == {"s1": "title jns_live_…KLMN"}


def test_a_key_typed_into_a_cell_never_reaches_the_log(shell: Any, junis_env: Any) -> None:
    key = junis_env.key
    cell = shell.run(f"%%junis --new\n[[echo]] My key is {key}, again: {key}")
    assert cell.error is None
    row = frames.log().iloc[-1]
    assert key not in row["prompt"] and key not in row["answer"]
    assert "jns_live_…" in row["prompt"]
    stored = b"".join(p.read_bytes() for p in transcript.default_path().parent.iterdir()
                      if p.name.startswith("transcript"))
    assert key[9:].encode() not in stored and key.encode() not in stored


# --- search ------------------------------------------------------------------------------------

def turns() -> list[LogEntry]:
    return [
        entry("Why did CHURN rise in March?", "Churn rose because of pricing.", agent="Analyst",
              notebook="/home/u/reports/q1.ipynb", at=T0 - timedelta(days=7)),
        entry("Summarise the call notes", "Customers are churning in the north.",
              agent="Research", notebook="q2.ipynb", at=T0),
        entry("Prices at the café", "Café prices rose.", agent="analyst",
              at=T0 + timedelta(hours=1)),
        entry("Net revenue by quarter", "Revenue, net of refunds, grew.", at=T0 + timedelta(days=1)),
        entry("What is C++?", "A language (see C++20).", at=T0 + timedelta(days=2)),
        entry("Weather?", "Sunny.", at=T0 + timedelta(days=3)),
    ]


@pytest.fixture
def filled(tmp_path: Path) -> Transcript:
    log = Transcript(tmp_path / "t.sqlite3")
    log.record_many(turns())
    return log


def prompts(log: Transcript, **filters: Any) -> list[str]:
    return [r["prompt"] for r in log.rows(**filters)]


def searches(log: Transcript) -> dict[str, list[str]]:
    return {q: prompts(log, q=q) for q in (
        "churn", "CHURN", "Churning", "cafe", "CAFÉ", '"net revenue"', "revenue net",
        "C++", "?", '"unclosed', "pricing march", "nothing-like-this")}


EXPECTED = {
    "churn": ["Why did CHURN rise in March?", "Summarise the call notes"],
    "CHURN": ["Why did CHURN rise in March?", "Summarise the call notes"],
    "Churning": ["Summarise the call notes"],
    "cafe": ["Prices at the café"],
    "CAFÉ": ["Prices at the café"],
    '"net revenue"': ["Net revenue by quarter"],
    "revenue net": ["Net revenue by quarter"],
    "C++": ["What is C++?"],               # the word C: not "Customers", "call", "café"
    "?": ["Why did CHURN rise in March?", "What is C++?", "Weather?"],    # no word: a plain scan
    '"unclosed': [],
    "pricing march": ["Why did CHURN rise in March?"],     # every word, prompt or answer
    "nothing-like-this": [],
}


def test_search_finds_words_in_any_case_at_the_start_of_words(filled: Transcript) -> None:
    assert filled.searchable is None or filled.searchable
    assert searches(filled) == EXPECTED
    assert filled.searchable is True            # the FTS5 index answered


def test_without_fts5_a_plain_scan_finds_the_same_but_for_accents(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transcript, "_index", lambda conn: False)    # a Python without FTS5
    plain = Transcript(tmp_path / "plain.sqlite3")
    plain.record_many(turns())
    found = searches(plain)
    assert plain.searchable is False
    # substrings, folded by Python's casefold: "cafe" is not in "café" there
    assert found == {**EXPECTED, "cafe": []}


def test_filters_narrow_the_search(filled: Transcript) -> None:
    assert prompts(filled, since="2026-03-02", until=T0 + timedelta(days=2)) == [
        "Summarise the call notes", "Prices at the café", "Net revenue by quarter"]
    assert prompts(filled, agent="ANALYST") == ["Why did CHURN rise in March?",
                                                 "Prices at the café"]
    assert prompts(filled, notebook="q1.ipynb") == ["Why did CHURN rise in March?"]
    assert prompts(filled, notebook="reports/q1.ipynb") == ["Why did CHURN rise in March?"]
    assert prompts(filled, notebook="/home/u/reports/q1.ipynb") == [
        "Why did CHURN rise in March?"]
    assert prompts(filled, notebook="1.ipynb") == []         # a path's end, not a substring
    assert prompts(filled, q="churn", since=T0) == ["Summarise the call notes"]
    assert prompts(filled, limit=2) == ["What is C++?", "Weather?"]   # the newest, oldest first
    assert filled.count(q="rose") == 2 and filled.count() == 6


def test_the_log_frame_has_its_schema_empty_or_full_and_exports_to_parquet(
        filled: Transcript, tmp_path: Path) -> None:
    full = frames.log(q="churn", path=filled.path)
    none = frames.log(q="churn", path=tmp_path / "absent.sqlite3")
    assert full.dtypes.equals(frames.empty("log").dtypes) and len(full) == 2
    assert none.dtypes.equals(frames.empty("log").dtypes) and len(none) == 0
    assert full["at"].iloc[0] == pd.Timestamp(T0 - timedelta(days=7))
    frames.to_parquet(full, tmp_path / "log.parquet")
    back = pd.read_parquet(tmp_path / "log.parquet")
    assert back["prompt"].tolist() == full["prompt"].tolist()
    assert str(back["at"].dtype) == "datetime64[ns, UTC]" and str(back["cached"].dtype) in (
        "bool", "boolean")


# --- writing never hurts the answer ------------------------------------------------------------

def test_threads_write_at_once_and_nothing_is_lost(tmp_path: Path) -> None:
    log = Transcript(tmp_path / "t.sqlite3")
    threads = [threading.Thread(target=lambda n=n: [log.record(entry(f"q{n}-{i}"))
                                                    for i in range(25)]) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.count() == 200 and log.count(q="q3") == 25


def test_a_log_that_cannot_be_written_warns_once_and_never_raises(tmp_path: Path) -> None:
    folder = tmp_path / "taken"
    folder.mkdir()
    log = Transcript(folder)                  # a folder where the file should be
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log.record(entry("one"))
        log.record(entry("two"))
    said = [str(w.message) for w in caught]
    assert len(said) == 1 and str(folder) in said[0] and "not logged" in said[0]


def test_a_damaged_log_is_one_line_naming_the_file(shell: Any, junis_env: Any) -> None:
    shell.run("%%junis --new\nHello")
    path = transcript.default_path()
    path.write_bytes(b"this is not a database, " * 400)
    cell = shell.run("%junis log")
    assert cell.error_lines() == [
        f"Junis: the transcript log {path} is damaged (file is not a database): move it aside "
        f"(rename it to transcript.sqlite3.damaged, say) and a new one is started with the next "
        "answer."]


# --- on by default, off when asked -------------------------------------------------------------

def test_junis_log_off_in_the_environment_writes_nothing(
        shell: Any, junis_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUNIS_LOG", "off")
    assert shell.run("%%junis --new\nHello").error is None
    assert not transcript.default_path().exists()
    assert "Nothing logged yet" in shell.run("%junis log").out


def test_junis_log_off_and_on_in_a_kernel(shell: Any, junis_env: Any) -> None:
    shell.run("%%junis --new\nfirst")
    off = shell.run("%junis log --off")
    assert "is off for this kernel" in off.out
    shell.run("%%junis --new\nsecond")
    shell.run("%junis log --on")
    shell.run("%%junis --new\nthird")
    assert frames.log()["prompt"].tolist() == ["first", "third"]


# --- %junis log ----------------------------------------------------------------------------------

def test_junis_log_returns_the_newest_matching_turns(shell: Any, junis_env: Any) -> None:
    for n in range(4):
        shell.run(f"%%junis --new\nQuestion {n} about churn")
    shell.run("%%junis --new\nSomething else")
    cell = shell.run("found = %junis log -q CHURN -n 2")
    found = shell.shell.user_ns["found"]
    assert found["prompt"].tolist() == ["Question 2 about churn", "Question 3 about churn"]
    assert "The newest 2 of 4 matching turns (-n 0 shows all)" in cell.out
    everything = shell.shell.run_line_magic("junis", "log -n 0")
    assert len(everything) == 5
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%d")
    later = shell.run(f"later = %junis log --since {tomorrow}")
    assert len(shell.shell.user_ns["later"]) == 0 and "No logged turn matches" in later.out
    bad = shell.run("%junis log --since someday")
    assert bad.error_lines()[0].startswith("Junis: bad option for `%junis log`")


def test_the_sqlite_file_is_plain_sqlite(filled: Transcript) -> None:
    """Other tools (the sqlite3 shell, Datasette) read the log as it is: the turns at once, the
    full-text index as of the last search (it is brought up to date by a search, not as each
    answer is written: see transcript.py)."""
    filled.count(q="anything")
    with sqlite3.connect(filled.path) as conn:
        (n,) = conn.execute("SELECT COUNT(*) FROM turns").fetchone()
        hits = conn.execute("SELECT rowid FROM turns_text WHERE turns_text MATCH 'churn*'")
        assert n == 6 and len(hits.fetchall()) == 2



def test_the_index_is_brought_up_to_date_by_a_search_not_by_each_answer(tmp_path) -> None:
    """Writing a turn costs no indexing (5 ms of CPU for an 80,000-character answer, paid in the
    answer's cell); the next search indexes every turn written since, once, whoever wrote it."""
    path = tmp_path / "t.sqlite3"
    writer, reader = Transcript(path), Transcript(path)
    writer.record(entry("first about churn"))
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM turns_text_docsize").fetchone() == (0,)
    assert reader.count(q="churn") == 1
    writer.record(entry("second about churn"))
    writer.record(entry("third, about nothing"))
    assert reader.count(q="churn") == 2 and writer.count(q="nothing") == 1
    with sqlite3.connect(path) as conn:       # each turn indexed once
        assert conn.execute("SELECT COUNT(*) FROM turns_text_docsize").fetchone() == (3,)


@pytest.mark.parametrize("fts5", [True, False])
def test_a_long_answer_is_stored_whole_and_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 fts5: bool) -> None:
    """An answer past _LONG characters goes in a piece at a time: read back whole, in any
    Python (3.10 binds it whole), and found by a word in its last piece, indexed or scanned."""
    monkeypatch.setattr(transcript, "_LONG", 1000)
    if not fts5:
        monkeypatch.setattr(transcript, "_index", lambda conn: False)
    long = "“Quoted” café words. " * 300 + "zebrafinch at the end"
    log = Transcript(tmp_path / "long.sqlite3")
    log.record_many([entry("short one", "small answer"), entry("long one", long),
                     entry("after", "another small answer")])
    rows = log.rows()
    assert [r["prompt"] for r in rows] == ["short one", "long one", "after"]
    assert rows[1]["answer"] == long and isinstance(rows[1]["answer"], str)
    assert [r["prompt"] for r in log.rows(q="zebrafinch")] == ["long one"]
    assert [r["prompt"] for r in log.rows(q="small answer")] == ["short one", "after"]
    assert log.frame(q="zebrafinch")["answer"].iloc[0] == long
    with sqlite3.connect(log.path) as conn:     # written a piece at a time where Python can
        kinds = [k for (k,) in conn.execute("SELECT typeof(answer) FROM turns ORDER BY id")]
    long_kind = "blob" if hasattr(sqlite3.Connection, "blobopen") else "text"
    assert kinds == ["text", long_kind, "text"]


def test_a_batch_in_a_notebook_cell_is_logged_and_counted_against_it(
        shell: Any, junis_env: Any) -> None:
    """Batch rows carry the notebook and the cell that started them (the extension says where),
    in the transcript log and in the usage ledger, in the foreground and in the background."""
    shell.shell.user_ns["__session__"] = "reports/batch.ipynb"
    try:
        ran = shell.run("from junis_jupyter import ask_many\n"
                        "ask_many(['[[chunks=1]] a', '[[chunks=1]] b'], progress=False, "
                        "cache='off')", cell_id="batch-cell")
        assert ran.error is None
        ran = shell.run("job = ask_many(['[[chunks=1]] c'], progress=False, cache='off', "
                        "background=True)", cell_id="bg-cell")
        assert ran.error is None
        shell.run("x = 1", cell_id="later-cell")       # the job finishes after its cell
        shell.shell.user_ns["job"].wait()
    finally:
        del shell.shell.user_ns["__session__"]
    log = frames.log()
    batch = log[log["origin"] == "batch"].set_index("prompt")
    assert list(batch["notebook"]) == ["reports/batch.ipynb"] * 3
    assert batch.loc["[[chunks=1]] a", "cell_id"] == "batch-cell"
    assert batch.loc["[[chunks=1]] c", "cell_id"] == "bg-cell"
    calls = frames.usage()
    chat = calls[calls["endpoint"] != "cache"]
    by_cell = chat[chat["origin"] == "batch"].groupby("cell_id").size().to_dict()
    assert by_cell == {"batch-cell": 2, "bg-cell": 1}


def test_a_batch_outside_a_kernel_has_no_place(junis_env: Any) -> None:
    ask_many(["[[chunks=1]] alone"], progress=False, cache="off")
    row = frames.log().iloc[-1]
    assert row["origin"] == "batch" and pd.isna(row["notebook"]) and pd.isna(row["cell_id"])
