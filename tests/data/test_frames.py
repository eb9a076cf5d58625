"""DataFrames: fixed schemas (empty or full), every page fetched, fast record conversion, Parquet."""
from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from junis_jupyter import frames
from junis_jupyter.client import AsyncJunisClient, JunisClient
from junis_jupyter.client.types import CallRecord, Usage
from junis_jupyter.data import converters
from junis_jupyter.data.ledger import Ledger

# Written out by hand (not read from frames.SCHEMAS), so a changed dtype fails here.
EXPECTED = {
    "agents": {"id": "string", "name": "string", "description": "string",
               "agent_type": "category", "is_active": "boolean", "model": "string",
               "created_at": "datetime64[ns, UTC]", "invocable": "boolean"},
    "sessions": {"session_id": "string", "title": "string", "origin": "string",
                 "notebook": "string", "cell_id": "string", "created_at": "datetime64[ns, UTC]",
                 "last_update_time": "datetime64[ns, UTC]", "is_active": "boolean",
                 "message_count": "Int64", "total_tokens": "Int64", "credits": "Int64"},
    "messages": {"session_id": "string", "position": "Int64", "message_id": "string",
                 "role": "category", "content": "string", "created_at": "datetime64[ns, UTC]",
                 "agent_name": "string", "prompt_tokens": "Int64", "completion_tokens": "Int64",
                 "total_tokens": "Int64"},
    "usage": {"started_at": "datetime64[ns, UTC]", "endpoint": "string", "agent": "string",
              "session_id": "string", "stream": "boolean", "status": "Int64",
              "error_code": "string", "prompt_tokens": "Int64", "completion_tokens": "Int64",
              "total_tokens": "Int64", "credits": "Int64", "latency_s": "Float64",
              "first_token_s": "Float64", "request_id": "string", "origin": "string",
              "notebook": "string", "cell_id": "string"},
    "usage_summary": {"agent": "string", "day": "datetime64[ns]", "calls": "Int64",
                      "failed": "Int64", "total_tokens": "Int64", "credits": "Int64",
                      "p50_latency_s": "Float64", "p95_latency_s": "Float64"},
    "log": {"at": "datetime64[ns, UTC]", "origin": "string", "agent": "string",
            "prompt": "string", "answer": "string", "total_tokens": "Int64", "credits": "Int64",
            "cached": "boolean", "error": "string", "notebook": "string", "cell_id": "string",
            "session_id": "string", "message_id": "string", "model": "string",
            "cache_key": "string", "prompt_tokens": "Int64", "completion_tokens": "Int64",
            "latency_s": "Float64"},
    "session_agents": {"session_id": "string", "agent": "string", "answers": "Int64",
                       "prompt_tokens": "Int64", "completion_tokens": "Int64",
                       "total_tokens": "Int64", "credits": "Int64",
                       "first_at": "datetime64[ns, UTC]", "last_at": "datetime64[ns, UTC]"},
    "provenance": {"cell": "Int64", "cell_id": "string", "execution_count": "Int64",
                   "answered_at": "datetime64[ns, UTC]", "session_id": "string",
                   "message_id": "string", "agent": "string", "model": "string",
                   "cache_key": "string", "cached": "boolean", "version": "string",
                   "answer": "string"},
}
ROLES = ["system", "user", "assistant", "tool"]


def assert_schema(df: pd.DataFrame, kind: str) -> None:
    assert {c: str(t) for c, t in df.dtypes.items()} == EXPECTED[kind]
    assert list(df.columns) == list(EXPECTED[kind])
    for column, dtype in df.dtypes.items():
        if str(dtype) == "string":
            assert dtype == pd.StringDtype() and dtype.na_value is pd.NA
    # identical to the empty frame, dtype for dtype (categories included)
    assert df.dtypes.equals(frames.empty(kind).dtypes)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_empty_frames_have_the_schema(kind: str) -> None:
    df = frames.empty(kind)
    assert len(df) == 0
    assert_schema(df, kind)


@pytest.fixture
def fresh(make_emulator):
    """An emulator of our own (sessions are per organisation), with no rate limit in the way."""
    server = make_emulator(rpm=1_000_000)
    with JunisClient(server.key, server.url) as c:
        yield c


