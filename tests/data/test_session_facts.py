"""Sessions with meaning (data/session_facts.py): titles, where each began, what each cost; the
conversations a session picker lists; who took part in an orchestrated session."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from junis_jupyter import ask_many, frames
from junis_jupyter.client import JunisClient
from junis_jupyter.data import credits, transcript
from junis_jupyter.data.ledger import default_ledger


@pytest.fixture
def own(make_emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """An emulator of our own (its sessions are only this test's), the env pointing at it."""
    server = make_emulator(rpm=1_000_000)
    monkeypatch.setenv("JUNIS_BASE_URL", server.url)
    monkeypatch.setenv("JUNIS_API_KEY", server.key)
    monkeypatch.setenv("JUNIS_HOME", str(tmp_path / "home"))
    return server


def listings(endpoint: str) -> int:
    return sum(r["endpoint"] == endpoint for r in default_ledger().rows())


def test_sessions_have_titles_origins_and_costs(shell: Any, own: Any) -> None:
    shell.shell.user_ns["__session__"] = "reports/churn.ipynb"
    try:
        shell.run("%%junis --new\nWhy did churn rise\n   in   March?\n\nUse the table.",
                  cell_id="cell-a")
        first = shell.shell.user_ns["_junis"]
        shell.run("%%junis\nAnd in April?", cell_id="cell-b")       # the same session
        second = shell.shell.user_ns["_junis"]
    finally:
        del shell.shell.user_ns["__session__"]
    ask_many(["[[chunks=2]] " + "long question " * 20], progress=False, cache="off")
    with JunisClient(own.key, own.url) as elsewhere:       # not through the pipeline: not logged
        foreign = elsewhere.chat("A session started on another machine").session_id
    table = shell.shell.run_line_magic("junis", "sessions")
    assert table.dtypes.equals(frames.empty("sessions").dtypes)
    rows = table.set_index("session_id")
    mine = rows.loc[first.session_id]
    assert mine["title"] == "Why did churn rise in March? Use the table."
    assert (mine["origin"], mine["notebook"], mine["cell_id"]) == ("cell", "reports/churn.ipynb",
                                                                   "cell-a")
    spent = first.usage.total_tokens + second.usage.total_tokens
    assert mine["total_tokens"] == spent
    assert mine["credits"] == credits.estimate(first.usage.total_tokens) + \
        credits.estimate(second.usage.total_tokens)
    batch = rows[rows["origin"] == "batch"].iloc[0]
    assert batch["title"].startswith("[[chunks=2]] long question long") and \
        batch["title"].endswith("…") and len(batch["title"]) <= 80
    other = rows.loc[foreign]
    assert pd.isna(other["origin"]) and pd.isna(other["notebook"])    # started elsewhere
    assert other["title"] == "A session started on another machine"  # read from its messages
    assert other["total_tokens"] > 0 and other["credits"] == 1


def test_titles_read_from_the_service_are_remembered(shell: Any, own: Any) -> None:
    with JunisClient(own.key, own.url) as elsewhere:
        ids = [elsewhere.chat(f"Question {n} from elsewhere").session_id for n in range(3)]
    none = frames.sessions(fetch_titles=0)
    assert none["title"].isna().all() and listings("messages") == 0
    two = frames.sessions(fetch_titles=2)                # the newest two only
    assert two.set_index("session_id").loc[ids, "title"].isna().tolist() == [True, False, False]
    assert listings("messages") == 2
    again = frames.sessions(fetch_titles=2)              # known now: the oldest is read
    assert again["title"].notna().all() and listings("messages") == 3
    frames.sessions()
    assert listings("messages") == 3                     # nothing more to read


def test_a_session_whose_messages_cannot_be_read_is_listed_untitled(shell: Any,
                                                                    own: Any) -> None:
    with JunisClient(own.key, own.url) as elsewhere:
        sid = elsewhere.chat("Hello").session_id
    own.faults({"kind": "status", "status": 403, "code": "scope_not_allowed",
                "path": f"/sessions/{sid}/messages"})
    table = frames.sessions()
    assert table["session_id"].tolist() == [sid] and table["title"].isna().all()


def test_recent_conversations_for_a_session_picker(shell: Any, own: Any) -> None:
    shell.run("%%junis --new\nFirst conversation", cell_id="c1")
    ask_many(["a batch row", "another"], progress=False, cache="off")
    shell.run("%%junis --new\nSecond conversation", cell_id="c2")
    shell.run("%%junis\nIts follow-up", cell_id="c3")
    found = transcript.recent_conversations()
    assert [(c.title, c.origin, c.turns) for c in found] == [
        ("Second conversation", "cell", 2), ("First conversation", "cell", 1)]   # no batch rows
    assert found[0].session_id == shell.shell.user_ns["_junis"].session_id
    assert found[0].last_at >= found[0].started_at >= found[1].last_at
    assert found[0].started_at.tzinfo is not None
    assert transcript.recent_conversations(limit=1) == found[:1]


def test_recent_conversations_of_an_unreadable_log_is_empty(shell: Any, own: Any) -> None:
    shell.run("%%junis --new\nHello")
    transcript.default_path().write_bytes(b"not a database " * 300)
    assert transcript.recent_conversations() == []


def test_a_forked_session_is_titled_by_its_first_question(shell: Any, own: Any) -> None:
    shell.run("%%junis --new\nThe opening question", cell_id="c1")
    opened = shell.shell.user_ns["_junis"].session_id
    shell.run("%%junis\nA follow-up", cell_id="c2")
    shell.run("%%junis\nA follow-up, asked again", cell_id="c2")    # re-run: forks
    forked = shell.shell.user_ns["_junis"].session_id
    assert forked != opened
    titles = frames.sessions().set_index("session_id")["title"]
    assert titles[opened] == titles[forked] == "The opening question"


def test_history_agents_shows_who_took_part(shell: Any, own: Any) -> None:
    shell.run("%%junis --new\nPlan the report")
    shell.run("%%junis --agent Research\nFind the sources")
    shell.run("%%junis --agent Writer\nDraft it")
    shell.run("%%junis --agent Research\nCheck the figures")
    sid = shell.shell.user_ns["_junis"].session_id
    who = shell.shell.run_line_magic("junis", f"history {sid} --agents")
    assert who.dtypes.equals(frames.empty("session_agents").dtypes)
    assert who["agent"].tolist() == ["Orchestrator", "Research", "Writer"]
    assert who["answers"].tolist() == [1, 2, 1]
    messages = frames.messages(None, [sid])
    answers = messages[messages["role"] == "assistant"]
    by_agent = answers.groupby("agent_name")["total_tokens"].sum()
    assert who.set_index("agent")["total_tokens"].to_dict() == by_agent.to_dict()
    assert (who["credits"] >= who["answers"]).all()      # at least one per answer
    both = shell.run(f"%junis history {sid} --agents --markdown")
    assert both.error_lines()[0].startswith("Junis: bad option for `%junis history`")


def test_a_damaged_ledger_leaves_costs_out_with_a_warning(shell: Any, own: Any) -> None:
    shell.run("%%junis --new\nHello there", cell_id="c1")
    default_ledger().path.write_bytes(b"not a database " * 300)
    with pytest.warns(RuntimeWarning, match="usage ledger .* is damaged"):
        table = frames.sessions()
    row = table.iloc[0]
    assert (row["title"], row["origin"]) == ("Hello there", "cell")     # from the log
    assert pd.isna(row["total_tokens"]) and pd.isna(row["credits"])
