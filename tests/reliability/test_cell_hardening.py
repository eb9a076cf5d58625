"""Issue 21's breaks on a cell's path, each attacked through the real magic or the real pipeline
against the emulator: a key in `--system`, a NUL in the cache's path, a lone surrogate on its way
into the answer cache, a value too big for `timeout`."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from junis_jupyter.client.sync import JunisClient
from junis_jupyter.data.cache import AnswerCache, CacheMode
from junis_jupyter.data.pipeline import AnswerPipeline, AnswerRequest, NullView
from support.surrogates import MARK, LoneSurrogateOnTheWay

PLANTED = "jns_live_" + "Pl4nted" * 4 + "Ke4y"       # a key-shaped string, not the session's


def test_a_key_in_system_is_masked_before_it_is_sent(shell: Any, junis_env: Any) -> None:
    cell = shell.run(f"%%junis --new --system 'Use the key {PLANTED} carefully'\nHi")
    assert cell.error is None, cell.err
    session = shell.shell.user_ns["_junis"].session_id
    with JunisClient(junis_env.key, junis_env.url) as client:
        held = [m.content for m in client.messages(session) if m.role == "system"]
    assert held and PLANTED not in held[0] and PLANTED[:20] not in held[0]
    assert "jns_live_…" in held[0]                   # masked, not dropped


def test_the_sessions_key_in_system_is_masked_too(shell: Any, junis_env: Any) -> None:
    cell = shell.run(f"%%junis --new --system 'my key is {junis_env.key}'\nHi")
    assert cell.error is None
    session = shell.shell.user_ns["_junis"].session_id
    with JunisClient(junis_env.key, junis_env.url) as client:
        held = " ".join(m.content for m in client.messages(session))
    assert junis_env.key not in held and junis_env.key[9:25] not in held


def test_a_nul_in_cache_path_is_refused_where_it_is_set(shell: Any, junis_env: Any) -> None:
    """Once the answer was paid for and shown, and then the cell failed (`embedded null byte`)."""
    from traitlets import TraitError
    with pytest.raises(TraitError, match="JunisMagics.cache_path has a NUL character"):
        shell.magic.cache_path = "/tmp/a\x00b.sqlite"
    shell.run("%config JunisMagics.cache_path = '/tmp/a\\x00b.sqlite'")   # logged by IPython
    assert shell.magic.cache_path is None


def test_a_cache_file_that_cannot_be_opened_is_a_warning_not_a_lost_answer(
        tmp_path: Path) -> None:
    """Whatever the path holds, the answer asked and paid for is returned."""
    cache = AnswerCache(tmp_path / "a\x00b.sqlite")
    from junis_jupyter.client.types import Usage
    from junis_jupyter.data.cache import CachedAnswer
    with pytest.warns(UserWarning, match="cannot be used"):
        cache.put("k", CachedAnswer("kept", None, None, Usage()))
    assert cache.get("k") is None


def test_a_lone_surrogate_is_cached_and_replayed_whole(emulator: Any, tmp_path: Path) -> None:
    """Once, `--cache use` showed such an answer and then failed storing it (UnicodeEncodeError)."""
    cache = AnswerCache(tmp_path / "c.sqlite")
    pipeline = AnswerPipeline(cache, CacheMode.USE)
    request = AnswerRequest("[[echo]] before " + MARK.decode() + " after", stream=False,
                            cache_key="k1")
    with JunisClient(emulator.key, emulator.url,
                     http_client=httpx.Client(transport=LoneSurrogateOnTheWay())) as client:
        asked = pipeline.ask(lambda: client, request, NullView())
    assert asked.result.text == "before \ufffd after" and not asked.cached
    replayed = AnswerPipeline(AnswerCache(tmp_path / "c.sqlite"), CacheMode.REPLAY).ask(
        lambda: pytest.fail("a replay asks nothing"), request, NullView())    # type: ignore[arg-type,return-value]
    assert replayed.cached and replayed.result.text == "before \ufffd after"


def test_a_surrogate_in_a_stored_answer_is_kept_replaced(tmp_path: Path) -> None:
    from junis_jupyter.client.types import Usage
    from junis_jupyter.data.cache import CachedAnswer
    cache = AnswerCache(tmp_path / "c.sqlite")
    cache.put("k", CachedAnswer("a \ud800 b", None, None, Usage()))
    assert cache.get("k").answer == "a \ufffd b"                         # type: ignore[union-attr]


def test_escape_codes_in_a_services_error_reach_no_terminal(shell: Any, junis_env: Any) -> None:
    """A service's message is quoted in the cell's one line: a title-setting OSC or a clipboard
    write (OSC 52) in it must not reach the terminal that prints the line."""
    hostile = "bad \x1b]0;pwned\x07 request \x1b]52;c;ZXZpbA==\x07 \x1b[31mred\x1b[0m"
    junis_env.faults({"kind": "status", "status": 400, "code": "invalid_request",
                      "message": hostile})
    cell = shell.run("%%junis --new\nHi")
    assert "invalid_request" in cell.err and "bad" in cell.err
    assert "\x1b" not in cell.err and "\x07" not in cell.err


def test_history_as_markdown_prints_no_escape_codes(shell: Any, junis_env: Any) -> None:
    assert shell.run("%%junis --new\n[[echo]] look \x1b]0;title\x07 here").error is None
    printed = shell.run("%junis history --markdown").out
    assert "look" in printed and "\x1b" not in printed and "\x07" not in printed
