"""The persona's parts that know nothing of Jupyter AI: the coalesced reply, the chat's history,
attachments, the picker's agents and the words, each on its own (the reply's turn against the
emulator)."""
from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest

from junis_jupyter.client.aio import AsyncJunisClient
from junis_jupyter.client.types import Agent
from junis_jupyter.data.pipeline import AnswerRequest, Origin
from junis_jupyter.jupyter_ai.agents import ORCHESTRATOR_ID, choices, pick
from junis_jupyter.jupyter_ai.attachments import attached
from junis_jupyter.jupyter_ai.history import exchanges
from junis_jupyter.jupyter_ai.reply import ChatReply, held_tail
from junis_jupyter.jupyter_ai.sessions import ChatSessions
from junis_jupyter.jupyter_ai.turn import Turn
from junis_jupyter.jupyter_ai.wording import ERROR, NEW_SESSION, closing_fence, strip_marks

KEY = "jns_live_" + "K" * 32
ME = "jupyter-ai-personas::junis_jupyter::JunisPersona"


async def read(reply: ChatReply) -> list[str]:
    return [piece async for piece in reply.updates()]


# --- the reply ---------------------------------------------------------------------------------


async def test_text_fed_while_the_chat_is_busy_goes_out_as_one_update() -> None:
    reply = ChatReply(max_hz=15)
    for piece in ["Hel", "lo ", "wor", "ld"]:
        reply.feed(piece)
    reply.finish()
    assert await read(reply) == ["Hello world"]


async def test_the_first_update_goes_at_once_then_one_per_interval_and_the_end_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(seconds: float) -> None:      # the clock moves; nothing waits
        slept.append(round(seconds, 6))
        now[0] += seconds
        await real_sleep(0)

    reply = ChatReply(max_hz=10, clock=lambda: now[0])
    out: list[str] = []

    async def reader() -> None:
        async for piece in reply.updates():
            out.append(piece)

    async def settle() -> None:
        for _ in range(5):
            await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    task = asyncio.ensure_future(reader())
    reply.feed("a")
    await settle()
    assert out == ["a"] and slept == []               # the first text waits for nothing
    now[0] = 0.02
    reply.feed("b")
    reply.feed("c")
    await settle()
    assert out == ["a", "bc"] and slept == [0.08]     # gathered until 0.1 s after the last
    now[0] = 0.13
    reply.feed("d")
    reply.finish()
    await settle()
    await task
    assert out == ["a", "bc", "d"] and slept == [0.08]   # the end is not held back


