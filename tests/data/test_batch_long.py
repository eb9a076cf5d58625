"""Long batches (issue 14): dry runs make no request, pacing meets no 429, the bar counts
failures, and `model=` / `extra_body=` reach every call."""
from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from junis_jupyter.client import JunisClient
from junis_jupyter.client.types import RateLimitInfo
from junis_jupyter.data.batch import ask_many
from junis_jupyter.data.estimate import Estimate, estimate, tokens
from junis_jupyter.emulator import limits


def status_count(server: Any, status: int) -> int:
    by = server.stats()["by_status"]
    return by.get(str(status), by.get(status, 0))


@pytest.fixture
def client(junis_env) -> JunisClient:
    with JunisClient() as c:
        yield c


# --- dry runs ---------------------------------------------------------------------------------

def test_a_dry_run_estimates_and_makes_no_request(junis_env, tmp_path) -> None:
    before = junis_env.stats()["requests"]
    prompts = ["x" * 40, "y" * 41, "z"]
    guess = ask_many(prompts, agent="Research", dry_run=True, checkpoint=tmp_path / "c.sqlite3")
    assert isinstance(guess, Estimate)
    assert (guess.rows, guess.to_ask, guess.prompt_tokens) == (3, 3, 10 + 11 + 1)
    assert guess.rpm == 60 and "Basic plan" in guess.rate_source     # no headers seen yet
    assert guess.seconds == pytest.approx(3.0)                        # 3 calls at 60 a minute
    assert "no request was made" in str(guess)
    assert junis_env.stats()["requests"] == before
    assert not (tmp_path / "c.sqlite3").exists()                      # and writes nothing

    import junis_jupyter.data.accessor  # noqa: F401 - registers df.junis
    df = pd.DataFrame({"city": ["Oslo", "Lima"]})
    assert df.junis.ask("Weather in {city}?", dry_run=True, system="be brief").prompt_tokens == \
        tokens("Weather in Oslo?") + tokens("Weather in Lima?") + 2 * tokens("be brief")
    assert junis_env.stats()["requests"] == before


def test_a_dry_run_uses_the_last_headers_and_the_checkpoint(client, junis_env, tmp_path) -> None:
    path = tmp_path / "c.sqlite3"
    prompts = [f"[[echo]] row {i}" for i in range(4)]
    ask_many(prompts[:4], client=client, checkpoint=path, progress=False)
    limit = client.rate_limit.limit
    before = junis_env.stats()["requests"]
    more = prompts + ["[[echo]] row 4"]
    with pytest.raises(Exception, match="belongs to another batch"):   # still checked
        ask_many(more, client=client, checkpoint=path, dry_run=True)
    guess = ask_many(prompts, client=client, checkpoint=path, dry_run=True)
    assert (guess.rows, guess.to_ask, guess.prompt_tokens) == (4, 0, 0)
    assert "already answered" in str(guess)
    guess = ask_many(more, client=client, dry_run=True)
    assert guess.rpm == limit and "headers" in guess.rate_source
    assert junis_env.stats()["requests"] == before


def test_the_estimator_on_its_own() -> None:
    assert tokens("") == 0 and tokens("abcd") == 1 and tokens("abcde") == 2
    pro = estimate(["a" * 8] * 600, plan="pro")
    assert (pro.rpm, pro.seconds, pro.prompt_tokens) == (300, 120.0, 1200)
    seen = estimate(["q"] * 10, rate_limit=RateLimitInfo(limit=600, remaining=5, reset=0))
    assert seen.rpm == 600 and seen.seconds == pytest.approx(1.0)


# --- pacing -----------------------------------------------------------------------------------

