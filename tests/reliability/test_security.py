"""Nothing leaks the API key, and the key never travels in the clear to another machine.

Key hygiene: a recognisable key (`jns_live_LEAKCANARY...`) goes through the demo (every example
notebook executed, HTML exported), the magic's commands, the panel, the usage ledger, and a
battery of failing calls; every output, file, log record (DEBUG, httpx and httpcore included)
and exception text is scanned for it.

Transport: plain http:// to anything but loopback is refused unless allow_insecure=True. Those
tests use httpx.MockTransport so that a failure of the check can never send a real request to a
non-loopback address from this machine.
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from junis_jupyter import config as settings, demo
from junis_jupyter.client.aio import AsyncJunisClient
from junis_jupyter.client.sync import JunisClient
from junis_jupyter.emulator import process
from junis_jupyter.errors import ConfigurationError, JunisError
from junis_jupyter.data.ledger import Ledger
from support.checks import widget_strings
from support.servers import ScriptedServer, head
from support.shells import MagicShell

pytestmark = pytest.mark.timeout(300)

CANARY = "jns_live_LEAKCANARY" + "0123456789abcdefghijkl"
assert len(CANARY) == len("jns_live_") + 32
MARK = "LEAKCANARY"          # any piece of the key that survives a cut still carries this
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def assert_clean(text: str, where: str, key: str = CANARY) -> None:
    assert key not in text, f"the API key leaked into {where}"
    if key == CANARY:
        assert MARK not in text, f"part of the API key leaked into {where}"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log record of the HTTP stack and the package, at DEBUG."""
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "junis_jupyter", "hpack"):
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}"
                     for r in caplog.records)


# --- the demo: every example notebook executed with the canary key -----------------------------


