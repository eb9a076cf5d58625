"""The Junis persona in a real Jupyter server with Jupyter AI, against the emulator."""
from __future__ import annotations

import json
from typing import Any

from support.chat import PERSONA_ID, ChatSocket


async def _chat(jp_ws_fetch: Any, jp_root_dir: Any, name: str = "t.chat") -> ChatSocket:
    (jp_root_dir / name).write_text("")
    return await ChatSocket.open(await jp_ws_fetch("api", "chat", "ws", name))


async def test_rest_route_answers_whole(server_env: Any, jp_fetch: Any) -> None:
    response = await jp_fetch("api", "ai", "message", "Junis", method="POST",
                              body=json.dumps({"message": "What is a p-value?"}))
    text = json.loads(response.body)["response"]
    assert "You asked: \u201cWhat is a p-value?\u201d" in text


async def test_chat_streams_growing_updates(server_env: Any, jp_ws_fetch: Any,
                                            jp_root_dir: Any) -> None:
    chat = await _chat(jp_ws_fetch, jp_root_dir)
    await chat.send("Summarise churn by region [[delay=0.01]]")
    reply = await chat.reply()
    assert len(reply.updates) > 2
    for shorter, longer in zip(reply.updates, reply.updates[1:]):
        assert longer.startswith(shorter) and len(longer) > len(shorter)
    assert "Summarise churn by region" in reply.body and reply.body.rstrip().endswith("```")
    print(len(reply.updates), reply.times[-1] - reply.times[0])
