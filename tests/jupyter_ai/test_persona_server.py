"""The Junis persona in a real Jupyter server (pytest-jupyter) with jupyterlab-chat and Jupyter
AI's router and persona manager, over the REST route and the chat WebSocket, against the
emulator. Each test's server is its own, started in about a second."""
from __future__ import annotations

import asyncio
import json
import socket
import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest

from junis_jupyter import config
from junis_jupyter.client.sync import JunisClient
from junis_jupyter.data import credits
from junis_jupyter.data.ledger import Ledger
from junis_jupyter.jupyter_ai.sessions import ChatSessions
from support.chat import PERSONA_ID, ChatSocket, Reply

DEAD_URL = "http://127.0.0.1:9"          # nothing listens there
FULL = "Summarise churn by region"


def whole_answer(emulator: Any, prompt: str) -> str:
    """The emulator's whole answer to `prompt` (its delay directive set to 0, which changes
    nothing of the text), asked directly."""
    import re
    with JunisClient(api_key=emulator.key, base_url=emulator.url) as client:
        return client.chat(re.sub(r"\[\[delay=[0-9.]+\]\]", "[[delay=0]]", prompt)).text


async def open_chat(jp_ws_fetch: Any, root: Path, name: str = "t.chat") -> ChatSocket:
    if not (root / name).exists():
        (root / name).write_text("")
    return await ChatSocket.open(await jp_ws_fetch("api", "chat", "ws", name))


def persona(jp_serverapp: Any, chat: ChatSocket) -> Any:
    managers = jp_serverapp.web_app.settings["jupyter-ai"]["persona-managers"]
    return managers[chat.connection["id"]].personas[PERSONA_ID]


def session_of(root: Path, name: str = "t.chat") -> str | None:
    return ChatSessions().get(str((root / name).resolve()))


def saved_messages(root: Path, name: str = "t.chat") -> list[dict[str, Any]]:
    return json.loads((root / name).read_text())["messages"]


def no_traceback(text: str) -> None:
    assert "Traceback" not in text and ".py" not in text and "site-packages" not in text


# --- answering -----------------------------------------------------------------------------------


async def test_rest_route_answers_whole(server_env: Any, jp_fetch: Any) -> None:
    response = await jp_fetch("api", "ai", "message", "Junis", method="POST",
                              body=json.dumps({"message": "What is a p-value?"}))
    text = json.loads(response.body)["response"]
    assert "You asked: \u201cWhat is a p-value?\u201d" in text and text.rstrip().endswith("```")


async def test_chat_streams_growing_updates_and_keeps_the_reply(
        server_env: Any, jp_ws_fetch: Any, jp_root_dir: Path, jp_serverapp: Any,
        junis_home: Path) -> None:
    chat = await open_chat(jp_ws_fetch, jp_root_dir)
    prompt = f"{FULL} [[delay=0.01]]"
    await chat.send(prompt)
    reply = await chat.reply()
    # grows: every update holds the one before it, and more
    assert len(reply.updates) >= 3
    for shorter, longer in zip(reply.updates, reply.updates[1:]):
        assert longer.startswith(shorter) and len(longer) > len(shorter)
    whole = whole_answer(server_env, prompt)
    assert reply.body == whole and not reply.others
    # coalesced: ~90 pieces arrived over ~1 s; the chat got at most ~15 updates a second (plus
    # the first, which waits for nothing)
    assert len(reply.updates) <= 15 * (reply.times[-1] - reply.times[0]) + 2
    # kept in the .chat file, and the session remembered for the chat file
    assert saved_messages(jp_root_dir)[-1]["body"] == whole
    assert session_of(jp_root_dir) is not None
    # one ledger row, tagged with its origin and the chat file
    rows = [r for r in Ledger(junis_home / "usage.sqlite3").rows() if r["endpoint"] == "chat"]
    assert [(r["origin"], r["notebook"]) for r in rows] == [("jupyter-ai", "t.chat")]
    # the counter: tokens, and the estimated credits as the cost
    usage = persona(jp_serverapp, chat).get_usage()
    assert usage.total_tokens == rows[0]["total_tokens"] > 0
    assert usage.input_tokens + usage.output_tokens == usage.total_tokens
    assert (usage.cost_amount, usage.cost_currency) == (credits.estimate(usage.total_tokens),
                                                        "credits")
    # the chat's connections send small frames at once (transport.py: Nagle's delay is off)
    handlers = list(persona(jp_serverapp, chat).chat.handlers.values())
    assert handlers and all(h.ws_connection.stream.socket.getsockopt(
        socket.IPPROTO_TCP, socket.TCP_NODELAY) for h in handlers)


