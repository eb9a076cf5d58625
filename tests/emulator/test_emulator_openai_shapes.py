"""OpenAI's chat request shapes, sent by the stock OpenAI SDK (streamed and not) to the emulator:
content as a string or a list of parts, every role, `name`, tool calls, ignored extras, and the
earlier turns of a request without session_id becoming the new session's history."""
from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from junis_jupyter.emulator.tokens import count_tokens

openai = pytest.importorskip("openai")

STREAM = pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])

TOOL = {"type": "function", "function": {"name": "lookup", "description": "Look a word up.",
                                         "parameters": {"type": "object",
                                                        "properties": {"word": {"type": "string"}}}}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"word": "tide"}'}}


@pytest.fixture
def sdk(emulator) -> Any:
    with openai.OpenAI(api_key=emulator.key, base_url=emulator.url + "/v1", max_retries=0) as client:
        yield client


def ask(sdk: Any, messages: list[dict[str, Any]], stream: bool, **kwargs: Any) -> dict[str, Any]:
    """The answer's text, session id and usage, whichever way it was asked for."""
    if not stream:
        reply = sdk.chat.completions.create(model="junis-orchestrator", messages=messages, **kwargs)
        return {"text": reply.choices[0].message.content, "session_id": reply.model_extra["session_id"],
                "usage": reply.usage.model_dump(), "tool_calls": reply.choices[0].message.tool_calls}
    pieces, usage, session_ids = [], None, set()
    for chunk in sdk.chat.completions.create(model="junis-orchestrator", messages=messages, stream=True,
                                             stream_options={"include_usage": True}, **kwargs):
        session_ids.add(chunk.model_extra["session_id"])
        if chunk.usage is not None:
            usage = chunk.usage.model_dump()
        if chunk.choices:
            assert chunk.choices[0].delta.tool_calls is None
            pieces.append(chunk.choices[0].delta.content or "")
    assert len(session_ids) == 1 and usage is not None
    return {"text": "".join(pieces), "session_id": session_ids.pop(), "usage": usage, "tool_calls": None}


def history(emulator, session_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{emulator.url}/sessions/{session_id}/messages", params={"page_size": 100},
                         headers={"X-API-Key": emulator.key})
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def roles_and_contents(emulator, session_id: str) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in history(emulator, session_id)]


def prompt_tokens(*texts: str) -> int:
    return sum(count_tokens(text) for text in texts)


# content ----------------------------------------------------------------------------------------

@STREAM
def test_string_content(emulator, sdk, stream: bool) -> None:
    answer = ask(sdk, [{"role": "user", "content": "Plain string content"}], stream)
    assert answer["text"].startswith("## Plain string content")
    assert answer["usage"]["prompt_tokens"] == prompt_tokens("Plain string content")


@STREAM
def test_text_parts_are_joined_one_per_line(emulator, sdk, stream: bool) -> None:
    parts = [{"type": "text", "text": "[[echo]] first part"}, {"type": "text", "text": "second part"}]
    answer = ask(sdk, [{"role": "user", "content": parts}], stream)
    assert answer["text"] == "first part\nsecond part"
    assert roles_and_contents(emulator, answer["session_id"]) == [
        ("user", "[[echo]] first part\nsecond part"), ("assistant", "first part\nsecond part")]
    # the joined text is what is counted (and charged)
    assert answer["usage"]["prompt_tokens"] == prompt_tokens("[[echo]] first part\nsecond part")


@STREAM
def test_parts_and_strings_mix_across_messages(emulator, sdk, stream: bool) -> None:
    messages = [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
                {"role": "user", "content": [{"type": "text", "text": "Parts question"}]}]
    answer = ask(sdk, messages, stream)
    assert answer["text"].startswith("## Parts question")
    assert answer["usage"]["prompt_tokens"] == prompt_tokens("Be brief.", "Parts question")


