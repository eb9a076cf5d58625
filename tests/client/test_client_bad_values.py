"""Bad values at the client's edges (issue 21): numbers it refuses when it is made, and text from
the service it mends before anyone stores it.

- A timeout of `inf`, `nan`, `-1`, `0` or `1e300`, a `max_retries` of `-1` or `1.5`, a `map`
  concurrency of `nan`: one line naming the option, when the client is made (or `map` called),
  instead of a raw OverflowError / ValueError later, a misleading "could not reach", or a hang.
- A lone surrogate in an answer (the JSON `"\\ud800"`): json.loads keeps it, and sqlite, nbformat
  and parquet then refuse the text (UnicodeEncodeError). The client replaces it with U+FFFD in
  whole answers, streamed deltas (and so the text and result), listed messages, error messages,
  and agent and session fields.
"""
from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

import httpx
import pytest

from junis_jupyter.client import AsyncJunisClient, JunisClient, RetryPolicy
from junis_jupyter.errors import APIError, ConfigurationError, StreamError

KEY = "jns_live_" + "b" * 32
NOWHERE = "http://127.0.0.1:9"      # never reached: every refusal comes before any request
BAD_SECONDS = [float("inf"), float("-inf"), float("nan"), -1, 0, 0.0, 1e300, True, "5"]


def one_line_naming(error: BaseException, option: str) -> None:
    text = str(error)
    assert text.startswith(f"{option} must be") and "\n" not in text, text


# --- numbers, refused when the client is made ---------------------------------------------------

@pytest.mark.parametrize("cls", [JunisClient, AsyncJunisClient])
@pytest.mark.parametrize("option", ["timeout", "connect_timeout"])
@pytest.mark.parametrize("value", BAD_SECONDS, ids=repr)
def test_bad_timeouts_are_refused_when_the_client_is_made(cls: type, option: str,
                                                          value: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        cls(KEY, NOWHERE, **{option: value})
    one_line_naming(info.value, option)


@pytest.mark.parametrize("value", [-1, 1.5, float("nan"), True, "2", None], ids=repr)
def test_bad_max_retries_are_refused_when_the_client_is_made(value: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        JunisClient(KEY, NOWHERE, max_retries=value)
    one_line_naming(info.value, "max_retries")
    with pytest.raises(ConfigurationError) as info:
        RetryPolicy(max_retries=value)
    one_line_naming(info.value, "max_retries")


@pytest.mark.parametrize("field", ["base_delay", "max_delay", "max_wait"])
def test_a_retry_policy_with_waits_it_cannot_sleep_is_refused(field: str) -> None:
    for value in (float("nan"), float("inf"), -1):
        with pytest.raises(ConfigurationError) as info:
            RetryPolicy(**{field: value})
        one_line_naming(info.value, f"RetryPolicy.{field}")


def test_max_response_bytes_below_one_is_refused() -> None:
    with pytest.raises(ConfigurationError) as info:
        JunisClient(KEY, NOWHERE, max_response_bytes=0)
    one_line_naming(info.value, "max_response_bytes")


def test_good_timeouts_still_work(emulator: Any) -> None:
    """Ints, floats and None (no limit) are what a timeout may be."""
    for timeout, connect in ((5, 2), (30.5, 0.25), (None, None)):
        with JunisClient(emulator.key, emulator.url, timeout=timeout, connect_timeout=connect,
                         max_retries=0) as client:
            assert client.chat("[[echo]] fine").text == "fine"


@pytest.mark.timeout(60)        # bounds the hang this test is about, should it come back
@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0, 2.5, True, "3"], ids=repr)
def test_map_concurrency_that_is_not_a_count_is_refused_before_any_request(
        emulator: Any, value: Any) -> None:
    async def main() -> None:
        async with AsyncJunisClient(emulator.key, emulator.url) as client:
            await client.map(["[[echo]] a", "[[echo]] b"], concurrency=value)

    before = emulator.stats()["requests"]
    with pytest.raises(ConfigurationError) as info:
        asyncio.run(main())
    one_line_naming(info.value, "concurrency")
    assert emulator.stats()["requests"] == before


# --- lone surrogates, mended where the client decodes the service's text ------------------------

from support.surrogates import MARK, AsyncLoneSurrogateOnTheWay, LoneSurrogateOnTheWay  # noqa: E402


def storable(text: str) -> bool:
    """Whether a store that writes UTF-8 takes the text (sqlite raises on a lone surrogate)."""
    try:
        sqlite3.connect(":memory:").execute("select ?", (text,)).fetchone()
    except UnicodeEncodeError:
        return False
    return True