def test_agents_frame(fresh: JunisClient) -> None:
    df = frames.agents(fresh)
    assert_schema(df, "agents")
    by_name = df.set_index("name")
    assert set(by_name.index) == {"Orchestrator", "Research", "Writer", "Analyst", "Pipeline",
                                  "Fanout", "Retired"}
    assert by_name.loc["Retired", "is_active"] == False  # noqa: E712 - a pandas boolean scalar
    assert by_name.loc["Pipeline", "agent_type"] == "SEQUENTIAL_AGENT"
    # which agents `--agent` accepts (issue 22): the LLM agents, the inactive one too (warned)
    assert sorted(by_name.index[by_name["invocable"]]) == ["Analyst", "Research", "Retired",
                                                          "Writer"]
    assert list(df["agent_type"].cat.categories[:4]) == ["ORCHESTRATOR", "LLM_AGENT",
                                                         "SEQUENTIAL_AGENT", "PARALLEL_AGENT"]


def test_sessions_and_messages_empty_organisation(fresh: JunisClient) -> None:
    assert_schema(s := frames.sessions(fresh), "sessions")
    assert len(s) == 0
    m = frames.messages(fresh)
    assert len(m) == 0
    assert_schema(m, "messages")


def test_every_page_of_sessions_and_messages(fresh: JunisClient) -> None:
    prompts = [f"question number {i}" for i in range(130)]
    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(lambda p: fresh.chat(p).session_id, prompts))
    long_id = created[0]
    for turn in range(55):          # 2 + 110 messages: two pages of 100 and more
        fresh.chat(f"follow-up {turn}", session_id=long_id)

    sessions = frames.sessions(fresh)
    assert_schema(sessions, "sessions")
    assert len(sessions) == 130 and set(sessions["session_id"]) == set(created)
    assert sessions["last_update_time"].is_monotonic_decreasing    # newest activity first
    assert sessions.set_index("session_id").loc[long_id, "message_count"] == 112

    long = frames.messages(fresh, [long_id])
    assert_schema(long, "messages")
    assert len(long) == 112
    assert long["position"].tolist() == list(range(112))
    assert long["role"].tolist() == ["user", "assistant"] * 56
    assert long["content"].iloc[0] == "question number 0"
    assert long["content"].iloc[-2] == "follow-up 54"
    users, answers = long[long["role"] == "user"], long[long["role"] == "assistant"]
    assert users["total_tokens"].isna().all()
    assert answers["total_tokens"].notna().all() and (answers["total_tokens"] > 0).all()
    assert (answers["total_tokens"] == answers["prompt_tokens"]
            + answers["completion_tokens"]).all()
    assert long["created_at"].is_monotonic_increasing

    everything = frames.messages(fresh, sessions["session_id"], concurrency=4)
    assert_schema(everything, "messages")
    assert len(everything) == 112 + 129 * 2
    # sessions in the order asked for, each session's messages in order
    assert list(dict.fromkeys(everything["session_id"])) == sessions["session_id"].tolist()
    assert (everything.groupby("session_id")["position"].apply(
        lambda p: p.tolist() == list(range(len(p))))).all()


def test_messages_of_an_unknown_session_raise(fresh: JunisClient) -> None:
    from junis_jupyter.errors import NotFoundError
    with pytest.raises(NotFoundError):
        frames.messages(fresh, ["00000000-0000-0000-0000-000000000000"])


def test_async_client_is_refused_with_a_clear_error() -> None:
    ac = AsyncJunisClient("jns_live_" + "x" * 32, "http://127.0.0.1:9")   # never connects
    with pytest.raises(TypeError, match="JunisClient"):
        frames.sessions(ac)