def test_demo_notebooks_and_html_never_hold_the_key(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert notebooks, "no example notebooks to run"
    started: list[Any] = []
    real = process.start_emulator_process

    def with_canary(*args: Any, **kwargs: Any) -> Any:
        handle = real(*args, **{**kwargs, "key": CANARY})
        started.append(handle)
        return handle

    monkeypatch.setattr(process, "start_emulator_process", with_canary)
    out = tmp_path / "demo"
    code = demo.main(["--out", str(out), "--notebooks", str(NOTEBOOKS)])
    printed = capsys.readouterr()
    assert started and started[0].key == CANARY
    # The demo masks a leaked key in what it writes and reports it: the report is the signal.
    assert "API key appeared" not in printed.out, printed.out
    assert code == 0, printed.out + printed.err
    assert_clean(printed.out + printed.err, "the demo's console output")
    written = sorted(out.iterdir())
    assert {p.suffix for p in written} == {".ipynb", ".html"}
    assert len(written) == 2 * (len(notebooks) + 1)      # and the quickstart again, from the cache
    for path in written:
        assert_clean(path.read_text(encoding="utf-8"), str(path.name))


# --- the magic and the panel with the canary key ------------------------------------------------


@pytest.fixture
def canary_emulator(make_emulator: Callable[..., Any]) -> Any:
    return make_emulator(key=CANARY)


@pytest.fixture
def canary_env(canary_emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("JUNIS_BASE_URL", canary_emulator.url)
    monkeypatch.setenv("JUNIS_API_KEY", CANARY)
    monkeypatch.setenv("JUNIS_HOME", str(tmp_path / "home"))
    return canary_emulator


def test_magic_outputs_never_hold_the_key(canary_env: Any, shell: MagicShell, debug_logs: Any,
                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": CANARY)
    cells = [shell.run(source) for source in (
        "%junis config", "%junis login", "%junis config", "%%junis\nHello there",
        "%junis status", "%junis sessions", "%junis history", "%junis agents",
        "print(repr(_junis))", "%junis help",
        "%%junis --session not-a-session\nHi",            # an error line
    )]
    config = cells[0].events[-1]["data"]["text/plain"]
    assert settings.mask_key(CANARY) in config        # shown masked, so the user can tell
    assert "Key jns_live_…" in cells[1].out
    for cell in cells:
        assert_clean(repr(cell.events) + cell.out + cell.err, "a cell's output")
    assert_clean(repr(shell.magic.client), "repr of the magic's client")
    assert_clean(logged(debug_logs), "the DEBUG log")
    ledger_file = tmp_path / "home" / "usage.sqlite3"
    assert ledger_file.exists()
    assert CANARY.encode() not in ledger_file.read_bytes()


def test_panel_never_shows_the_key(canary_emulator: Any, debug_logs: Any) -> None:
    from junis_jupyter.notebook.panel.widget import ChatPanel

    async def go() -> list[str]:
        seen: list[str] = []
        for key in (CANARY, "jns_live_" + "LEAKCANARY" + "X" * 22):     # good key, refused key
            client = AsyncJunisClient(key, canary_emulator.url)
            panel = ChatPanel(client=client)
            await panel.wait()
            panel.input.value = "Hello there"
            panel.send_button.click()
            await panel.wait()
            seen += widget_strings(panel) + [repr(panel.to_frame().to_dict()), repr(client)]
            assert any("You asked" in text for text in seen) or "junis-error" in panel.notice.value
            await client.aclose()
        return seen

    for text in asyncio.run(go()):
        assert_clean(text, "the panel")
    assert_clean(logged(debug_logs), "the DEBUG log")


# --- a battery of failing calls ----------------------------------------------------------------


def _echo_key_server() -> ScriptedServer:
    """A server that puts the key it received into its error bodies (as some proxies do)."""
    def respond(server: ScriptedServer, conn: Any, request: bytes) -> None:
        sent = next((line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                     if line.lower().startswith(b"x-api-key:")), b"")
        if b'"stream":true' in request:
            body = (b'data: {"choices":[{"delta":{"content":"hi "}}]}\n\n'
                    b'data: {"error":{"message":"bad key ' + sent + b'","code":"x"}}\n\n')
            conn.sendall(head("200 OK", [("Content-Type", "text/event-stream"),
                                         ("Content-Length", str(len(body)))]) + body)
            return
        body = b'{"error":{"message":"key ' + sent + b' is not valid","code":"' + sent + b'"}}'
        conn.sendall(head("400 Bad Request", [("Content-Type", "application/json"),
                                              ("Content-Length", str(len(body)))]) + body)
    return ScriptedServer(respond)


def _failures(emulator: Any, canary_emulator: Any, echo_url: str,
              closed_url: str) -> list[tuple[str, str, str, Callable[[JunisClient], Any]]]:
    """(what, base URL, key, the call that fails)."""
    no_stream_scope = emulator.new_key(scopes=["orchestrator:invoke"])

    def consume(stream: Any) -> None:
        for _ in stream:
            pass

    def faulted(fault: dict[str, Any]) -> Callable[[JunisClient], Any]:
        def call(client: JunisClient) -> Any:
            canary_emulator.faults(fault)
            return consume(client.stream("Hello [[chunks=6]]"))
        return call

    canary = canary_emulator.url
    return [
        ("bad key", emulator.url, CANARY, lambda c: c.chat("hi")),
        ("missing scope", emulator.url, no_stream_scope, lambda c: consume(c.stream("hi"))),
        ("server error", canary, CANARY, lambda c: (canary_emulator.faults(
            {"kind": "status", "status": 500, "count": 3}), c.chat("hi"))),
        ("rate limited", canary, CANARY, lambda c: (canary_emulator.faults(
            {"kind": "status", "status": 429, "count": 3, "retry_after": 0}), c.chat("hi"))),
        ("connection refused", closed_url, CANARY, lambda c: c.chat("hi")),
        ("stream cut", canary, CANARY, faulted({"kind": "cut", "after": 2})),
        ("error event", canary, CANARY, faulted({"kind": "error_event", "after": 2})),
        ("malformed chunk", canary, CANARY, faulted({"kind": "malformed", "after": 2})),
        ("unknown session", canary, CANARY, lambda c: c.messages("nope")),
        ("key echoed by the server", echo_url, CANARY, lambda c: c.chat("hi")),
        ("key echoed in a stream error", echo_url, CANARY, lambda c: consume(c.stream("hi"))),
    ]


def test_failing_calls_never_put_the_key_in_errors_or_logs(emulator: Any, canary_emulator: Any,
                                                           debug_logs: Any,
                                                           sleeps: list[float],
                                                           tmp_path: Path) -> None:
    import socket
    with socket.socket() as s:          # a port that was free a moment ago: connection refused
        s.bind(("127.0.0.1", 0))
        closed_url = f"http://127.0.0.1:{s.getsockname()[1]}"
    ledger = Ledger(tmp_path / "usage.sqlite3")

    def noisy_observer(record: Any) -> None:
        raise RuntimeError(f"observer failed while the key was {CANARY}")

    texts: list[tuple[str, str, str]] = []
    with _echo_key_server() as echo:
        for name, url, key, call in _failures(emulator, canary_emulator, echo.url, closed_url):
            observers = [ledger.record] + ([noisy_observer] if key == CANARY else [])
            client = JunisClient(key, url, max_retries=1, observers=observers)
            with pytest.raises(JunisError) as info:
                call(client)
            err = info.value
            text = f"{err}\n{err!r}\n{err.args!r}\n{vars(err)!r}\n{err.__cause__!r}\n{repr(client)}"
            texts.append((name, key, text))
            client.close()
    assert len(texts) == 11
    for name, key, text in texts:
        assert_clean(text, f"the error of '{name}'", key)
    log = logged(debug_logs)
    for name, key, _ in texts:
        assert_clean(log, f"the DEBUG log (after '{name}')", key)
    assert "observer" in log          # the noisy observer's failure was logged, scrubbed
    data = ledger.path.read_bytes()
    assert len(ledger.rows()) == 11 and CANARY.encode() not in data and MARK.encode() not in data


def test_reprs_never_show_the_key(canary_emulator: Any) -> None:
    sync_client = JunisClient(CANARY, canary_emulator.url)
    async_client = AsyncJunisClient(CANARY, canary_emulator.url)
    for obj in (sync_client, async_client, canary_emulator, sync_client.stream("hi")):
        assert_clean(repr(obj) + str(obj), f"repr of {type(obj).__name__}")
    assert settings.mask_key(CANARY) in repr(sync_client)
    sync_client.close()
    asyncio.run(async_client.aclose())


# --- transport -------------------------------------------------------------------------------


def _recording_transport() -> tuple[list[httpx.Request], httpx.MockTransport]:
    # MockTransport on purpose: if the check under test failed, a real client would send the
    # key to a non-loopback address, which this machine must never do.
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(307, headers={"Location": "http://198.51.100.7/v1/chat/completions"})
    return seen, httpx.MockTransport(handler)


@pytest.mark.parametrize("url", [
    "http://api.junis.example/api/external",
    "http://10.1.2.3:8000",
    "http://192.168.0.10",
    "http://127.0.0.1.attacker.example",
    "http://localhost.attacker.example",
    "http://[2001:db8::1]:8080",
    "HTTP://API.JUNIS.EXAMPLE",
])
def test_plain_http_to_another_machine_is_refused(url: str) -> None:
    seen, transport = _recording_transport()
    with pytest.raises(ConfigurationError) as info:
        JunisClient(CANARY, url, http_client=httpx.Client(transport=transport))
    assert "allow_insecure" in str(info.value) and CANARY not in str(info.value)
    with pytest.raises(ConfigurationError):
        AsyncJunisClient(CANARY, url, http_client=httpx.AsyncClient(transport=transport))
    assert seen == []


def test_plain_http_from_the_environment_is_refused(shell: MagicShell,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUNIS_BASE_URL", "http://api.junis.example")
    monkeypatch.setenv("JUNIS_API_KEY", CANARY)
    with pytest.raises(ConfigurationError):
        JunisClient()
    cell = shell.run("%%junis\nHi")
    lines = cell.error_lines()
    assert len(lines) == 1 and "allow_insecure" in lines[0]
    assert_clean(cell.err + cell.out, "the magic's error line")


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9",
                                 "http://127.5.6.7:9", "https://api.junis.example"])
def test_https_and_loopback_are_allowed(url: str) -> None:
    seen, transport = _recording_transport()
    JunisClient(CANARY, url, http_client=httpx.Client(transport=transport)).close()
    assert seen == []


def test_allow_insecure_is_an_explicit_opt_in_and_redirects_are_not_followed() -> None:
    seen, transport = _recording_transport()
    with JunisClient(CANARY, "http://api.junis.example", allow_insecure=True, max_retries=0,
                     http_client=httpx.Client(transport=transport)) as client:
        with pytest.raises(JunisError):
            client.chat("hi")
    # One request, to the host asked for; the redirect to another host was not followed.
    assert [r.url.host for r in seen] == ["api.junis.example"]


def test_keys_are_sent_only_in_the_header(canary_emulator: Any) -> None:
    seen: list[httpx.Request] = []
    with JunisClient(CANARY, canary_emulator.url,
                     http_client=httpx.Client(event_hooks={"request": [seen.append]})) as client:
        client.chat("Hello")
        client.sessions()
    assert seen and all(CANARY not in str(r.url) and CANARY.encode() not in r.content
                        for r in seen)
    assert all(r.headers["x-api-key"] == CANARY for r in seen)


# Ids that cannot be one path segment: quoting leaves them as they are, and the URL resolves them
# away (`/sessions/../messages` is `/messages`, `/sessions/./status` is `/sessions/status`).
NOT_SEGMENTS = ["..", ".", ""]


@pytest.mark.parametrize("session_id", ["../../agents", "x/../../v1/chat/completions",
                                        "a?page=1&page_size=100", "a#frag", "%2e%2e%2fagents",
                                        "...", ".%2e", *NOT_SEGMENTS])
def test_ids_cannot_steer_requests_to_other_paths(canary_emulator: Any, session_id: str) -> None:
    """A session id is one path segment on the wire, whatever it holds; an id that cannot be one
    is refused before any request, in one line that names it."""
    seen: list[httpx.Request] = []
    with JunisClient(CANARY, canary_emulator.url,
                     http_client=httpx.Client(event_hooks={"request": [seen.append]})) as client:
        with pytest.raises(JunisError) as info:
            client.messages(session_id)
        with pytest.raises(JunisError) as status_info:
            client.session_status(session_id)
    if session_id in NOT_SEGMENTS:
        assert seen == []
        for error in (info.value, status_info.value):
            assert isinstance(error, ConfigurationError) and "session id" in str(error)
            assert (repr(session_id) if session_id else "empty") in str(error)
            assert "\n" not in str(error)
        return
    # The server may decode %2F and miss the route (not_found): either way it found no session.
    assert getattr(info.value, "code", None) in ("session_not_found", "not_found")
    for request in seen:
        path = request.url.raw_path.decode()
        assert path.startswith("/sessions/") and path.count("/") == 3, path
        assert "page_size=100" not in path.split("?", 1)[0]
