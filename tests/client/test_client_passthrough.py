"""The client passes what it does not name: `extra_body=`, `model=`, and OpenAI-shaped `messages=`
(content-part lists, tool turns) reach the emulator unchanged, sync and async, whole and streamed,
and through `map`."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from junis_jupyter.client.aio import AsyncJunisClient
from junis_jupyter.client.sync import JunisClient
from junis_jupyter.errors import ConfigurationError

TOOL_TURNS = [
    {"role": "developer", "content": "Answer briefly."},
    {"role": "user", "content": [{"type": "text", "text": "[[echo]] part one"},
                                 {"type": "text", "text": "part two"}]},
]


def sent_bodies(client: JunisClient | AsyncJunisClient) -> list[dict[str, Any]]:
    """The JSON bodies the client's transport sent (an httpx request hook: the emulator does
    not echo a request's unknown fields, so the wire is read here)."""
    bodies: list[dict[str, Any]] = []

    def hook(request: httpx.Request) -> None:
        if request.method == "POST":
            bodies.append(json.loads(request.content))

    async def ahook(request: httpx.Request) -> None:
        hook(request)
    http = client._http
    http.event_hooks["request"].append(ahook if isinstance(client, AsyncJunisClient) else hook)
    return bodies


def test_extra_body_and_model_reach_the_server(emulator: Any) -> None:
    with JunisClient(api_key=emulator.key, base_url=emulator.url) as client:
        bodies = sent_bodies(client)
        result = client.chat("[[echo]] hello there my friend", model="my-model",
                             extra_body={"top_p": 0.5, "user": "analyst-7", "max_tokens": 1})
        assert bodies[-1]["top_p"] == 0.5 and bodies[-1]["user"] == "analyst-7"
        assert bodies[-1]["model"] == "my-model" and result.model == "my-model"   # echoed
        assert result.finish_reason == "length"            # the server honoured max_tokens=1
        with client.stream("[[echo]] streamed", extra_body={"top_p": 0.25}) as stream:
            text = "".join(chunk.text for chunk in stream)
        assert text == "streamed" and bodies[-1]["top_p"] == 0.25 and bodies[-1]["stream"] is True


def test_extra_body_can_carry_a_field_the_server_acts_on(emulator: Any) -> None:
    with JunisClient(api_key=emulator.key, base_url=emulator.url) as client:
        first = client.chat("Hello")
        again = client.chat("Again", extra_body={"session_id": first.session_id})
        assert again.session_id == first.session_id


def test_extra_body_cannot_flip_stream(emulator: Any) -> None:
    with JunisClient(api_key=emulator.key, base_url=emulator.url) as client:
        with pytest.raises(ConfigurationError, match="cannot set 'stream'"):
            client.chat("Hi", extra_body={"stream": True})


def test_content_parts_and_developer_turns_go_unchanged(emulator: Any) -> None:
    with JunisClient(api_key=emulator.key, base_url=emulator.url) as client:
        bodies = sent_bodies(client)
        result = client.chat(messages=TOOL_TURNS)
        assert bodies[-1]["messages"] == TOOL_TURNS
        assert result.text == "part one\npart two"       # the emulator joins text parts


def test_a_replayed_tool_call_turn_is_accepted(emulator: Any) -> None:
    turns = [
        {"role": "user", "content": "What is the weather?"},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "call_1", "type": "function",
                         "function": {"name": "weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "user", "content": "[[echo]] thanks"},
    ]
    with JunisClient(api_key=emulator.key, base_url=emulator.url) as client:
        assert client.chat(messages=turns, extra_body={"tools": [], "tool_choice": "none"}).text \
            == "thanks"


def test_async_chat_stream_and_map_pass_extra_body(emulator: Any) -> None:
    async def go() -> None:
        async with AsyncJunisClient(api_key=emulator.key, base_url=emulator.url) as client:
            bodies = sent_bodies(client)
            result = await client.chat("[[echo]] a", model="m", extra_body={"top_p": 0.1})
            assert result.text == "a" and bodies[-1]["top_p"] == 0.1 and bodies[-1]["model"] == "m"
            async with client.stream("[[echo]] b", extra_body={"seed": 3}) as stream:
                assert "".join([c.text async for c in stream]) == "b"
            assert bodies[-1]["seed"] == 3
            results = await client.map(["[[echo]] x", "[[echo]] y"], extra_body={"seed": 9},
                                       model="mapped")
            assert [r.text for r in results] == ["x", "y"]
            assert [b["seed"] for b in bodies[-2:]] == [9, 9]
            assert {b["model"] for b in bodies[-2:]} == {"mapped"}
    asyncio.run(go())