async def test_one_session_per_chat_file_and_new_starts_another(
        server_env: Any, jp_ws_fetch: Any, jp_root_dir: Path) -> None:
    chat = await open_chat(jp_ws_fetch, jp_root_dir)
    await chat.send("First question")
    await chat.reply()
    first = session_of(jp_root_dir)
    await chat.send("Second question")
    await chat.reply()
    assert session_of(jp_root_dir) == first
    client = JunisClient(api_key=server_env.key, base_url=server_env.url)
    assert [m.content for m in client.messages(first) if m.role == "user"] == \
        ["First question", "Second question"]

    await chat.send("/new")
    notice = await chat.persona_message(lambda body: body.startswith("ℹ️"))
    assert "fresh" in notice
    await chat.send("Third question")
    await chat.reply()
    fresh = session_of(jp_root_dir)
    assert fresh not in (None, first)
    assert [m.content for m in client.messages(fresh) if m.role == "user"] == ["Third question"]


async def test_a_chat_from_elsewhere_continues_from_its_own_messages(
        server_env: Any, jp_ws_fetch: Any, jp_root_dir: Path) -> None:
    chat = await open_chat(jp_ws_fetch, jp_root_dir, "mine.chat")
    await chat.send("What drives churn?")
    first = await chat.reply()
    await chat.send("/new")
    await chat.persona_message(lambda body: body.startswith("ℹ️"))
    await chat.send("And retention? [[delay=0.01]]")
    second = await chat.reply()
    # The file as a colleague would send it: a chat this machine has no session for. (Its own
    # chat id, as a file made elsewhere has: a copy keeping the id would be taken for this chat.)
    shared = json.loads((jp_root_dir / "mine.chat").read_text())
    shared["metadata"]["id"] = uuid.uuid4().hex
    (jp_root_dir / "shared.chat").write_text(json.dumps(shared))
    copy = await open_chat(jp_ws_fetch, jp_root_dir, "shared.chat")
    await copy.send("Compare them.")
    await copy.reply()
    seeded = session_of(jp_root_dir, "shared.chat")
    assert seeded not in (None, session_of(jp_root_dir, "mine.chat"))
    client = JunisClient(api_key=server_env.key, base_url=server_env.url)
    turns = [(m.role, m.content) for m in client.messages(seeded)]
    assert turns[:3] == [("user", "And retention? [[delay=0.01]]"), ("assistant", second.body),
                         ("user", "Compare them.")]
    assert first.body not in [content for _, content in turns]      # before the /new


async def test_a_session_the_service_no_longer_has_is_continued_from_the_chat(
        server_env: Any, jp_ws_fetch: Any, jp_root_dir: Path) -> None:
    chat = await open_chat(jp_ws_fetch, jp_root_dir)
    await chat.send("What drives churn?")
    first = await chat.reply()
    gone = str(uuid.uuid4())            # as after a key change, or a service that lost it
    ChatSessions().remember(str((jp_root_dir / "t.chat").resolve()), gone)
    await chat.send("And retention?")
    reply = await chat.reply(then=0.5)
    assert "You asked: \u201cAnd retention?\u201d" in reply.body and not reply.others
    now = session_of(jp_root_dir)
    assert now not in (None, gone)
    client = JunisClient(api_key=server_env.key, base_url=server_env.url)
    assert [(m.role, m.content) for m in client.messages(now)][:3] == [
        ("user", "What drives churn?"), ("assistant", first.body), ("user", "And retention?")]


