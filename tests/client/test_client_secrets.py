"""The API key never shows: not in a repr, an exception message or a log line (at any level)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from junis_jupyter.client import AsyncJunisClient, CallRecord, JunisClient, sync
from junis_jupyter.errors import ConfigurationError, JunisError
from junis_jupyter.config import mask_key


def test_key_is_absent_everywhere(emulator: Any, caplog: pytest.LogCaptureFixture,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync, "_sleep", lambda seconds: None)
    caplog.set_level(logging.DEBUG)            # httpx, httpcore and ours, at their most verbose
    limited = emulator.new_key(scopes=["orchestrator:invoke"], rpm=3)
    wrong = "jns_live_" + "W" * 32
    keys = [emulator.key, limited, wrong]
    shown: list[str] = []
    errors: list[BaseException] = []
    records: list[CallRecord] = []

    def leaky_observer(record: CallRecord) -> None:
        raise RuntimeError(f"observer saw {emulator.key}")      # scrubbed before it is logged

    def attempt(fn: Any) -> None:
        try:
            shown.append(repr(fn()))
        except JunisError as exc:
            errors.append(exc)

    with JunisClient(emulator.key, emulator.url,
                     observers=[records.append, leaky_observer]) as good, \
            JunisClient(limited, emulator.url) as narrow, JunisClient(wrong, emulator.url) as bad:
        shown += [repr(good), repr(narrow), repr(bad), str(good.__dict__)]
        attempt(lambda: good.chat("hello"))
        stream = good.stream("stream [[chunks=3]]")
        shown.append(repr(stream))
        attempt(lambda: list(stream))
        shown.append(repr(stream))
        emulator.faults({"kind": "error_event", "after": 1})
        attempt(lambda: list(good.stream("broken")))
        emulator.faults({"kind": "reset", "count": 3})
        attempt(lambda: good.agents())
        attempt(lambda: bad.agents())                            # 401
        attempt(lambda: narrow.agents())                         # 403 scope
        attempt(lambda: list(narrow.stream("x")))                # 403 stream scope
        for _ in range(4):
            attempt(lambda: narrow.chat("fast"))                 # 429 at the fourth
        attempt(lambda: good.chat("x", agent="Nobody"))
    with JunisClient(emulator.key, "http://127.0.0.1:9") as nowhere:
        attempt(lambda: nowhere.session_status("s"))

    async def async_calls() -> None:
        async with AsyncJunisClient(wrong, emulator.url) as c:
            shown.append(repr(c))
            try:
                await c.chat("x")
            except JunisError as exc:
                errors.append(exc)
    asyncio.run(async_calls())

    kinds = {type(e).__name__ for e in errors}
    assert {"StreamError", "APIConnectionError", "AuthenticationError", "PermissionDeniedError",
            "RateLimitError", "AgentNotFoundError"} <= kinds
    shown += [str(e) for e in errors] + [repr(e) for e in errors]
    shown += [repr(getattr(e, "body", None)) for e in errors] + [repr(r) for r in records]
    everything = "\n".join(shown) + caplog.text
    assert mask_key(emulator.key) in everything                  # the reprs say which key...
    assert "observer saw" in caplog.text                         # the log line is there...
    for key in keys:
        assert key not in everything                             # ...but no key anywhere
        assert key[9:] not in everything


@pytest.mark.parametrize("flaw, code", [("\n", "U+000A"), (" ", "U+0020"), ("\u00a0", "U+00A0"),
                                        ("é", "U+00E9"), ("\udce9", "U+DCE9")])
def test_a_key_a_header_cannot_carry_is_refused_without_showing_it(emulator: Any, flaw: str,
                                                                   code: str) -> None:
    # Left to httpx, a line break ends up quoted in a connection error and a non-ASCII
    # character in a UnicodeEncodeError that holds the whole key.
    key = emulator.key[:14] + flaw + emulator.key[14:]
    before = emulator.stats()["requests"]
    for make in (JunisClient, AsyncJunisClient):
        with pytest.raises(ConfigurationError) as info:
            make(key, emulator.url)
        text = str(info.value) + repr(info.value)
        assert code in text and "position 15" in text and "\n" not in str(info.value)
        assert emulator.key[9:14] not in text and emulator.key[14:] not in text
    assert emulator.stats()["requests"] == before


def test_spaces_and_line_breaks_around_a_pasted_key_are_dropped(emulator: Any) -> None:
    with JunisClient(f"  {emulator.key}\n", emulator.url) as client:
        assert client.agents()


def test_the_key_never_follows_a_redirect_even_with_a_client_that_follows_them() -> None:
    # Wire situation the emulator never produces: a redirect to another host. httpx strips only
    # Authorization on such a redirect, not X-API-Key, so the client must not follow at all.
    key = "jns_live_" + "r" * 32
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        if request.url.host == "elsewhere.example":
            return httpx.Response(200, json={"choices": [{"message": {"content": "stolen"}}]})
        return httpx.Response(307, headers={"Location": "https://elsewhere.example/collect"})

    async def async_call() -> BaseException:
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport, follow_redirects=True) as http:
            try:
                await AsyncJunisClient(key, "https://junis.test", http_client=http).chat("hi")
            except JunisError as exc:
                return exc
        raise AssertionError("the redirect was followed")

    with httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=True) as http:
        client = JunisClient(key, "https://junis.test", http_client=http)
        with pytest.raises(JunisError) as info:
            client.chat("hi")
        with pytest.raises(JunisError):
            list(client.stream("hi"))
    errors = [info.value, asyncio.run(async_call())]
    assert all(getattr(e, "code", None) == "redirect" and "elsewhere.example" in str(e)
               for e in errors)
    assert seen == ["junis.test"] * 3