RECORDS = [
    {"id": "m1", "role": "user", "content": "Hi", "created_at": "2025-01-10T10:00:00Z",
     "agent_name": None, "usage": None},
    {"id": "m2", "role": "assistant", "content": "Hello", "created_at": "2025-01-10T10:00:01.250Z",
     "agent_name": "Research",
     "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}},
    {"id": "m3", "role": "user", "content": "Bye", "created_at": "2025-01-10T19:00:02+09:00",
     "agent_name": None, "usage": None},
]


def check_known_records(df: pd.DataFrame) -> None:
    assert_schema(df, "messages")
    assert df["session_id"].tolist() == ["s1"] * 3
    assert df["position"].tolist() == [0, 1, 2]
    assert df["message_id"].tolist() == ["m1", "m2", "m3"]
    assert df["created_at"].tolist() == [
        pd.Timestamp("2025-01-10T10:00:00Z"), pd.Timestamp("2025-01-10T10:00:01.250Z"),
        pd.Timestamp("2025-01-10T10:00:02Z")]
    assert df["total_tokens"].tolist() == [pd.NA, 7, pd.NA]
    assert df["prompt_tokens"].iloc[1] == 3 and df["completion_tokens"].iloc[1] == 4
    assert df["agent_name"].isna().tolist() == [True, False, True]


def test_messages_from_records_known_values() -> None:
    check_known_records(frames.messages_from_records(RECORDS, session_id="s1"))
    tagged = [{**r, "session_id": "s1"} for r in RECORDS]
    check_known_records(frames.messages_from_records(tagged))


def test_messages_from_records_without_the_arrow_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(converters, "_arrow_columns", lambda records: None)
    check_known_records(frames.messages_from_records(RECORDS, session_id="s1"))


def test_messages_from_records_positions_per_session_and_odd_records() -> None:
    recs = [{**RECORDS[i % 3], "session_id": sid} for i, sid in enumerate("aabab")]
    df = frames.messages_from_records(recs)
    assert df["position"].tolist() == [0, 1, 0, 2, 1]          # interleaved sessions
    odd = [{**RECORDS[0], "role": "critic", "id": 42}, RECORDS[1]]   # int id: not Arrow's type
    df = frames.messages_from_records(odd, session_id="s")
    assert df["message_id"].tolist() == ["42", "m2"]
    assert list(df["role"].cat.categories) == ROLES + ["critic"]
    assert df["role"].tolist() == ["critic", "assistant"]
    assert_schema(frames.messages_from_records([]), "messages")


def test_messages_from_records_matches_json_normalize() -> None:
    recs = [{**RECORDS[i % 3], "id": f"m{i}", "session_id": f"s{i // 7}"} for i in range(200)]
    ours = frames.messages_from_records(recs)
    flat = pd.json_normalize(recs)
    assert ours["message_id"].tolist() == flat["id"].tolist()
    assert ours["content"].tolist() == flat["content"].tolist()
    assert ours["total_tokens"].fillna(-1).tolist() == \
        flat["usage.total_tokens"].fillna(-1).astype(int).tolist()
    assert (ours["created_at"] == pd.to_datetime(flat["created_at"], format="ISO8601",
                                                 utc=True)).all()


def test_usage_frame_from_the_ledger(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "u.sqlite3")
    t0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    for i in range(3):
        led.record(CallRecord(started_at=t0 + timedelta(hours=i), endpoint="chat",
                              agent="Research", session_id=f"s{i}", stream=i == 1,
                              status=200 if i < 2 else 500,
                              error_code=None if i < 2 else "server_error",
                              usage=Usage(1, 2, 3) if i < 2 else None, latency_s=0.25 * (i + 1),
                              first_token_s=0.1 if i == 1 else None, request_id=None))
    df = frames.usage(path=led.path)
    assert_schema(df, "usage")
    assert df["started_at"].tolist() == [pd.Timestamp(t0 + timedelta(hours=i)) for i in range(3)]
    assert df["stream"].tolist() == [False, True, False]
    assert df["total_tokens"].tolist() == [3, 3, pd.NA]
    assert df["error_code"].tolist() == [pd.NA, pd.NA, "server_error"]
    assert df["latency_s"].tolist() == [0.25, 0.5, 0.75]
    assert len(frames.usage(since="2026-03-01T01:00:00Z", path=led.path)) == 2
    assert_schema(frames.usage(path=tmp_path / "none.sqlite3"), "usage")


def test_parquet_round_trip_keeps_arrow_types(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    tagged = [{**r, "session_id": "s1"} for r in RECORDS]
    df = frames.messages_from_records(tagged)
    frames.to_parquet(df, tmp_path / "m.parquet")
    schema = pq.read_schema(tmp_path / "m.parquet")
    types = {name: schema.field(name).type for name in schema.names}
    assert types["created_at"] == pa.timestamp("ns", tz="UTC")
    assert types["position"] == pa.int64() and types["total_tokens"] == pa.int64()
    assert pa.types.is_dictionary(types["role"]) and types["role"].value_type == pa.string()
    assert types["content"] == pa.string() and types["session_id"] == pa.string()
    back = pd.read_parquet(tmp_path / "m.parquet")
    pd.testing.assert_frame_equal(back, df)

    frames.to_parquet(frames.empty("usage"), tmp_path / "u.parquet")
    utypes = pq.read_schema(tmp_path / "u.parquet")
    assert utypes.field("stream").type == pa.bool_()
    assert utypes.field("latency_s").type == pa.float64()
    assert utypes.field("started_at").type == pa.timestamp("ns", tz="UTC")


def test_to_parquet_without_pyarrow_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    df = frames.empty("agents")
    monkeypatch.setitem(sys.modules, "pyarrow", None)       # as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'junis-jupyter\[parquet\]'"):
        frames.to_parquet(df, tmp_path / "a.parquet")
    assert not (tmp_path / "a.parquet").exists()


def test_default_client_from_the_environment_and_a_progress_bar(junis_env, capsys) -> None:
    with JunisClient() as c:
        ids = [c.chat(f"[[echo]] note {i}").session_id for i in range(6)]
    df = frames.messages(session_ids=ids)            # no client: one from JUNIS_* env, closed after
    assert df["content"].tolist() == [x for i in range(6) for x in (f"[[echo]] note {i}",
                                                                     f"note {i}")]
    assert "messages:" in capsys.readouterr().err    # more than five sessions: a bar
    frames.messages(session_ids=ids[:5])
    assert "messages:" not in capsys.readouterr().err
    assert len(frames.agents()) == 7


def test_times_without_a_zone_are_utc_and_garbage_is_refused() -> None:
    recs = [{**RECORDS[0], "created_at": "2025-01-10T10:00:00"},
            {**RECORDS[1], "created_at": None}]
    df = frames.messages_from_records(recs, session_id="s")
    assert df["created_at"].iloc[0] == pd.Timestamp("2025-01-10T10:00:00Z")
    assert pd.isna(df["created_at"].iloc[1])
    assert str(df["created_at"].dtype) == "datetime64[ns, UTC]"
    with pytest.raises(ValueError):
        frames.messages_from_records([{**RECORDS[0], "created_at": "yesterday-ish"}],
                                     session_id="s")


def _python_path(records: list[dict], monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    with monkeypatch.context() as m:
        m.setattr(converters, "_arrow_columns", lambda records: None)
        return frames.messages_from_records(records)


def test_arrow_and_python_paths_agree_on_generated_records(monkeypatch) -> None:
    from hypothesis import given, settings, strategies as st

    usage = st.none() | st.fixed_dictionaries({
        "prompt_tokens": st.integers(0, 10**6), "completion_tokens": st.integers(0, 10**6),
        "total_tokens": st.integers(0, 10**6)})
    when = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                        timezones=st.just(timezone.utc) | st.just(timezone(timedelta(hours=-5))))
    record = st.fixed_dictionaries({
        "session_id": st.sampled_from(["a", "b", "c"]), "id": st.text(max_size=8),
        "role": st.sampled_from(["user", "assistant", "system", "tool"]),
        "content": st.text(max_size=30), "created_at": when.map(lambda d: d.isoformat()),
        "agent_name": st.none() | st.text(max_size=8), "usage": usage})

    @settings(max_examples=60, deadline=None)
    @given(st.lists(record, min_size=1, max_size=20))
    def check(records: list[dict]) -> None:
        fast = frames.messages_from_records(records)
        pd.testing.assert_frame_equal(fast, _python_path(records, monkeypatch))
        assert_schema(fast, "messages")

    check()


def test_messages_stay_within_the_concurrency_asked_for(make_emulator) -> None:
    server = make_emulator(rpm=1_000_000, concurrency=3)
    with JunisClient(server.key, server.url) as c:
        ids = [c.chat(f"[[echo]] s{i}").session_id for i in range(12)]
        # slow answers, so that more than 3 would be in flight if frames asked for more
        server.faults({"kind": "delay", "seconds": 0.1, "path": "/sessions/", "count": 12})
        df = frames.messages(c, ids, concurrency=3, progress=False)
    assert len(df) == 24
    stats = server.stats()
    assert 429 not in stats["by_status"] and "429" not in stats["by_status"]
    assert stats["max_concurrent"] <= 3
