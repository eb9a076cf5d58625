"""The emulator as a program: its first two lines, the CLI, --state across restarts, the OpenAI SDK."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import httpx
import pytest

from junis_jupyter.emulator import start_emulator_process
from junis_jupyter.emulator.store import StateError

URL_LINE = re.compile(r"^Junis emulator listening on (http://127\.0\.0\.1:(\d+))$")
KEY_LINE = re.compile(r"^API key: (jns_live_[A-Za-z0-9]{32})$")


def first_two_lines(*args: str) -> tuple[str, str]:
    process = subprocess.Popen([sys.executable, "-m", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        lines = process.stdout.readline().rstrip("\n"), process.stdout.readline().rstrip("\n")
        url = URL_LINE.match(lines[0])
        assert url, lines
        with httpx.Client(base_url=url.group(1)) as c:     # and it is really serving
            key = KEY_LINE.match(lines[1]).group(1)
            assert c.get("/agents", headers={"X-API-Key": key}).status_code == 200
        return lines
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()


def test_module_prints_url_and_key_first() -> None:
    url_line, key_line = first_two_lines("junis_jupyter.emulator", "--port", "0")
    assert int(URL_LINE.match(url_line).group(2)) > 0
    assert KEY_LINE.match(key_line)


def test_cli_subcommand_takes_the_same_options() -> None:
    key = "jns_live_" + "k" * 32
    _, key_line = first_two_lines("junis_jupyter.cli", "emulator", "--port", "0", "--key", key,
                                  "--plan", "basic")
    assert key_line == f"API key: {key}"


def test_cli_rejects_bad_options() -> None:
    done = subprocess.run([sys.executable, "-m", "junis_jupyter.emulator", "--plan", "gold"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "--plan" in done.stderr


def test_process_runner_serves_options_and_stops(tmp_path) -> None:
    with start_emulator_process(plan="basic", credits=0) as server:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": server.key}) as c:
            agents = c.get("/agents")
            refused = c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
        assert server.stats()["requests"] == 2           # admin on by default for the runner
        assert server.key not in repr(server)
    assert agents.headers["x-ratelimit-limit"] == "60" and refused.status_code == 402
    assert server.process.poll() is not None
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url + "/agents")


def test_state_file_keeps_sessions_and_key_across_restarts(tmp_path) -> None:
    state = tmp_path / "state.json"
    body = {"messages": [{"role": "user", "content": "Remember me"}]}
    with start_emulator_process(state=str(state)) as first:
        with httpx.Client(base_url=first.url, headers={"X-API-Key": first.key}) as c:
            done = c.post("/v1/chat/completions", json=body).json()
    saved = json.loads(state.read_text())                 # valid JSON, written as it went
    assert [s["session_id"] for s in saved["sessions"]] == [done["session_id"]]
    with start_emulator_process(state=str(state)) as second:
        assert second.key == first.key
        with httpx.Client(base_url=second.url, headers={"X-API-Key": second.key}) as c:
            sessions = c.get("/sessions").json()
            more = c.post("/v1/chat/completions", json={"session_id": done["session_id"],
                                                        "messages": [{"role": "user", "content": "Again"}]})
            history = c.get(f"/sessions/{done['session_id']}/messages").json()
    assert sessions["total"] == 1 and sessions["sessions"][0]["session_id"] == done["session_id"]
    assert more.status_code == 200
    assert [m["content"] for m in history["messages"]][::2] == ["Remember me", "Again"]
    assert history["messages"][1]["usage"] == done["usage"]


def test_state_file_in_process_restart_keeps_new_keys(make_emulator, tmp_path) -> None:
    state = tmp_path / "state.json"
    first = make_emulator(state=str(state))
    extra = first.new_key(scopes=["sessions:read"])
    first.stop()
    second = make_emulator(state=str(state))
    with httpx.Client(base_url=second.url, headers={"X-API-Key": extra}) as c:
        assert c.get("/sessions").status_code == 200
        assert c.get("/agents").status_code == 403


def test_unreadable_state_file_is_a_clear_error(tmp_path, make_emulator) -> None:
    state = tmp_path / "state.json"
    state.write_text("{broken")
    with pytest.raises(RuntimeError, match="Cannot read emulator state"):
        start_emulator_process(state=str(state))
    state.write_text('{"sessions": [{"unexpected": 1}]}')
    with pytest.raises(StateError, match="unexpected content"):
        make_emulator(state=str(state))


def test_stock_openai_sdk_chats_and_streams(emulator) -> None:
    openai = pytest.importorskip("openai")
    sdk = openai.OpenAI(api_key=emulator.key, base_url=emulator.url + "/v1", max_retries=0)
    reply = sdk.chat.completions.create(model="junis-orchestrator",
                                        messages=[{"role": "user", "content": "Hello SDK"}])
    text = reply.choices[0].message.content
    assert text.startswith("## Hello SDK") and reply.usage.total_tokens > 0
    session_id = reply.model_extra["session_id"]
    pieces = []
    for chunk in sdk.chat.completions.create(model="junis-orchestrator", stream=True,
                                             messages=[{"role": "user", "content": "Hello SDK"}],
                                             extra_body={"session_id": session_id}):
        assert chunk.model_extra["session_id"] == session_id
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    assert "".join(pieces) == text
    with httpx.Client(base_url=emulator.url, headers={"X-API-Key": emulator.key}) as c:
        assert c.get(f"/sessions/{session_id}/messages").json()["total"] == 4


def test_openai_sdk_sees_contract_errors(emulator) -> None:
    openai = pytest.importorskip("openai")
    sdk = openai.OpenAI(api_key="jns_live_" + "0" * 32, base_url=emulator.url + "/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert caught.value.code == "invalid_api_key"


def test_cli_demo_passes_its_arguments_through(monkeypatch) -> None:
    import types

    from junis_jupyter import cli
    seen = []
    fake = types.ModuleType("junis_jupyter.demo")
    fake.main = lambda argv: seen.append(argv) or 7
    monkeypatch.setitem(sys.modules, "junis_jupyter.demo", fake)
    assert cli.main(["demo", "--out", "build/x", "--help"]) == 7
    assert seen == [["--out", "build/x", "--help"]]


def test_cli_without_a_command_is_a_usage_error(capsys) -> None:
    from junis_jupyter import cli
    with pytest.raises(SystemExit) as exited:
        cli.main([])
    assert exited.value.code == 2 and "COMMAND" in capsys.readouterr().err


def test_starting_the_process_runner_imports_no_server_code() -> None:
    """A notebook that runs the emulator as a subprocess does not load starlette or uvicorn."""
    code = ("import sys\nfrom junis_jupyter.emulator import start_emulator_process\n"
            "print(sorted(m for m in ('starlette', 'uvicorn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