async def test_agents_in_the_picker_and_the_choice_applies_from_the_next_message(
        server_env: Any, jp_ws_fetch: Any, jp_root_dir: Path, jp_serverapp: Any) -> None:
    chat = await open_chat(jp_ws_fetch, jp_root_dir)
    await chat.send("Who answers?")
    await chat.reply()
    picker = persona(jp_serverapp, chat).get_model_configuration()
    names = [option.name for option in picker.options]
    assert names == ["Orchestrator", "Research", "Writer", "Analyst"]   # invocable and active
    assert picker.current == picker.options[0].id
    research = picker.options[1].id

    await chat.send("Find sources", metadata={"model": {"id": research}})
    await chat.reply()
    await chat.send("And more")                      # no choice sent: the last one holds
    await chat.reply()
    client = JunisClient(api_key=server_env.key, base_url=server_env.url)
    agents = [m.agent_name for m in client.messages(session_of(jp_root_dir))
              if m.role == "assistant"]
    assert agents == ["Orchestrator", "Research", "Research"]
    assert persona(jp_serverapp, chat).get_model_configuration().current == research


async def test_attachments_reach_the_prompt_capped_and_named(
        server_env: Any, jp_ws_fetch: Any, jp_root_dir: Path) -> None:
    notes = "".join(f"line {i:05d} of the notes.\n" for i in range(2000))    # 50,000 characters
    (jp_root_dir / "notes.txt").write_text(notes)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("df = load()"),
                nbformat.v4.new_code_cell("df.groupby('region').churn.mean()")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, jp_root_dir / "analysis.ipynb")
    chat = await open_chat(jp_ws_fetch, jp_root_dir)
    await chat.send("[[echo]] Explain these.", attachments=[
        {"type": "file", "value": "notes.txt"},
        {"type": "notebook", "value": "analysis.ipynb",
         "cells": [{"id": nb.cells[1].id, "input_type": "code"}]},
        {"type": "file", "value": "../outside.txt"}])
    reply = await chat.reply()
    body = reply.body           # the echo: what the service was sent, and the footer
    assert "File: notes.txt" in body and "line 00000 of the notes" in body
    assert "… 30,000 more characters" in body and "line 01999" not in body
    assert "Notebook: analysis.ipynb, cell 2 (code)" in body
    assert "df.groupby('region').churn.mean()" in body and "df = load()" not in body
    assert body.endswith("*cut to fit the prompt: notes.txt: 20,000 of 50,000 characters. "
                         "not attached: ../outside.txt (outside the server's root directory).*")


async def test_the_key_reaches_neither_the_service_nor_the_chat_file(
        server_env: Any, jp_ws_fetch: Any, jp_root_dir: Path, junis_home: Path) -> None:
    key = server_env.key
    (jp_root_dir / "secrets.txt").write_text(f"token = '{key}'\nother = 'jns_live_{'Q' * 32}'\n")
    chat = await open_chat(jp_ws_fetch, jp_root_dir)
    await chat.send("[[echo]] What is in it?", attachments=[{"type": "file",
                                                             "value": "secrets.txt"}])
    reply = await chat.reply()
    assert config.mask_key(key) in reply.body and "jns_live_…QQQQ" in reply.body
    for text in [*reply.updates, (jp_root_dir / "t.chat").read_text()]:
        assert key[9:25] not in text and key[-16:] not in text and "Q" * 16 not in text


# --- Stop ----------------------------------------------------------------------------------------


async def test_stop_closes_the_stream_and_keeps_the_partial_text_marked(
        server_env: Any, jp_ws_fetch: Any, jp_fetch: Any, jp_root_dir: Path,
        jp_serverapp: Any) -> None:
    chat = await open_chat(jp_ws_fetch, jp_root_dir)
    prompt = f"{FULL} [[delay=0.05]]"                 # ~90 pieces: 4.5 s if not stopped

    async def stop() -> None:
        await jp_fetch("api", "ai", "personas", "cancel", method="POST", body="",
                       params={"chat_id": chat.connection["id"]})

    await chat.send(prompt)
    reply = await chat.reply(during=(2, stop))
    whole = whole_answer(server_env, prompt)
    body = reply.body
    assert body.endswith("\n\n*■ stopped*")
    kept = body[: -len("\n\n*■ stopped*")]
    kept = kept[: -len("\n```")] if not whole.startswith(kept) else kept
    assert whole.startswith(kept) and 0 < len(kept) < len(whole) // 2
    assert not reply.others                          # no error message
    assert saved_messages(jp_root_dir)[-1]["body"] == body
    # the service was told: its session holds what was delivered, not the whole answer
    await asyncio.sleep(0.2)
    client = JunisClient(api_key=server_env.key, base_url=server_env.url)
    answer = [m.content for m in client.messages(session_of(jp_root_dir))
              if m.role == "assistant"][-1]
    assert len(answer) < len(whole) // 2
    # and the chat goes on in the same session
    await chat.send("Go on")
    assert "Go on" in (await chat.reply()).body