@STREAM
@pytest.mark.parametrize("part, kind", [
    ({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}, "image_url"),
    ({"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}, "input_audio"),
    ({"type": "file", "file": {"file_id": "file-1"}}, "file"),
])
def test_an_image_audio_or_file_part_is_one_clear_400(emulator, sdk, stream: bool, part, kind) -> None:
    content = [{"type": "text", "text": "What is in this?"}, part]
    with pytest.raises(openai.BadRequestError) as caught:
        ask(sdk, [{"role": "user", "content": "Earlier"}, {"role": "user", "content": content}], stream)
    error = caught.value
    assert error.code == "invalid_request" and error.type == "invalid_request_error"
    message = error.body["message"]
    assert "'messages[1].content[1]'" in message and f"'{kind}'" in message and "text" in message


@pytest.mark.parametrize("content, where", [
    ([], "messages[0].content"),
    ([{"text": "no type"}], "messages[0].content[0]"),
    (["a bare string"], "messages[0].content[0]"),
    ([{"type": "text", "text": 7}], "messages[0].content[0].text"),
    ({"type": "text", "text": "not in a list"}, "messages[0].content"),
])
def test_malformed_parts_are_400_naming_the_part(emulator, content, where: str) -> None:
    response = httpx.post(emulator.url + "/v1/chat/completions", headers={"X-API-Key": emulator.key},
                          json={"messages": [{"role": "user", "content": content}]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert f"'{where}'" in response.json()["error"]["message"]


# roles ------------------------------------------------------------------------------------------

@STREAM
def test_every_role_with_names_and_a_tool_round_trip(emulator, sdk, stream: bool) -> None:
    messages = [
        {"role": "system", "content": "You are terse.", "name": "house_rules"},
        {"role": "developer", "content": "Answer in English."},
        {"role": "user", "content": "Look up tide", "name": "ada"},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "tide: the rise and fall of the sea"},
        {"role": "assistant", "content": "Tide is the rise and fall of the sea.", "name": "helper"},
        {"role": "user", "content": [{"type": "text", "text": "And ebb?"}], "name": "ada"},
    ]
    answer = ask(sdk, messages, stream)
    assert "You asked: “And ebb?”" in answer["text"]       # the last user message is answered
    recorded = roles_and_contents(emulator, answer["session_id"])
    assert recorded[:-1] == [
        ("system", "You are terse."), ("system", "Answer in English."),   # developer is a system turn
        ("user", "Look up tide"), ("assistant", ""),
        ("tool", "tide: the rise and fall of the sea"),
        ("assistant", "Tide is the rise and fall of the sea."), ("user", "And ebb?")]
    assert recorded[-1] == ("assistant", answer["text"])
    assert answer["usage"]["prompt_tokens"] == prompt_tokens(*(text for _, text in recorded[:-1]))


@STREAM
def test_assistant_content_may_be_parts_and_tool_content_too(emulator, sdk, stream: bool) -> None:
    messages = [{"role": "user", "content": "Q1"},
                {"role": "assistant", "content": [{"type": "text", "text": "A1"}], "tool_calls": [CALL]},
                {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "R1"}]},
                {"role": "user", "content": "Q2"}]
    answer = ask(sdk, messages, stream)
    assert roles_and_contents(emulator, answer["session_id"])[:4] == [
        ("user", "Q1"), ("assistant", "A1"), ("tool", "R1"), ("user", "Q2")]


@pytest.mark.parametrize("message, field", [
    ({"role": "function", "content": "x", "name": "f"}, "messages[0].role"),
    ({"role": "tool", "content": "result"}, "messages[0].tool_call_id"),
    ({"role": "tool", "content": "result", "tool_call_id": 1}, "messages[0].tool_call_id"),
    ({"role": "assistant", "content": None}, "messages[0].content"),
    ({"role": "assistant", "content": None, "tool_calls": "lookup"}, "messages[0].tool_calls"),
    ({"role": "user", "content": None}, "messages[0].content"),
    ({"role": "user", "content": "x", "name": 5}, "messages[0].name"),
])
def test_role_rules_are_400_naming_the_field(emulator, message, field: str) -> None:
    response = httpx.post(emulator.url + "/v1/chat/completions", headers={"X-API-Key": emulator.key},
                          json={"messages": [message]})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and f"'{field}'" in error["message"], error


def test_the_role_error_lists_developer(emulator) -> None:
    response = httpx.post(emulator.url + "/v1/chat/completions", headers={"X-API-Key": emulator.key},
                          json={"messages": [{"role": "robot", "content": "x"}]})
    assert "system, developer, user, assistant, tool" in response.json()["error"]["message"]


# extras -----------------------------------------------------------------------------------------

@STREAM
def test_tools_tool_choice_and_unknown_fields_are_ignored(emulator, sdk, stream: bool) -> None:
    answer = ask(sdk, [{"role": "user", "content": "Use a tool please"}], stream,
                 tools=[TOOL], tool_choice="auto", parallel_tool_calls=False, seed=7, user="u-1",
                 response_format={"type": "text"}, stop=["\n\n\n"], temperature=0.2, top_p=0.9,
                 extra_body={"frobnicate": {"deep": [1, 2]}, "elevenlabs_extra_body": {}})
    assert answer["text"].startswith("## Use a tool please")
    assert answer["tool_calls"] is None                  # no tool is ever called


@STREAM
def test_agent_completions_take_the_same_shapes(emulator, stream: bool) -> None:
    headers = {"X-API-Key": emulator.key}
    agents = httpx.get(emulator.url + "/agents", headers=headers).json()["agents"]
    research = next(a for a in agents if a["name"] == "Research")
    body = {"stream": stream, "messages": [
        {"role": "developer", "content": "Cite sources."},
        {"role": "user", "content": [{"type": "text", "text": "[[echo]] agent"}, {"type": "text", "text": "parts"}]}]}
    response = httpx.post(f"{emulator.url}/agents/{research['id']}/completions", json=body, headers=headers)
    assert response.status_code == 200, response.text
    if stream:
        chunks = [json.loads(line[6:]) for line in response.text.splitlines()
                  if line.startswith("data: {")]
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    else:
        text = response.json()["choices"][0]["message"]["content"]
    assert text == "agent\nparts"
    image = {**body, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}
    refused = httpx.post(f"{emulator.url}/agents/{research['id']}/completions", json=image, headers=headers)
    assert refused.status_code == 400 and "'messages[0].content[0]'" in refused.json()["error"]["message"]


# earlier turns without session_id: the new session's history ------------------------------------

@STREAM
def test_earlier_turns_without_session_id_become_the_new_sessions_history(emulator, sdk, stream: bool) -> None:
    earlier = [{"role": "system", "content": "Be kind."},
               {"role": "user", "content": "Name a colour"},
               {"role": "assistant", "content": "Blue."}]
    first = ask(sdk, earlier + [{"role": "user", "content": "Why that one?"}], stream)
    assert roles_and_contents(emulator, first["session_id"]) == [
        ("system", "Be kind."), ("user", "Name a colour"), ("assistant", "Blue."),
        ("user", "Why that one?"), ("assistant", first["text"])]
    assert first["usage"]["prompt_tokens"] == prompt_tokens("Be kind.", "Name a colour", "Blue.", "Why that one?")
    # the same earlier turns with another question: a fork, a second session with the same past
    fork = ask(sdk, earlier + [{"role": "user", "content": "Name another"}], stream)
    assert fork["session_id"] != first["session_id"]
    assert roles_and_contents(emulator, fork["session_id"])[:3] == roles_and_contents(
        emulator, first["session_id"])[:3]
    # continuing a session: only the new turn is sent; the history (and the count) is the server's
    again = ask(sdk, [{"role": "user", "content": "Thanks"}], stream,
                extra_body={"session_id": first["session_id"]})
    assert again["session_id"] == first["session_id"]
    recorded = roles_and_contents(emulator, first["session_id"])
    assert recorded[-2:] == [("user", "Thanks"), ("assistant", again["text"])]
    assert len(recorded) == 7
    assert again["usage"]["prompt_tokens"] == prompt_tokens(*(text for _, text in recorded[:-1]))
    assert [m["usage"] is not None for m in history(emulator, first["session_id"])] == [
        False, False, False, False, True, False, True]