async def test_a_chat_slow_to_update_is_updated_less_often(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each update rewrites the whole chat file: when one took 50 ms, the next waits 9 times
    that (the chat's updates take at most a tenth of the server's time), not 1/max_hz."""
    now = [0.0]
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds
        await real_sleep(0)

    reply = ChatReply(max_hz=10, clock=lambda: now[0])
    out: list[str] = []

    async def slow_chat() -> None:
        async for piece in reply.updates():
            out.append(piece)
            now[0] += 0.05                  # the chat's work on this update

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    task = asyncio.ensure_future(slow_chat())
    reply.feed("a")
    for _ in range(5):
        await real_sleep(0)
    reply.feed("b")
    for _ in range(5):
        await real_sleep(0)
    reply.finish()
    await task
    assert out == ["a", "b"] and slept == [0.45]


async def test_a_key_is_never_sent_in_part_across_updates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUNIS_API_KEY", KEY)
    reply = ChatReply(max_hz=0)
    out: list[str] = []

    async def reader() -> None:
        async for piece in reply.updates():
            out.append(piece)

    task = asyncio.ensure_future(reader())
    for piece in ["your key is jns_", "live_KKKKKKKKKKKKKKKK", "KKKKKKKKKKKKKKKK and ",
                  "another jns_live_abc"]:
        reply.feed(piece)
        for _ in range(3):
            await asyncio.sleep(0)
    reply.finish()
    await task
    assert "".join(out) == "your key is jns_live_…KKKK and another jns_live_…"
    assert all("KKKKKKK" not in piece and not piece.endswith(("jns", "jns_live_abc"))
               for piece in out)


def test_held_tail_is_only_what_may_begin_a_key() -> None:
    assert held_tail("abc jns_li") == 4
    assert held_tail("abc j") == 4
    assert held_tail("abc jns_live_" + "x" * 31) == 4
    assert held_tail("abc jns_live_" + "x" * 32) == len("abc jns_live_") + 32   # whole: masked
    assert held_tail("nothing here") == len("nothing here")


async def test_a_stop_mark_goes_after_a_code_block_left_open() -> None:
    reply = ChatReply(max_hz=0, footer="*cut to fit the prompt: a: 1 of 2 characters.*")
    reply.feed("Here:\n```python\nx = 1\n")
    reply.finish("stopped")
    text = "".join(await read(reply))
    assert text == ("Here:\n```python\nx = 1\n\n```\n\n*■ stopped*\n\n"
                    "*cut to fit the prompt: a: 1 of 2 characters.*")
    assert strip_marks(text) == "Here:\n```python\nx = 1\n"


async def test_no_answer_and_no_mark_sends_nothing_even_with_a_footer() -> None:
    reply = ChatReply(footer="*not attached: x (not found).*")
    reply.finish()
    assert await read(reply) == []


def test_closing_fence_knows_tildes_longer_fences_and_closed_blocks() -> None:
    assert closing_fence("a\n~~~\nx") == "\n~~~"
    assert closing_fence("````md\n```\ninner\n```\n") == "\n````"
    assert closing_fence("```\nx\n```\nafter") == ""
    assert closing_fence("no code") == ""


# --- a turn: Stop before the answer began ------------------------------------------------------


async def test_stop_before_the_answer_began_shows_the_mark_alone(emulator: Any) -> None:
    emulator.faults({"kind": "delay", "seconds": 3, "path": "/v1/chat"})
    client = AsyncJunisClient(api_key=emulator.key, base_url=emulator.url)
    turn = Turn(lambda: client, AnswerRequest("Slow?", origin=Origin.JUPYTER_AI),
                ChatReply(max_hz=0))
    shown: list[str] = []

    async def show(updates: Any) -> None:
        async for piece in updates:
            shown.append(piece)

    async def stop_soon() -> None:
        await asyncio.sleep(0.3)
        turn.stop()

    stopper = asyncio.ensure_future(stop_soon())
    started = asyncio.get_running_loop().time()
    assert await turn.run(show) is None
    await stopper
    await client.aclose()
    assert shown == ["*■ stopped*"]
    assert asyncio.get_running_loop().time() - started < 2.5    # did not wait for the delay


# --- the chat's history --------------------------------------------------------------------------


@dataclass
class Msg:
    body: str
    sender: str
    metadata: dict[str, Any] | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    deleted: bool | None = None


def to_me(body: str) -> Msg:
    return Msg(body, "user", {"to_persona": ME})


def test_history_pairs_questions_to_junis_with_its_answers_after_the_last_new() -> None:
    current = to_me("Now?")
    messages = [
        to_me("Old question"), Msg("Old answer", ME),
        to_me("/new"), Msg(NEW_SESSION, ME),
        to_me("Q1"), Msg("A1\n\n*■ stopped*", ME),
        Msg("A note to a colleague", "user"),                    # to no persona: not a question
        to_me("Q2"), Msg(ERROR + "could not connect (...)", ME),   # an error is no answer
        Msg("To someone else", "user", {"to_persona": "other"}), Msg("Not mine", "other"),
        to_me("/help"), Msg("Help text", ME),                    # a slash command
        to_me("Q3"), Msg("A3\n\n*cut to fit the prompt: a: 1 of 2 characters.*", ME),
        current,
        to_me("Later"), Msg("Later answer", ME)]
    assert exchanges(messages, ME, before=current.id) == (("Q1", "A1"), ("Q3", "A3"))


# --- attachments ---------------------------------------------------------------------------------


@dataclass
class File:
    value: str
    type: str = "file"
    selection: Any = None


@dataclass
class Selection:
    start: tuple[int, int]
    end: tuple[int, int]
    content: str


@dataclass
class Cell:
    id: str
    input_type: str = "code"
    selection: Any = None


@dataclass
class Notebook:
    value: str
    cells: list[Cell] | None = None
    type: str = "notebook"


def test_attachments_each_capped_fenced_and_named_when_unreadable(tmp_path: Path) -> None:
    (tmp_path / "fences.md").write_text("Use\n````\n```\ninner\n```\n````\n")
    (tmp_path / "blob.bin").write_bytes(b"\xff\xfe\x00binary")
    (tmp_path / "long.txt").write_text("x" * 120)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("1 + 1")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, tmp_path / "n.ipynb")
    got = attached([File("fences.md"), File("blob.bin"), File("missing.txt"),
                    File("long.txt"), File("a.py", selection=Selection((2, 0), (3, 4), "y = 2")),
                    Notebook("n.ipynb"), Notebook("n.ipynb", [Cell("nope")]),
                    File("../../etc/passwd")], str(tmp_path), limit=100)
    assert "File: fences.md\n`````\nUse\n````\n" in got.text          # a longer fence outside
    assert "File: long.txt\n```\n" + "x" * 100 + "… 20 more characters\n```" in got.text
    assert "File: a.py, lines 3-4\n```\ny = 2\n```" in got.text
    assert "Notebook: n.ipynb, cell 1 (markdown)\n```\n# Title\n```" in got.text
    assert "Notebook: n.ipynb, cell 2 (code)\n```python\n1 + 1\n```" in got.text
    assert [c.describe() for c in got.cuts] == ["long.txt: 100 of 120 characters"]
    assert got.unread == ("blob.bin (not text)", "missing.txt (not found)",
                          "n.ipynb (has no cell nope)",
                          "../../etc/passwd (outside the server's root directory)")


def test_an_attached_key_is_masked_before_the_cut(tmp_path: Path) -> None:
    (tmp_path / "env.txt").write_text(f"KEY={KEY}\n")
    got = attached([File("env.txt")], str(tmp_path), limit=20)
    assert "K" * 8 not in got.text and "KEY=jns_live_…" in got.text


# --- the picker, the sessions store --------------------------------------------------------------


AGENTS = [Agent("o1", "Orchestrator", "Routes.", "ORCHESTRATOR", True),
          Agent("r1", "Research", "Finds.", "LLM_AGENT", True),
          Agent("p1", "Pipeline", "Steps.", "SEQUENTIAL_AGENT", True),
          Agent("x1", "Retired", "Off.", "LLM_AGENT", False)]


def test_the_picker_offers_the_orchestrator_first_then_invocable_active_agents() -> None:
    assert [(c.id, c.name) for c in choices(AGENTS)] == [("o1", "Orchestrator"),
                                                         ("r1", "Research")]
    assert [c.id for c in choices(None)] == [ORCHESTRATOR_ID]      # no listing: it alone
    assert pick("o1", AGENTS) is None and pick(None, AGENTS) is None
    assert pick("r1", AGENTS) is AGENTS[1] and pick("research", AGENTS) is AGENTS[1]
    assert pick("Pipeline", AGENTS) == "Pipeline"      # the client resolves it, or says why not


def test_sessions_are_kept_per_chat_file_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "chats.sqlite3"
    ChatSessions(path).remember("/a.chat", "s1")
    ChatSessions(path).remember("/b.chat", "s2")
    ChatSessions(path).remember("/a.chat", "s3")
    fresh = ChatSessions(path)
    assert (fresh.get("/a.chat"), fresh.get("/b.chat"), fresh.get("/c.chat")) == ("s3", "s2", None)
    fresh.forget("/a.chat")
    assert ChatSessions(path).get("/a.chat") is None
