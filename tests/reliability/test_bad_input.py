"""Bad input in, one clear line out, and everything keeps working afterwards.

The magic (in a real InteractiveShell) and the panel (driven without a frontend) get unknown
options, bad values, empty and enormous prompts, undecodable text and prompts full of braces,
against the emulator. The client gets servers that misbehave at the HTTP level (HTML for JSON,
bodies cut short, wrong content types, endless bodies, huge headers): those are small raw-socket
servers from reliability_support, since the emulator only ever speaks the contract.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from junis_jupyter.client.aio import AsyncJunisClient
from junis_jupyter.client.sync import JunisClient
from junis_jupyter.errors import APIConnectionError, APIError, JunisError, StreamError
from junis_jupyter.notebook.panel.widget import ChatPanel
from support.checks import one_line
from support.servers import ScriptedServer, endless, fixed, huge_headers
from support.shells import MagicShell

pytestmark = pytest.mark.timeout(60)

# What a notebook gets when it reads a file with the wrong encoding: undecodable bytes become
# lone surrogates (errors="surrogateescape"), which are not valid Unicode text.
UNDECODABLE = b"caf\xe9 \xff\xfe".decode("utf-8", "surrogateescape")
BRACES = "{{}} {x for x in y} {undefined_name} {'k': 1} {{{{ }}}} {0} {} {!r} }{ {{{"
# what is sent: {{ and }} are literal braces (as in str.format); every other brace stays as written
BRACES_SENT = "{} {x for x in y} {undefined_name} {'k': 1} {{ }} {0} {} {!r} }{ {{"


# --- the magic ---------------------------------------------------------------------------------


@pytest.fixture
def shell(shell: MagicShell, junis_env: Any) -> MagicShell:
    """The shared shell (tests/support/shells.py), its calls going to the session emulator."""
    return shell


def requests(emulator: Any) -> int:
    return emulator.stats()["requests"]


def one_error_line(cell: Any) -> str:
    assert cell.error is None, cell.error                    # never an exception in the kernel
    lines = cell.error_lines()
    assert len(lines) == 1, cell.err
    assert lines[0].startswith("Junis: ") and one_line(lines[0])
    assert "Traceback" not in cell.out
    return lines[0]


def still_healthy(shell: MagicShell) -> None:
    """The next ordinary cell answers as usual."""
    cell = shell.run("%%junis --new\nAre you still there?")
    assert cell.error is None and cell.err == "", cell.err
    assert "You asked: “Are you still there?”" in cell.shown


@pytest.mark.parametrize("line, fragment", [
    ("--bogus", "unrecognized arguments: --bogus"),
    ("--agent", "expected one argument"),
    ("--temperature hot", "invalid float value"),
    ("--format xml", "invalid choice"),
    ("--max-tokens lots", "invalid int value"),
    ("--out 2x", "not a variable name"),
    ("--new --session abc", "cannot go together"),
    ("--system 'unclosed", "bad option"),
    ("--no-stream --no-stream --bogus=1 -x", "bad option"),
])
def test_magic_bad_options_are_one_line_and_no_request(shell: MagicShell, emulator: Any,
                                                       line: str, fragment: str) -> None:
    before = requests(emulator)
    assert fragment in one_error_line(shell.run(f"%%junis {line}\nHi"))
    assert requests(emulator) == before
    still_healthy(shell)


@pytest.mark.parametrize("line, fragment", [
    ("--temperature 7", "temperature"),
    ("--max-tokens -5", "max_tokens"),
    ("--agent NoSuchAgent", "NoSuchAgent"),
    ("--agent Pipeline", "agent_not_invocable"),
    ("--session not-a-session", "session_not_found"),
])
def test_magic_values_the_server_refuses_are_one_line(shell: MagicShell, line: str,
                                                      fragment: str) -> None:
    assert fragment in one_error_line(shell.run(f"%%junis {line}\nHi"))
    still_healthy(shell)


@pytest.mark.parametrize("source, fragment", [
    ("%junis frobnicate", "unknown command"),
    ("%junis history 'unclosed", "bad command"),
    ("%junis --new", "options go on a `%%junis` cell"),
])
def test_magic_bad_line_commands_are_one_line(shell: MagicShell, emulator: Any, source: str,
                                              fragment: str) -> None:
    before = requests(emulator)
    assert fragment in one_error_line(shell.run(source))
    assert requests(emulator) == before
    still_healthy(shell)


@pytest.mark.parametrize("body", ["   ", "\n\n\t\n"])
def test_magic_blank_cell_is_one_line_and_no_request(shell: MagicShell, emulator: Any,
                                                     body: str) -> None:
    before = requests(emulator)
    assert "nothing to ask" in one_error_line(shell.run("%%junis\n" + body))
    assert requests(emulator) == before
    still_healthy(shell)


def test_magic_empty_cell_is_ipythons_one_line_usage_error(shell: MagicShell,
                                                           emulator: Any) -> None:
    """IPython itself refuses a cell magic with no body, before the magic runs: one line."""
    from IPython.core.error import UsageError
    before = requests(emulator)
    cell = shell.run("%%junis")
    assert isinstance(cell.error, UsageError) and "cell body is empty" in str(cell.error)
    assert one_line(str(cell.error)) and requests(emulator) == before
    still_healthy(shell)


def test_magic_enormous_cell_is_refused_before_any_request(shell: MagicShell,
                                                           emulator: Any) -> None:
    cap = shell.magic.max_prompt_chars
    before = requests(emulator)
    line = one_error_line(shell.run("%%junis\n" + "x" * (cap + 1)))
    assert f"{cap + 1} characters" in line and "max_prompt_chars" in line
    assert requests(emulator) == before
    # The cap is configurable, and applies after interpolation.
    shell.run("%config JunisMagics.max_prompt_chars = 500")
    shell.shell.user_ns["long_text"] = "y" * 400
    line = one_error_line(shell.run("%%junis\n{long_text} and {long_text}"))
    assert "over the limit of 500" in line
    assert requests(emulator) == before
    still_healthy(shell)


def test_magic_prompt_full_of_braces_is_sent_as_written(shell: MagicShell) -> None:
    cell = shell.run("%%junis\n[[echo]] " + BRACES)
    assert cell.error is None and cell.err == ""
    assert shell.shell.user_ns["_junis"].text == BRACES_SENT
    still_healthy(shell)


def test_magic_bytes_value_is_interpolated_readably(shell: MagicShell) -> None:
    shell.shell.user_ns["raw"] = b"\xff\xfe\x00bin"
    cell = shell.run("%%junis\n[[echo]] {raw}")
    assert cell.error is None and cell.err == ""
    assert shell.shell.user_ns["_junis"].text == repr(b"\xff\xfe\x00bin")


def test_magic_undecodable_text_gets_a_clear_line(shell: MagicShell) -> None:
    shell.shell.user_ns["text"] = UNDECODABLE
    cell = shell.run("%%junis\n[[echo]] {text}")
    if cell.err:     # refused: one clear line, not a Python exception's name
        assert "UnicodeEncodeError" not in one_error_line(cell)
    else:            # or sent, escaped, and echoed back
        assert shell.shell.user_ns["_junis"].text.startswith("caf")
    still_healthy(shell)


# --- the panel ---------------------------------------------------------------------------------


def _with_panel(emulator: Any, check: Callable[[ChatPanel], Awaitable[None]],
                **options: Any) -> None:
    """Run `check` on a panel (pickers loaded) with a client of its own, closed after."""
    async def go() -> None:
        client = AsyncJunisClient(emulator.key, emulator.url)
        try:
            panel = ChatPanel(client=client, **options)
            await panel.wait()
            await check(panel)
        finally:
            await client.aclose()
    asyncio.run(go())


async def _ask(panel: ChatPanel, text: str) -> None:
    panel.input.value = text
    panel.send_button.click()
    await panel.wait()


async def _panel_still_healthy(panel: ChatPanel) -> None:
    before = len(panel.turns)
    await _ask(panel, "Are you still there?")
    assert [t.state for t in panel.turns[before:]] == ["done", "done"]
    assert "You asked" in panel.turns[-1].text()


def _notice_line(panel: ChatPanel) -> str:
    notice = panel.notice.value
    assert "junis-error" in notice and one_line(notice), notice
    return notice


def test_panel_blank_input_sends_nothing(emulator: Any) -> None:
    async def check(panel: ChatPanel) -> None:
        before = requests(emulator)
        for blank in ("", "   ", "\n\t\n"):
            await _ask(panel, blank)
        assert panel.turns == [] and requests(emulator) == before
        await _panel_still_healthy(panel)
    _with_panel(emulator, check)


def test_panel_unknown_agent_is_one_notice_and_the_orchestrator_stays(emulator: Any) -> None:
    async def check(panel: ChatPanel) -> None:
        assert "NoSuchAgent" in _notice_line(panel) and panel.agent in (None, "")
        await _panel_still_healthy(panel)
    _with_panel(emulator, check, agent="NoSuchAgent")


def test_panel_prompt_full_of_braces_is_sent_as_written(emulator: Any) -> None:
    async def check(panel: ChatPanel) -> None:
        await _ask(panel, "[[echo]] " + BRACES)
        assert panel.turns[-1].text() == BRACES and panel.turns[-1].state == "done"
    _with_panel(emulator, check)


@pytest.mark.parametrize("update_hz", [0, -5])
def test_panel_bad_update_rate_is_a_clear_error(emulator: Any, update_hz: float) -> None:
    client = AsyncJunisClient(emulator.key, emulator.url)
    with pytest.raises(ValueError, match="update_hz"):
        ChatPanel(client=client, update_hz=update_hz)


def test_panel_enormous_input_is_refused_before_any_request(emulator: Any) -> None:
    async def check(panel: ChatPanel) -> None:
        before = requests(emulator)
        await _ask(panel, "z" * 1_000_001)
        assert requests(emulator) == before, "the enormous prompt was sent"
        assert "characters" in _notice_line(panel)
    _with_panel(emulator, check)


def test_panel_undecodable_text_gets_a_clear_notice(emulator: Any) -> None:
    async def check(panel: ChatPanel) -> None:
        await _ask(panel, "[[echo]] " + UNDECODABLE)
        if panel.notice.value:
            assert "UnicodeEncodeError" not in _notice_line(panel)
        else:
            assert panel.turns[-1].text().startswith("caf")
        await _panel_still_healthy(panel)
    _with_panel(emulator, check)


# --- the client against broken servers ---------------------------------------------------------

KEY = "jns_live_" + "B" * 32
COMPLETION = (b'{"id":"c1","object":"chat.completion","session_id":"s1","choices":[{"index":0,'
              b'"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],'
              b'"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}')


def _client(server: ScriptedServer, **kwargs: Any) -> JunisClient:
    return JunisClient(KEY, server.url, timeout=5, **{"max_retries": 0, **kwargs})


def _clear(exc: BaseException) -> str:
    assert isinstance(exc, JunisError), repr(exc)
    text = str(exc)
    assert one_line(text) and KEY not in text
    return text


@pytest.mark.parametrize("name, responder, error, fragment", [
    ("HTML instead of JSON", fixed("200 OK", "text/html",
                                   b"<html><body><h1>Welcome to nginx!</h1></body></html>"),
     APIError, "not JSON"),
    ("truncated JSON body", fixed("200 OK", "application/json", COMPLETION[:60]),
     APIError, "not JSON"),
    ("200 with text/plain", fixed("200 OK", "text/plain", b"OK"), APIError, "not JSON"),
    ("HTML error page", fixed("502 Bad Gateway", "text/html",
                              b"<html><body>502 Bad Gateway</body></html>"),
     APIError, "502"),
    ("JSON that is not a completion", fixed("200 OK", "application/json", b"[1, 2, 3]"),
     APIError, "Unexpected completion"),
    ("an object with no choices", fixed("200 OK", "application/json", b"{}"),
     APIError, "completion"),
])
def test_client_chat_against_a_broken_body(name: str, responder: Any, error: type,
                                           fragment: str) -> None:
    with ScriptedServer(responder) as server, _client(server) as client:
        with pytest.raises(error) as info:
            client.chat("hi")
    assert fragment in _clear(info.value)


@pytest.mark.parametrize("name, responder", [
    ("a whole JSON completion to a stream request",
     fixed("200 OK", "application/json", COMPLETION)),
    ("HTML to a stream request", fixed("200 OK", "text/html", b"<html>hello</html>")),
])
def test_client_stream_against_a_non_stream_answer(name: str, responder: Any) -> None:
    with ScriptedServer(responder) as server, _client(server) as client:
        with pytest.raises(StreamError) as info:
            for _ in client.stream("hi"):
                pass
    _clear(info.value)


def test_client_body_cut_short_is_a_connection_error_after_retries() -> None:
    cut = fixed("200 OK", "application/json", COMPLETION[:60], declared=len(COMPLETION))
    with ScriptedServer(cut) as server, _client(server, max_retries=1) as client:
        with pytest.raises(APIConnectionError) as info:
            client.chat("hi")
        assert server.requests == 2
    _clear(info.value)


def test_client_endless_stream_without_newline_is_bounded() -> None:
    with ScriptedServer(endless("text/event-stream", b"data: " + b"a" * 65530,
                                cap_bytes=512 << 20)) as server:
        with _client(server) as client, pytest.raises(StreamError) as info:
            for _ in client.stream("hi"):
                pass
    assert "exceeded" in _clear(info.value)
    # The client stopped reading near its 4 MiB event bound; socket buffers add a little.
    assert server.sent < 64 << 20, server.sent


def test_client_async_endless_stream_without_newline_is_bounded() -> None:
    async def go(url: str) -> BaseException:
        async with AsyncJunisClient(KEY, url, max_retries=0, timeout=5) as client:
            try:
                async for _ in client.stream("hi"):
                    pass
            except JunisError as exc:
                return exc
        raise AssertionError("the endless stream ended without an error")

    with ScriptedServer(endless("text/event-stream", b"a" * 65536,
                                cap_bytes=512 << 20)) as server:
        err = asyncio.run(go(server.url))
    assert isinstance(err, StreamError) and "exceeded" in _clear(err)
    assert server.sent < 64 << 20, server.sent


def test_client_endless_json_body_is_bounded() -> None:
    with ScriptedServer(endless("application/json", b"a" * 65536,
                                cap_bytes=256 << 20)) as server:
        with _client(server) as client, pytest.raises(JunisError) as info:
            client.chat("hi")
    _clear(info.value)
    assert server.sent < 64 << 20, f"{server.sent >> 20} MiB read for one chat answer"


def test_client_large_but_sane_headers_are_accepted() -> None:
    with ScriptedServer(huge_headers(32 << 10, COMPLETION)) as server, _client(server) as client:
        assert client.chat("hi").text == "hello"


@pytest.mark.parametrize("size", [256 << 10, 4 << 20])
def test_client_huge_headers_end_in_a_clear_error(size: int) -> None:
    with ScriptedServer(huge_headers(size)) as server, _client(server, max_retries=1) as client:
        with pytest.raises(APIConnectionError) as info:
            client.chat("hi")
        assert server.requests == 2          # retried once, then given up: no hang
    _clear(info.value)


def test_client_undecodable_prompt_is_a_junis_error(emulator: Any) -> None:
    with JunisClient(emulator.key, emulator.url) as client:
        try:
            result = client.chat("[[echo]] " + UNDECODABLE)
        except Exception as exc:     # noqa: BLE001 - the class is what is under test
            _clear(exc)
        else:
            assert result.text.startswith("caf")