def test_a_batch_larger_than_the_window_meets_no_429(make_emulator, monkeypatch) -> None:
    # The emulator's window is a fixed minute; shortened to 3 s here (the emulator runs in this
    # process) so that a batch 2.5 windows long takes seconds, not minutes.
    monkeypatch.setattr(limits, "WINDOW_S", 3.0)
    server = make_emulator(rpm=8, concurrency=10)
    prompts = [f"[[echo]] paced {i}" for i in range(20)]
    with JunisClient(server.key, server.url, max_retries=0) as c:
        df = ask_many(prompts, concurrency=5, client=c, progress=False)
    assert status_count(server, 429) == 0
    assert status_count(server, 200) == 20
    assert df["error"].isna().all()
    assert df["answer"].tolist() == [f"paced {i}" for i in range(20)]


def test_without_pacing_the_same_batch_meets_429s(make_emulator, monkeypatch) -> None:
    # the control: the pacer told nothing (its headers hidden) spends the window at once
    from junis_jupyter.data import batch
    monkeypatch.setattr(limits, "WINDOW_S", 3.0)
    server = make_emulator(rpm=8, concurrency=10)

    class Blind(batch.Pacer):
        def seen(self, info: Any, seq: int | None = None) -> None:
            pass

    with JunisClient(server.key, server.url, max_retries=0) as c:
        df = batch.run(*batch.prepare([f"[[echo]] burst {i}" for i in range(12)], None)[:2],
                       index=None, agent=None, concurrency=5, client=c, rate_limit_retries=8,
                       progress=False, chat_kwargs={}, pacer=Blind())
    assert status_count(server, 429) > 0                 # ridden out, but met
    assert df["error"].isna().all()


# --- progress ---------------------------------------------------------------------------------

def test_the_bar_shows_rows_failures_and_time_left(client, junis_env, capsys) -> None:
    junis_env.faults({"kind": "status", "status": 402, "code": "insufficient_credits",
                      "message": "No credits left.", "path": "/v1/chat", "count": 2})
    df = ask_many([f"[[echo]] row {i}" for i in range(8)], concurrency=1, client=client)
    assert df["error"].notna().sum() == 2
    bar = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "8/8" in bar and "failed=2" in bar and "<" in bar      # done/total, failures, left


def test_a_resumed_bar_starts_at_the_recorded_rows(client, tmp_path, capsys) -> None:
    path = tmp_path / "c.sqlite3"
    prompts = [f"[[echo]] row {i}" for i in range(9)]
    ask_many(prompts[:9], client=client, checkpoint=path, progress=False)
    import sqlite3
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM rows WHERE position >= 3")
    ask_many(prompts, client=client, checkpoint=path, progress=True)
    lines = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()
    assert "3/9" in lines[0] and "9/9" in lines[-1] and "failed=0" in lines[-1]


# --- model= and extra_body= -------------------------------------------------------------------

class Recording:
    """A stand-in JunisClient that records what each chat call was given: the arguments are the
    point here, and a fake sees them directly (the emulator does not echo `model`)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.rate_limit = None

    def resolve_agent(self, agent: Any) -> Any:
        return agent

    def chat(self, prompt: str, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return SimpleNamespace(text=prompt, session_id="s", latency_s=0.1, rate_limit=None,
                               usage=SimpleNamespace(total_tokens=1))


def test_model_and_extra_body_reach_every_call_only_when_given() -> None:
    fake = Recording()
    ask_many(["a", "b"], client=fake, model="gpt-x", extra_body={"top_k": 3}, temperature=0.1)
    assert fake.calls == [{"model": "gpt-x", "extra_body": {"top_k": 3}, "temperature": 0.1,
                           "agent": None}] * 2
    fake.calls.clear()
    ask_many(["a"], client=fake)
    assert fake.calls == [{"agent": None}]


@pytest.mark.skipif("extra_body" not in inspect.signature(JunisClient.chat).parameters,
                    reason="JunisClient.chat has no extra_body yet (issue 16, another change)")
def test_extra_body_goes_through_the_real_client(client) -> None:
    df = ask_many(["[[echo]] hi"], client=client, extra_body={"metadata": {"a": 1}},
                  progress=False)
    assert df["answer"].tolist() == ["hi"]
