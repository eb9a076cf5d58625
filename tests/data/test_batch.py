"""ask_many and df.junis.ask against the emulator: order, per-row errors, rate limits, dtypes."""
from __future__ import annotations

import _thread
import asyncio
import threading

import pandas as pd
import pytest

import junis_jupyter
from junis_jupyter import frames
from junis_jupyter.data.batch import ask_many
from junis_jupyter.client import JunisClient
from junis_jupyter.errors import ConfigurationError, NotFoundError

BATCH = {"input": "string", "answer": "string", "session_id": "string", "tokens": "Int64",
         "latency": "Float64", "error": "string"}


def assert_batch_schema(df: pd.DataFrame) -> None:
    assert {c: str(t) for c, t in df.dtypes.items()} == BATCH
    assert df.dtypes.equals(frames.empty("batch").dtypes)


@pytest.fixture
def client(junis_env) -> JunisClient:
    with JunisClient() as c:
        yield c


def test_answers_come_back_in_input_order(client: JunisClient) -> None:
    # early rows are slow, so they finish last: the frame must still follow the input
    prompts = [f"[[echo]] [[delay={0.03 if i < 3 else 0}]] [[chunks=3]] item {i}" for i in range(10)]
    df = ask_many(prompts, concurrency=4, client=client)
    assert_batch_schema(df)
    assert df["input"].tolist() == prompts
    assert df["answer"].tolist() == [f"item {i}" for i in range(10)]
    assert df["error"].isna().all()
    assert df["session_id"].nunique() == 10               # one new session per row
    assert (df["tokens"] > 0).all() and (df["latency"] > 0).all()
    assert list(df.index) == list(range(10))


def test_public_name_and_template_over_scalars(junis_env) -> None:
    s = pd.Series(["alpha", "beta"], index=["a", "b"])
    df = junis_jupyter.ask_many(s, template="[[echo]] say {}: {input}", agent="Research")
    assert list(df.index) == ["a", "b"]
    assert df["answer"].tolist() == ["say alpha: alpha", "say beta: beta"]
    assert df["input"].tolist() == ["[[echo]] say alpha: alpha", "[[echo]] say beta: beta"]


def test_per_row_errors_do_not_fail_the_batch(client: JunisClient, junis_env) -> None:
    junis_env.faults({"kind": "status", "status": 402, "code": "insufficient_credits",
                      "message": "No credits left.", "path": "/v1/chat"})
    df = ask_many(["[[echo]] one", "[[echo]] two", "[[echo]] three"], concurrency=1,
                  client=client)
    assert_batch_schema(df)
    assert df["error"].iloc[0].startswith("no credits left for this call (402 insufficient_credits): top up")
    assert df[["answer", "session_id", "tokens", "latency"]].iloc[0].isna().all()
    assert df["answer"].iloc[1:].tolist() == ["two", "three"]
    assert df["error"].iloc[1:].isna().all()


def test_a_non_invocable_agent_is_an_error_on_every_row(client: JunisClient) -> None:
    df = ask_many(["a", "b", "c"], agent="Pipeline", client=client)
    assert df["error"].str.contains("(400 agent_not_invocable)", regex=False).all()
    # the advice names the agents that can be asked (issue 22)
    assert df["error"].str.contains("pass agent= Research, Writer or Analyst", regex=False).all()
    assert df["answer"].isna().all()


def test_unknown_agent_and_bad_templates_fail_before_any_call(client: JunisClient,
                                                              junis_env) -> None:
    before = junis_env.stats()["requests"]
    with pytest.raises(ConfigurationError, match=r"names \{city\}"):
        ask_many([{"town": "Oslo"}], template="Weather in {city}?", client=client)
    with pytest.raises(ConfigurationError, match="no template"):
        ask_many([1, 2], client=client)
    assert junis_env.stats()["requests"] == before
    with pytest.raises(NotFoundError):
        ask_many(["x"], agent="No Such Agent", client=client)


def test_rides_out_rate_limits_beyond_the_clients_own_retries(client: JunisClient,
                                                              junis_env) -> None:
    # 6 queued 429s: the client's 3 attempts fail twice over; ask_many waits and tries again
    junis_env.faults({"kind": "status", "status": 429, "code": "rate_limit_exceeded",
                      "retry_after": 0.1, "count": 6, "path": "/v1/chat"})
    df = ask_many(["[[echo]] first", "[[echo]] second"], concurrency=1, client=client)
    assert df["error"].isna().all()
    assert df["answer"].tolist() == ["first", "second"]