assert not storable("a\ud800b")     # what the mending is for


def test_lone_surrogates_in_answers_and_listings_are_replaced(emulator: Any) -> None:
    http = httpx.Client(transport=LoneSurrogateOnTheWay())
    with JunisClient(emulator.key, emulator.url, http_client=http) as client:
        whole = client.chat("[[echo]] whole @LONE@ answer")
        assert whole.text == "whole \ufffd answer" and storable(whole.text)

        with client.stream("[[chunks=9]] [[echo]] streamed @LONE@ answer") as stream:
            deltas = [chunk.text for chunk in stream]
        assert "".join(deltas) == "streamed \ufffd answer" and all(map(storable, deltas))
        assert stream.result is not None and stream.result.text == "streamed \ufffd answer"
        assert stream.text == stream.result.text

        listed = client.messages(whole.session_id or "")
        assert [m.content for m in listed] == ["[[echo]] whole \ufffd answer", "whole \ufffd answer"]
    http.close()


def test_lone_surrogates_reach_neither_async_answers_nor_streams(emulator: Any) -> None:
    async def main() -> tuple[str, list[str], str]:
        http = httpx.AsyncClient(transport=AsyncLoneSurrogateOnTheWay())
        async with AsyncJunisClient(emulator.key, emulator.url, http_client=http) as client:
            whole = await client.chat("[[echo]] a @LONE@ b")
            stream = client.stream("[[chunks=5]] [[echo]] c @LONE@ d")
            deltas = [chunk.text async for chunk in stream]
            assert stream.result is not None
            result = stream.result.text
        await http.aclose()
        return whole.text, deltas, result

    whole, deltas, result = asyncio.run(main())
    assert whole == "a \ufffd b" and "".join(deltas) == result == "c \ufffd d"


def test_lone_surrogates_in_error_messages_are_replaced(emulator: Any) -> None:
    """The emulator's faults carry any message; the admin body is sent as ASCII JSON, so the
    lone surrogates reach it (httpx's own `json=` would refuse to encode them)."""
    faults = [{"kind": "status", "status": 400, "message": "bad \ud800 request"},
              {"kind": "error_event", "after": 1, "message": "broke \udfff here"}]
    emulator.admin.post("/_emulator/faults", content=json.dumps({"faults": faults}),
                        headers={"content-type": "application/json"}).raise_for_status()
    with JunisClient(emulator.key, emulator.url, max_retries=0) as client:
        with pytest.raises(APIError) as status:
            client.chat("[[echo]] hello")
        with pytest.raises(StreamError) as event:
            "".join(chunk.text for chunk in client.stream("[[chunks=4]] [[echo]] a b c d"))
    assert "bad \ufffd request" in str(status.value) and storable(str(status.value))
    assert "broke \ufffd here" in str(event.value) and storable(str(event.value))


def test_lone_surrogates_in_agent_and_session_fields_are_replaced() -> None:
    """httpx.MockTransport: the emulator's agents are seeded and its session ids are UUIDs it
    makes itself, so it never sends either with a lone surrogate in it."""
    bodies = {
        "/agents": {"agents": [{"id": "a\ud800", "name": "Research \udc00",
                                "description": "finds \ud83d things", "agent_type": "LLM_AGENT",
                                "model": "m\udfff"}]},
        "/sessions": {"sessions": [{"session_id": "s\ud800", "created_at": None}],
                      "has_next": False},
        "/sessions/s%EF%BF%BD/status": {"session_id": "s\ud800", "status": "idle\udfff"},
    }

    def answer(request: httpx.Request) -> httpx.Response:
        body = bodies[request.url.raw_path.decode().split("?")[0]]
        text = json.dumps(body).encode()                    # ASCII JSON: escapes, lower case
        return httpx.Response(200, content=text.replace(b"\\udc00", b"\\uDC00"),  # JSON allows both
                              headers={"content-type": "application/json"})

    http = httpx.Client(transport=httpx.MockTransport(answer))
    with JunisClient(KEY, "https://junis.test", http_client=http) as client:
        [agent] = client.agents()
        [session] = client.sessions()
        status = client.session_status(session.session_id)
    assert (agent.id, agent.name, agent.description, agent.model) == (
        "a\ufffd", "Research \ufffd", "finds \ufffd things", "m\ufffd")
    assert session.session_id == "s\ufffd"
    assert (status.session_id, status.status) == ("s\ufffd", "idle\ufffd")
