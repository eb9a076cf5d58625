"""A batch's rows go through the answer cache as a cell does (data/pipeline.py): `cache=` takes the
magic's modes, defaults to the magic's mode and file when the extension is loaded, and a warm
cache answers a re-run with no request, no key and no network."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from junis_jupyter import ask_many
from junis_jupyter.data import ledger
from junis_jupyter.errors import ConfigurationError

PROMPTS = ["[[chunks=2]] Row one", "[[chunks=2]] Row two", "[[chunks=2]] Row three"]


@pytest.fixture
def cache_env(junis_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "answers.junis-cache.sqlite"
    monkeypatch.setenv("JUNIS_CACHE_PATH", str(path))
    monkeypatch.delenv("JUNIS_CACHE", raising=False)
    return path


def requests(server: Any) -> int:
    return server.stats()["requests"]


def test_use_answers_a_rerun_from_the_cache_with_no_request(cache_env: Path, junis_env: Any) -> None:
    first = ask_many(PROMPTS, cache="use", progress=False)
    assert first["error"].isna().all() and cache_env.exists()
    before = requests(junis_env)
    again = ask_many(PROMPTS, cache="use", progress=False)
    assert requests(junis_env) == before                       # nothing asked, not even /agents
    assert list(again["answer"]) == list(first["answer"])
    assert list(again["session_id"]) == list(first["session_id"])
    rows = ledger.default_ledger().rows()
    assert [r["endpoint"] for r in rows[-3:]] == ["cache"] * 3   # every row still has its record


def test_replay_needs_no_key_and_no_network(cache_env: Path, junis_env: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    warm = ask_many(PROMPTS, cache="refresh", progress=False)
    monkeypatch.delenv("JUNIS_API_KEY")
    monkeypatch.setenv("JUNIS_BASE_URL", "http://127.0.0.1:9")     # nothing listens there
    replayed = ask_many(PROMPTS, cache="replay", progress=False)
    assert list(replayed["answer"]) == list(warm["answer"]) and replayed["error"].isna().all()
    missing = ask_many(PROMPTS + ["Never asked"], cache="replay", progress=False)
    assert missing["error"].isna().sum() == 3
    assert "no recorded answer for this row" in missing["error"].iloc[3]


def test_off_asks_every_time_and_refresh_asks_and_stores(cache_env: Path, junis_env: Any) -> None:
    before = requests(junis_env)
    ask_many(PROMPTS[:1], cache="off", progress=False)
    ask_many(PROMPTS[:1], cache="off", progress=False)
    assert requests(junis_env) - before == 2 and not cache_env.exists()
    ask_many(PROMPTS[:1], cache="refresh", progress=False)
    ask_many(PROMPTS[:1], cache="refresh", progress=False)
    assert requests(junis_env) - before == 4 and cache_env.exists()


def test_a_bad_mode_is_one_line() -> None:
    with pytest.raises(ConfigurationError, match="cache must be one of off, use, replay, refresh"):
        ask_many(["a"], cache="sometimes", progress=False)


def test_the_default_is_the_magics_mode_and_file(shell: Any, junis_env: Any,
                                                 tmp_path: Path) -> None:
    """In a notebook, a batch shares the cells' cache: `%config JunisMagics.cache = 'use'` makes
    a re-run of the batch ask nothing, in the file the cells use."""
    path = tmp_path / "shared.sqlite"
    shell.run(f"%config JunisMagics.cache_path = {str(path)!r}")
    shell.run("%config JunisMagics.cache = 'use'")
    cell = shell.run("%%junis --new\n[[chunks=2]] A cell")
    assert cell.error is None and path.exists()
    shell.run("from junis_jupyter import ask_many\n"
              f"df1 = ask_many({PROMPTS!r}, progress=False)")
    before = requests(junis_env)
    shell.run(f"df2 = ask_many({PROMPTS!r}, progress=False)\n"
              f"df3 = ask_many({PROMPTS!r}, progress=False, cache='off')")
    ns = shell.shell.user_ns
    assert requests(junis_env) - before == 3                 # only the cache='off' batch asked
    assert list(ns["df2"]["answer"]) == list(ns["df1"]["answer"])
    shell.run("%config JunisMagics.cache = 'off'")


def test_an_inactive_agent_is_asked_with_one_warning(junis_env: Any) -> None:
    with pytest.warns(RuntimeWarning, match="the agent Retired is inactive") as caught:
        df = ask_many(["[[chunks=2]] a", "[[chunks=2]] b"], agent="Retired", progress=False)
    assert df["error"].isna().all() and len(caught) == 1