# --- errors --------------------------------------------------------------------------------------


async def _error(jp_ws_fetch: Any, root: Path, prompt: str = "Hello") -> tuple[Reply, str]:
    chat = await open_chat(jp_ws_fetch, root)
    await chat.send(prompt)
    reply = await chat.reply(then=0.5)
    messages = [m for m in saved_messages(root) if m["sender"] == PERSONA_ID]
    assert len(messages) == 1 and not reply.updates        # one message: the advice
    text = messages[0]["body"]
    assert text.startswith("⚠️ ") and reply.others == [text]
    no_traceback(text)
    return reply, text


async def test_service_down(junis_home: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch,
                            jp_ws_fetch: Any, jp_root_dir: Path) -> None:
    monkeypatch.setenv("JUNIS_BASE_URL", DEAD_URL)
    monkeypatch.setenv("JUNIS_API_KEY", emulator.key)
    _, text = await _error(jp_ws_fetch, jp_root_dir)
    assert text.startswith("⚠️ could not connect (") and DEAD_URL in text
    assert text.endswith("is the service running, and the Jupyter server's JUNIS_BASE_URL (or the "
                         "URL given to `junis-jupyter login`) right?")


async def test_refused_key_says_how_to_set_one(junis_home: Path, emulator: Any,
                                               monkeypatch: pytest.MonkeyPatch,
                                               jp_ws_fetch: Any, jp_root_dir: Path) -> None:
    monkeypatch.setenv("JUNIS_BASE_URL", emulator.url)
    monkeypatch.setenv("JUNIS_API_KEY", "jns_live_" + "Z" * 32)
    _, text = await _error(jp_ws_fetch, jp_root_dir)
    assert text.startswith("⚠️ the API key was refused (401 invalid_api_key): ")
    assert "run `junis-jupyter login` in a terminal" in text and "JUNIS_API_KEY" in text
    assert "Z" * 8 not in text


async def test_missing_key_says_how_to_set_one_and_a_login_reaches_the_running_server(
        junis_home: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch, jp_ws_fetch: Any,
        jp_root_dir: Path) -> None:
    monkeypatch.delenv("JUNIS_API_KEY", raising=False)
    monkeypatch.delenv("JUNIS_BASE_URL", raising=False)
    _, text = await _error(jp_ws_fetch, jp_root_dir)
    assert text.startswith("⚠️ no Junis API key is set: run `junis-jupyter login` in a terminal")
    assert "set JUNIS_API_KEY in the Jupyter server's environment and restart the server" in text
    # `junis-jupyter login` (its file) while the server runs: the next message is answered
    config.save_login(emulator.key, emulator.url)
    chat = await open_chat(jp_ws_fetch, jp_root_dir)
    await chat.send("Now?")
    assert "You asked: \u201cNow?\u201d" in (await chat.reply()).body


async def test_a_broken_stream_keeps_its_text_then_says_so(
        server_env: Any, jp_ws_fetch: Any, jp_root_dir: Path) -> None:
    server_env.faults({"kind": "cut", "after": 12, "path": "/v1/chat"})
    chat = await open_chat(jp_ws_fetch, jp_root_dir)
    await chat.send(f"{FULL} [[delay=0.005]]")
    reply = await chat.reply(then=0.5)
    assert reply.body.endswith("\n\n*■ cut off*") and len(reply.body) > 30
    assert len(reply.others) == 1 and reply.others[0].startswith("⚠️ the answer broke off")
    assert reply.others[0].endswith("the text that arrived is kept above; send it again to "
                                    "retry.")
    no_traceback(reply.others[0])