def test_rate_limit_retries_are_bounded(client: JunisClient, junis_env) -> None:
    junis_env.faults({"kind": "status", "status": 429, "code": "rate_limit_exceeded",
                      "retry_after": 0.05, "count": 3, "path": "/v1/chat"})
    df = ask_many(["[[echo]] first", "[[echo]] second"], concurrency=1, client=client,
                  rate_limit_retries=0)
    assert df["error"].iloc[0].startswith("rate limited (429 rate_limit_exceeded")
    assert df["error"].iloc[0].endswith("and run the batch again for the failed rows.")
    assert df["answer"].iloc[1] == "second"


def test_a_rate_limit_longer_than_the_pools_wait_is_the_rows_error_at_once(client: JunisClient,
                                                                           junis_env) -> None:
    # an hour's wait (an hourly quota): the client gives up at once, and so does the batch,
    # rather than pausing every worker for minutes (it used to pause 120 s, then try again)
    junis_env.faults({"kind": "status", "status": 429, "code": "rate_limit_exceeded",
                      "retry_after": 3600, "count": 1, "path": "/v1/chat"})
    df = ask_many(["[[echo]] first", "[[echo]] second"], concurrency=1, client=client)
    assert df["error"].iloc[0].startswith("rate limited (429 rate_limit_exceeded")
    assert df["answer"].iloc[1] == "second"


def test_recovers_from_a_real_concurrency_limit(make_emulator) -> None:
    server = make_emulator(concurrency=1, rpm=10_000, token_delay=0.01)
    with JunisClient(server.key, server.url) as c:
        df = ask_many([f"[[echo]] [[chunks=5]] row {i}" for i in range(6)], concurrency=3,
                      client=c, progress=False)
    stats = server.stats()
    assert stats["by_status"].get("429", stats["by_status"].get(429, 0)) > 0   # limits were hit
    assert df["error"].isna().all()
    assert df["answer"].tolist() == [f"row {i}" for i in range(6)]


def test_works_when_called_on_a_running_event_loop(junis_env) -> None:
    async def cell() -> pd.DataFrame:      # what a notebook cell is: code on the kernel's loop
        return ask_many(["[[echo]] from a loop"])
    df = asyncio.run(cell())
    assert df["answer"].tolist() == ["from a loop"]


def test_stopping_keeps_the_rows_done(make_emulator) -> None:
    server = make_emulator(rpm=10_000, token_delay=0.0)
    prompts = ["[[echo]] quick"] + ["[[echo]] [[delay=0.1]] [[chunks=10]] slow"] * 4
    timer = threading.Timer(1.0, _thread.interrupt_main)
    with JunisClient(server.key, server.url) as c:
        timer.start()
        with pytest.warns(RuntimeWarning, match="ask_many stopped"):
            df = ask_many(prompts, concurrency=1, client=c, progress=False)
    timer.join()
    assert df["answer"].iloc[0] == "quick"
    assert df["error"].iloc[-1].startswith("interrupted")
    assert df["error"].notna().sum() >= 2


def test_accessor_fills_columns_and_keeps_the_index(client: JunisClient) -> None:
    import junis_jupyter.data.accessor  # noqa: F401 - registers df.junis
    df = pd.DataFrame({"city": ["Oslo", "Lima", "Pune"], "year": [2020, 2021, 2022]},
                      index=[10, 20, 30])
    out = df.junis.ask("[[echo]] {city} in {year}", client=client, concurrency=2)
    assert_batch_schema(out)
    assert list(out.index) == [10, 20, 30]
    assert out["answer"].tolist() == ["Oslo in 2020", "Lima in 2021", "Pune in 2022"]
    joined = df.join(out[["answer"]])
    assert joined.loc[20, "answer"] == "Lima in 2021"
    direct = ask_many(df, template="[[echo]] {city}", client=client)
    assert direct["answer"].tolist() == ["Oslo", "Lima", "Pune"]
    assert list(direct.index) == [10, 20, 30]
    empty = df.iloc[:0].junis.ask("{city}", client=client)
    assert len(empty) == 0
    assert_batch_schema(empty)
