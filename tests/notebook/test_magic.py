"""%%junis in a real IPython InteractiveShell against the emulator over loopback."""
from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pandas as pd
import pytest
from traitlets.config import Config

from junis_jupyter.notebook import extension
from junis_jupyter.notebook import magics as magics_module
from junis_jupyter import config as settings

from support.shells import CellRun, MagicShell


class Cell(CellRun):
    """What one cell produced (displays, stdout, stderr, footer); `shown` insists on an answer."""

    @property
    def shown(self) -> str:
        """The answer's last displayed text (what the notebook finally shows)."""
        assert self.answer_events(), "no answer was displayed"
        return super().shown


@pytest.fixture
def run(shell: MagicShell, junis_env: Any):
    """Run a cell in the shared shell (tests/support/shells.py, reset for each test); returns a
    Cell, and insists the kernel saw no exception."""
    def run_cell(source: str) -> Cell:
        cell = shell.run(source, as_type=Cell)
        assert cell.error is None, cell.error
        return cell

    run_cell.publisher = shell.publisher
    run_cell.magic = shell.magic
    run_cell.shell = shell.shell
    return run_cell


def error_line(cell: Cell) -> str:
    lines = [line for line in cell.err.splitlines() if line.strip()]
    assert len(lines) == 1, cell.err
    assert "Traceback" not in cell.err and "Traceback" not in cell.out
    assert lines[0].startswith("Junis: ")
    return lines[0]


# -- loading --------------------------------------------------------------------------------

def test_config_defaults_reach_the_magic(run):
    run("%config JunisMagics.agent = 'Research'")
    cell = run("%%junis\nWhich agent answers this?")
    assert cell.footer["metadata"]["junis"]["agent"] == "Research"
    assert run.shell.user_ns["_junis"].agent == "Research"


def test_every_option_has_a_config_default(run):
    run.shell.user_ns["city"] = "Oslo"
    run("%config JunisMagics.new = True")
    run("%config JunisMagics.stream = False")
    run("%config JunisMagics.interpolate = False")
    run("%config JunisMagics.out = 'last'")
    run("%config JunisMagics.format = 'text'")
    run("%config JunisMagics.max_tokens = 3")
    first = run("%%junis\n[[echo]] {city} is far")
    second = run("%%junis\n[[echo]] {city} is far")
    ns = run.shell.user_ns
    assert ns["last"] is ns["_junis"]
    assert ns["_junis"].usage.completion_tokens <= 3 and ns["_junis"].finish_reason == "length"
    assert ns["_junis"].text.startswith("{city}")               # not interpolated
    assert len(first.answer_events()) == 1                       # not streamed
    assert list(first.answer_events()[0]["data"]) == ["text/plain"]
    sessions = {first.footer["metadata"]["junis"]["session_id"],
                second.footer["metadata"]["junis"]["session_id"]}
    assert len(sessions) == 2                                    # a new session each time
    run("%config JunisMagics.max_tokens = None")
    run("%config JunisMagics.system = 'Be brief.'")
    run("%config JunisMagics.temperature = 9.0")                # sent, and refused by the server
    assert "temperature" in error_line(run("%%junis\nHi"))


def test_config_session_is_continued_when_none_is_current(run):
    run("%%junis\nOpen a session")
    sid = run.shell.user_ns["_junis"].session_id
    run.magic.session_id = None                                   # as in a restarted kernel
    run(f"%config JunisMagics.session = '{sid}'")
    run("%%junis\nContinue it")
    assert run.shell.user_ns["_junis"].session_id == sid


# -- streaming ------------------------------------------------------------------------------

def test_answer_streams_into_settled_outputs_then_a_small_footer(run):
    cell = run("%%junis\n[[chunks=40]] [[delay=0.02]] Tell me about tides.")
    result = run.shell.user_ns["_junis"]
    answer = cell.answer_events()
    outputs = cell.answer_outputs()
    assert len(outputs) > 1                     # finished blocks settle into their own outputs
    for events in outputs:                      # each: one display, then only updates
        assert not events[0]["update"] and all(e["update"] for e in events[1:])
    order = [cell.events.index(e) for e in answer]
    for earlier, later in zip(outputs, outputs[1:]):   # a settled output is never sent again
        assert max(order[answer.index(e)] for e in earlier) < min(order[answer.index(e)] for e in later)
    assert cell.shown == result.text and result.text
    assert not result.interrupted and result.usage.total_tokens > 0
    footer = cell.footer
    assert result.session_id in footer["data"]["text/plain"]
    assert f"{result.usage.total_tokens} tokens" in footer["data"]["text/plain"]
    assert footer["data"]["text/html"].startswith("<sub>")
    assert cell.err == ""
    assert all("text/markdown" not in e["data"] for e in cell.events)
    assert "<h2>" in "".join(events[-1]["data"]["text/html"] for events in outputs)


def test_hostile_answer_cannot_put_markup_in_the_page(run):
    cell = run("%%junis\n[[echo]] <script>alert(1)</script><img src=x onerror=alert(2)>")
    html = cell.answer_events()[-1]["data"]["text/html"]
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html


ESCAPES = "Fine \x1b]0;pwned\x07answer \x1b[2J\x1b[31mred\x1b[0m \x1b]52;c;cm0gLXJmIH4=\x07copied"


@pytest.mark.parametrize("fmt", ["markdown", "text"])
def test_escape_sequences_in_an_answer_never_reach_text_plain(run, fmt):
    cell = run(f"%%junis --format {fmt}\n[[echo]] [[chunks=20]] {ESCAPES}")
    assert run.shell.user_ns["_junis"].text == ESCAPES             # kept as the service sent it
    plain = [e["data"]["text/plain"] for e in cell.events]
    assert cell.shown == "Fine answer red copied"
    assert not any("\x1b" in p or "\x07" in p for p in plain), plain


def test_display_updates_are_bounded_for_a_long_answer(run):
    started = time.monotonic()
    cell = run("%%junis\n[[chunks=1500]] [[delay=0.002]] A long story please.")
    duration = time.monotonic() - started
    updates = len(cell.answer_events())
    assert run.shell.user_ns["_junis"].text == cell.shown
    # 15 per second at most, plus the first display and the final update
    assert updates <= duration * 16 + 2, (updates, duration)
    assert updates < 1500


def test_no_stream_shows_the_answer_once(run):
    cell = run("%%junis --no-stream\nHello there")
    assert len(cell.answer_events()) == 1
    assert cell.shown == run.shell.user_ns["_junis"].text


def test_format_text_is_not_rendered_as_markdown(run):
    cell = run("%%junis --format text\nHello there")
    assert all(list(e["data"]) == ["text/plain"] for e in cell.answer_events())
    assert cell.shown == run.shell.user_ns["_junis"].text


# -- conversation ---------------------------------------------------------------------------

def test_cells_continue_one_session_until_new(run, emulator):
    run("%%junis\nFirst question")
    first = run.shell.user_ns["_junis"].session_id
    run("%%junis\nSecond question")
    assert run.shell.user_ns["_junis"].session_id == first
    run("%%junis --new\nA fresh start")
    fresh = run.shell.user_ns["_junis"].session_id
    assert fresh != first
    run("%%junis\nContinues the fresh one")
    assert run.shell.user_ns["_junis"].session_id == fresh
    cell = run(f"%%junis --session {first}\nBack to the first")
    assert run.shell.user_ns["_junis"].session_id == first
    history = run.shell.run_line_magic("junis", "history")
    assert len(history) == 6 and set(history["session_id"]) == {first}
    assert "Back to the first" in history["content"].iloc[4]
    assert not history["content"].str.contains("A fresh start").any()
    other = run.shell.run_line_magic("junis", f"history {fresh}")
    assert len(other) == 4 and other["content"].str.contains("A fresh start").any()
    assert cell.err == ""


def test_unknown_session_is_one_line(run):
    line = error_line(run("%%junis --session 00000000-0000-0000-0000-000000000000\nHi"))
    assert "session_not_found" in line and "--new" in line


# -- options --------------------------------------------------------------------------------

def test_out_stores_the_result_and_underscore_junis_the_last(run):
    run("%%junis --out first\nOne")
    run("%%junis\nTwo")
    ns = run.shell.user_ns
    assert ns["first"].text and ns["first"] is not ns["_junis"]
    assert ns["first"].session_id == ns["_junis"].session_id


def test_system_temperature_and_max_tokens_are_sent(run):
    run("%%junis --new\nSame prompt")
    plain = run.shell.user_ns["_junis"].usage
    run("%%junis --new --system 'Answer like a pirate, briefly and clearly.' --temperature 0.2 "
        "--max-tokens 5\nSame prompt")
    tuned = run.shell.user_ns["_junis"]
    assert tuned.usage.prompt_tokens > plain.prompt_tokens      # the system message was counted
    assert tuned.usage.completion_tokens <= 5 < plain.completion_tokens
    assert tuned.finish_reason == "length"
    line = error_line(run("%%junis --temperature 7\nHi"))
    assert "temperature" in line


def test_format_code_offers_the_first_code_block(run, monkeypatch):
    offered = []
    monkeypatch.setattr(run.shell, "set_next_input",
                        lambda text, replace=False: offered.append((text, replace)))
    cell = run("%%junis --format code\nWrite some code")
    assert len(offered) == 1
    code, replace = offered[0]
    assert not replace and code.startswith("prompt = ") and "```" not in code
    assert code in run.shell.user_ns["_junis"].text
    assert cell.err == ""
    assert "no code block" in error_line(run("%%junis --format code\n[[echo]] just words"))
    assert len(offered) == 1


@pytest.mark.parametrize("answer, code", [
    ("Here:\n\n~~~python\nx = 1\n~~~", "x = 1"),                          # a tilde fence
    ("As a Markdown cell:\n\n````markdown\n```python\nx = 1\n```\n````",    # ``` inside ````
     "```python\nx = 1\n```"),
    ("Use ```python fences. Here:\n\n```python\nx = 1\n```", "x = 1"),      # ``` in the prose
])
def test_format_code_offers_the_block_the_answer_shows(run, monkeypatch, answer, code):
    offered = []
    monkeypatch.setattr(run.shell, "set_next_input",
                        lambda text, replace=False: offered.append(text))
    cell = run(f"%%junis --format code\n[[echo]] {answer}")
    assert run.shell.user_ns["_junis"].text == answer
    assert offered == [code] and cell.err == ""


def test_format_json_parses_the_answer(run):
    cell = run('%%junis --format json --out data\n[[echo]] {"a": [1, 2], "b": "x"}')
    assert run.shell.user_ns["data"] == {"a": [1, 2], "b": "x"}
    assert cell.events[-1]["data"]["text/plain"] == "{'a': [1, 2], 'b': 'x'}"
    line = error_line(run("%%junis --format json\nnot json at all"))
    assert "not JSON" in line


@pytest.mark.parametrize("wrap", [lambda t: t, lambda t: f"Here:\n\n```json\n{t}\n```"])
def test_format_json_of_a_too_deep_answer_is_the_not_json_note(run, wrap):
    from junis_jupyter.notebook.fences import MAX_JSON_DEPTH
    for depth in (30_000, MAX_JSON_DEPTH + 1):     # past any recursion limit; past what shows
        deep = "[" * depth + "]" * depth
        line = error_line(run(f"%%junis --format json --out too_deep\n[[echo]] {wrap(deep)}"))
        assert "not JSON" in line and "levels deep" in line
        assert run.shell.user_ns["_junis"].text == wrap(deep) and "too_deep" not in run.shell.user_ns
    deepest = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    cell = run(f"%%junis --format json --out deepest\n[[echo]] {wrap(deepest)}")
    assert cell.err == "" and cell.events[-1]["data"]["text/plain"] == deepest   # shown, no traceback
    assert run.shell.user_ns["deepest"] == json.loads(deepest)


@pytest.mark.parametrize("option, fragment", [
    ("--bogus", "unrecognized arguments: --bogus"),
    ("--format xml", "invalid choice: 'xml'"),
    ("--max-tokens lots", "invalid int value"),
    ("--out 2x", "not a variable name"),
    ("--new --session abc", "cannot go together"),
    ("--system 'unclosed", "bad option"),
])
def test_bad_options_are_one_line(run, emulator, option, fragment):
    before = emulator.stats()["requests"]
    line = error_line(run(f"%%junis {option}\nHi"))
    assert fragment in line
    assert emulator.stats()["requests"] == before


def test_empty_cell_is_one_line(run):
    assert "nothing to ask" in error_line(run("%%junis\n   \n"))


# -- interpolation --------------------------------------------------------------------------

def test_interpolation_in_the_prompt_sent(run):
    run.shell.user_ns["city"] = "Lisbon"
    run.shell.user_ns["big"] = pd.DataFrame({"n": range(500)})
    run("%%junis\n[[echo]] {city} {missing} {\"k\": 1} {x for x in y} {big}")
    sent = run.shell.user_ns["_junis"].text
    assert sent.startswith('Lisbon {missing} {"k": 1} {x for x in y} | n |')
    assert "(480 more rows omitted; 500 rows x 1 columns in all)" in sent
    run("%%junis --no-interpolate\n[[echo]] {city}")
    assert run.shell.user_ns["_junis"].text.strip() == "{city}"


def test_in_and_out_history_interpolate(run):
    run("6 * 7")
    number = run.shell.execution_count - 1
    run(f"%%junis\n[[echo]] {{In[{number}]}} is {{Out[{number}]}}")
    assert run.shell.user_ns["_junis"].text.strip() == "6 * 7 is 42"


def test_prompt_over_the_limit_is_refused_before_sending(run, emulator):
    run.shell.user_ns["huge"] = "z" * 5000
    run("%config JunisMagics.max_prompt_chars = 1000")
    before = emulator.stats()["requests"]
    line = error_line(run("%%junis\nRead {huge}"))
    assert "over the limit of 1000" in line
    assert emulator.stats()["requests"] == before


# -- failures -------------------------------------------------------------------------------

def test_no_key(run, monkeypatch):
    monkeypatch.delenv("JUNIS_API_KEY")
    line = error_line(run("%%junis\nHi"))
    assert "%junis login" in line


def test_bad_key(run, monkeypatch):
    monkeypatch.setenv("JUNIS_API_KEY", "jns_live_" + "x" * 32)
    line = error_line(run("%%junis\nHi"))
    assert "401" in line and "x" * 32 not in line


def test_missing_scope_is_named(run, emulator, monkeypatch):
    monkeypatch.setenv("JUNIS_API_KEY", emulator.new_key(scopes=["orchestrator:invoke"]))
    line = error_line(run("%%junis\nHi"))
    assert "`orchestrator:stream`" in line and "403" in line
    cell = run("%%junis --no-stream\nHi")          # invoke alone is enough without streaming
    assert cell.err == "" and run.shell.user_ns["_junis"].text


def test_no_credits(run, emulator, monkeypatch):
    monkeypatch.setenv("JUNIS_API_KEY", emulator.new_key(credits=0))
    assert "402" in error_line(run("%%junis\nHi"))


def test_no_subscription(run, emulator, monkeypatch):
    monkeypatch.setenv("JUNIS_API_KEY", emulator.new_key(plan="none"))
    line = error_line(run("%%junis\nHi"))
    assert "subscription_required" in line and "Basic or Pro" in line


def test_rate_limited_says_how_long_to_wait(run, emulator):
    emulator.faults({"kind": "status", "status": 429, "code": "rate_limit_exceeded",
                     "message": "Slow down.", "retry_after": 1, "count": 3})
    line = error_line(run("%%junis\nHi"))
    assert "429" in line and "wait 1 s" in line


def test_server_error_after_retries(run, emulator):
    emulator.faults({"kind": "status", "status": 500, "code": "server_error",
                     "message": "boom", "count": 3})
    line = error_line(run("%%junis --no-stream\nHi"))
    assert "500" in line and "try again" in line


def _unavailable_once(emulator) -> None:
    emulator.faults({"kind": "status", "status": 503, "code": "service_unavailable",
                     "message": "Busy.", "count": 1})


def test_one_503_is_retried_and_answered_by_default(run, emulator):
    before = emulator.stats()["requests"]
    _unavailable_once(emulator)
    cell = run("%%junis --no-stream\nHi")
    assert cell.err == "" and run.shell.user_ns["_junis"].text
    assert emulator.stats()["requests"] - before == 2               # the 503, then the answer


def test_config_max_retries_applies_to_the_client_already_made(run, emulator):
    assert run("%%junis --no-stream\nHi").err == ""                # the client exists now
    run("%config JunisMagics.max_retries = 0")
    before = emulator.stats()["requests"]
    _unavailable_once(emulator)
    line = error_line(run("%%junis --no-stream\nHi"))
    assert "503" in line
    assert emulator.stats()["requests"] - before == 1               # no retry
    assert run("%%junis --no-stream\nHi").err == ""                # the fault was used up


def test_config_timeout_applies_to_the_next_call(run, emulator):
    run("%config JunisMagics.max_retries = 0")
    run("%config JunisMagics.timeout = 0.5")
    emulator.faults({"kind": "delay", "seconds": 5})
    line = error_line(run("%%junis --no-stream\nHi"))
    assert "in time" in line and "raise the timeout" in line


def test_an_unmapped_status_says_status_and_code_without_an_empty_slot():
    from junis_jupyter import errors
    from junis_jupyter.advice import advise
    line = advise(errors.APIError("Method not allowed", status=405))
    assert "405" in line and "405 )" not in line
    line = advise(errors.APIError("Conflict", status=409, code="conflict"))
    assert "409" in line and "conflict" in line


def test_timeout_and_retries_configured_before_loading_are_taken():
    # ipython_config.py, or %config before %load_ext: the values arrive while the magic is made
    config = Config()
    config.JunisMagics.timeout = 5.0
    config.JunisMagics.max_retries = 1
    magic = magics_module.JunisMagics(config=config)
    assert (magic.timeout, magic.max_retries) == (5.0, 1)


def test_timeout_and_retries_refuse_nonsense(run):
    from traitlets import TraitError
    for name, value in (("timeout", 0.0), ("timeout", -1.0), ("timeout", float("nan")),
                        ("timeout", float("inf")), ("timeout", 1e300), ("update_hz", 0.0),
                        ("update_hz", float("inf")), ("update_hz", float("nan")),
                        ("max_retries", -1)):
        with pytest.raises(TraitError, match=f"JunisMagics.{name}|{name}"):
            setattr(run.magic, name, value)
    assert run.magic.timeout == 60.0 and run.magic.max_retries == 2
    assert run.magic.update_hz == 15.0
    run.magic.timeout = 604_800.0                       # a week is the longest, and works
    assert run("%%junis --new\nHi").err == ""


def test_unknown_agent_lists_the_names(run):
    line = error_line(run("%%junis --agent Nobody\nHi"))
    assert "Nobody" in line and "Research" in line and "Writer" in line


def test_connection_refused(run, monkeypatch):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("JUNIS_BASE_URL", f"http://127.0.0.1:{port}")
    line = error_line(run("%%junis\nHi"))
    assert f"127.0.0.1:{port}" in line and "could not connect" in line


def test_stream_cut_keeps_the_partial_text_and_says_so(run, emulator):
    emulator.faults({"kind": "cut", "after": 5})
    cell = run("%%junis\n[[chunks=50]] A story")
    line = error_line(cell)
    assert "broke off" in line
    shown = cell.shown
    assert "cut off" in shown and len(shown) > len("*[cut off]*")


def test_interrupt_keeps_what_arrived_and_closes_the_stream(run, emulator):
    pub = run.publisher
    seen = []

    def interrupt_after_three(event):
        if event["display_id"]:
            seen.append(event)
            if len(seen) == 3:
                raise KeyboardInterrupt

    pub.hook = interrupt_after_three
    cell = run("%%junis\n[[chunks=400]] [[delay=0.01]] A long story")
    pub.hook = None
    result = run.shell.user_ns["_junis"]
    assert result.interrupted
    assert 0 < len(result.text) < 400 * 10
    assert cell.shown.startswith(result.text) and "interrupted" in cell.shown
    assert "interrupted" in cell.footer["data"]["text/plain"]
    assert "Traceback" not in cell.err
    for _ in range(100):                     # the server sees the connection close
        if emulator.stats()["in_flight"] == 0:
            break
        time.sleep(0.05)
    assert emulator.stats()["in_flight"] == 0


def _sigint_after(seconds: float) -> threading.Timer:
    """What the notebook's stop button does: SIGINT to the kernel's main thread."""
    timer = threading.Timer(seconds, os.kill, args=(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_sigint_mid_stream_keeps_the_text(run, emulator):
    timer = _sigint_after(0.5)
    cell = run("%%junis\n[[chunks=600]] [[delay=0.01]] A long story")
    timer.join()
    result = run.shell.user_ns["_junis"]
    assert result.interrupted and 0 < len(result.text)
    assert cell.shown.startswith(result.text) and "interrupted" in cell.shown
    assert error_line(cell) == "Junis: interrupted: the text that arrived is shown above and kept in _junis."


def test_sigint_before_the_first_byte_is_one_line(run, emulator):
    emulator.faults({"kind": "delay", "seconds": 3})
    timer = _sigint_after(0.5)
    cell = run("%%junis\nHello")
    timer.join()
    assert "interrupted before an answer arrived" in error_line(cell)
    assert "_junis" not in run.shell.user_ns


# -- line commands --------------------------------------------------------------------------

def test_agents_returns_the_agents_frame(run):
    agents = run.shell.run_line_magic("junis", "agents")
    assert {"Orchestrator", "Research", "Writer", "Analyst", "Pipeline", "Retired"} <= set(agents["name"])
    assert agents.set_index("name").loc["Pipeline", "agent_type"] == "SEQUENTIAL_AGENT"


def test_sessions_returns_the_newest_first(run):
    run("%%junis --new\nHi")
    sid = run.shell.user_ns["_junis"].session_id
    sessions = run.shell.run_line_magic("junis", "sessions")
    assert sessions["session_id"].iloc[0] == sid


def test_status_shows_session_and_rate_limit(run):
    assert "none yet" in run("%junis status").events[-1]["data"]["text/plain"]
    run("%%junis\nHi")
    text = run("%junis status").events[-1]["data"]["text/plain"]
    assert run.shell.user_ns["_junis"].session_id in text
    assert "idle" in text and "requests left" in text


def test_history_without_a_session(run):
    assert "no current session" in error_line(run("%junis history"))


def test_config_masks_the_key_and_says_where_things_come_from(run, emulator):
    run("%config JunisMagics.max_table_rows = 7")
    text = run("%junis config").events[-1]["data"]["text/plain"]
    assert emulator.key not in text and settings.mask_key(emulator.key) in text
    assert "JUNIS_API_KEY" in text and emulator.url in text
    row = [line for line in text.splitlines() if line.startswith("max_table_rows")][0]
    assert row.split() == ["max_table_rows", "7", "%config"]
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.strip()}
    assert rows["timeout"] == ["60.0", "default"] and rows["max_retries"] == ["2", "default"]
    run("%config JunisMagics.timeout = 5")
    text = run("%junis config").events[-1]["data"]["text/plain"]
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.strip()}
    assert rows["timeout"] == ["5.0", "%config"]


def test_login_replaces_the_key_for_the_kernel(run, emulator, monkeypatch):
    monkeypatch.delenv("JUNIS_API_KEY")
    other = emulator.new_key()
    monkeypatch.setattr("getpass.getpass", lambda prompt="": other)
    cell = run("%junis login")
    assert other not in cell.out and settings.mask_key(other) in cell.out
    assert run("%%junis\nHi").err == ""
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "jns_live_" + "q" * 32)
    run("%junis login")
    assert "401" in error_line(run("%%junis\nHi"))


def test_login_refuses_a_key_in_the_cell_and_a_frontend_without_input(run, monkeypatch):
    from IPython.core.error import StdinNotImplementedError
    typed = "jns_live_" + "k" * 32
    cell = run(f"%junis login {typed}")
    assert "do not put the key in the cell" in error_line(cell) and typed not in cell.err

    def no_stdin(prompt=""):
        raise StdinNotImplementedError("raw_input was called, but this frontend does not support input requests.")
    monkeypatch.setattr("getpass.getpass", no_stdin)
    assert "JUNIS_API_KEY" in error_line(run("%junis login"))


def test_help_and_unknown_command(run):
    assert "--no-interpolate" in run("%junis help").out
    assert "unknown command 'frobnicate'" in error_line(run("%junis frobnicate"))
    assert "%%junis" in error_line(run("%junis --agent Research"))


def test_key_never_in_any_output(run, emulator):
    outputs = []
    for source in ("%%junis\nHi", "%junis config", "%junis status", "%junis agents"):
        cell = run(source)
        outputs += [cell.out, cell.err, json.dumps([e["data"] for e in cell.events])]
    assert all(emulator.key not in o for o in outputs)


def test_terminal_ipython_prints_the_answer_as_plain_text(junis_env):
    code = ("ip = get_ipython(); ip.run_line_magic('load_ext', 'junis_jupyter'); "
            "ip.run_cell_magic('junis', '', '[[chunks=30]] Hello terminal'); "
            "print('TEXT=' + repr(ip.user_ns['_junis'].text))")
    done = subprocess.run([sys.executable, "-m", "IPython", "--no-banner", "--colors=nocolor",
                           "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stderr == ""
    out = done.stdout
    text = ast.literal_eval(out.rsplit("TEXT=", 1)[1].strip())   # the repr printed above
    assert out.startswith(text)                     # the answer, verbatim, as plain text
    footer = out[len(text):].strip().splitlines()[0]
    assert footer.startswith("[agent Orchestrator · session ") and "tokens" in footer


def test_terminal_ipython_prints_no_escape_sequence_of_an_answer(junis_env):
    code = ("ip = get_ipython(); ip.run_line_magic('load_ext', 'junis_jupyter'); "
            f"ip.run_cell_magic('junis', '', '[[echo]] [[chunks=30]] ' + {ESCAPES!r}); "
            "print('TEXT=' + repr(ip.user_ns['_junis'].text))")
    done = subprocess.run([sys.executable, "-m", "IPython", "--no-banner", "--colors=nocolor",
                           "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stderr == ""
    printed, _, text = done.stdout.rpartition("TEXT=")
    assert ast.literal_eval(text.strip()) == ESCAPES
    assert printed.startswith("Fine answer red copied\n") and "\x1b" not in printed
    assert "\x07" not in printed


def test_usage_reports_the_calls_of_this_kernel(run):
    run("%%junis\nHi")
    tokens = run.shell.user_ns["_junis"].usage.total_tokens
    calls = run.shell.run_line_magic("junis", "usage --calls")
    assert calls["total_tokens"].iloc[-1] == tokens
    summary = run.shell.run_line_magic("junis", "usage")    # by agent and day, chat calls only
    assert summary[["agent", "calls", "failed", "total_tokens", "credits"]].values.tolist() == [
        ["Orchestrator", 1, 0, tokens, 1]]


def test_chat_shows_the_panel(run):
    cell = run("%junis chat")
    assert cell.err == ""
    assert any("application/vnd.jupyter.widget-view+json" in e["data"] for e in cell.events)


def test_reload_registers_once_and_keeps_one_ledger_observer(run):
    from junis_jupyter import client
    from junis_jupyter.data import ledger
    run("%reload_ext junis_jupyter")
    assert client.DEFAULT_OBSERVERS.count(ledger.record) == 1
    fresh = extension.current()
    assert fresh is not run.magic and run.shell.configurables.count(fresh) == 1
    assert run.magic not in run.shell.configurables
    assert run("%%junis\nHi").err == "" and fresh.session_id == run.shell.user_ns["_junis"].session_id


def test_unload_removes_the_magic_and_the_ledger_observer(run):
    from junis_jupyter import client
    from junis_jupyter.data import ledger
    run.shell.run_line_magic("unload_ext", "junis_jupyter")
    try:
        assert ledger.record not in client.DEFAULT_OBSERVERS
        assert "junis" not in run.shell.magics_manager.magics["cell"]
        assert "junis" not in run.shell.magics_manager.magics["line"]
    finally:
        run.shell.run_line_magic("load_ext", "junis_jupyter")
    assert client.DEFAULT_OBSERVERS.count(ledger.record) == 1


def test_load_unload_load_leaves_one_of_each_hook_and_one_ledger_row_a_cell(run):
    """Every hook the extension installs (notebook/extension.py) is removed by an unload, so a
    load after it leaves one of each: a cell then writes one ledger row, not two."""
    from junis_jupyter import client
    from junis_jupyter.client import limiter
    from junis_jupyter.data import background, ledger
    from junis_jupyter.notebook.extension import await_wait
    shell = run.shell
    shell.run_line_magic("unload_ext", "junis_jupyter")
    assert extension.current() is None and limiter.current() is None
    assert ledger.record not in client.DEFAULT_OBSERVERS and not background.ADOPTERS
    assert await_wait not in shell.input_transformers_post
    shell.run_line_magic("load_ext", "junis_jupyter")
    state = extension.current().state
    assert shell.events.callbacks["pre_run_cell"].count(state.pre_run_cell) == 1
    assert shell.events.callbacks["post_run_cell"].count(state.post_run_cell) == 1
    assert client.DEFAULT_OBSERVERS.count(ledger.record) == 1
    assert len(background.ADOPTERS) == 1 and shell.input_transformers_post.count(await_wait) == 1
    assert limiter.current() is not None
    assert [c for c in shell.configurables if type(c).__name__ == "JunisMagics"] == \
        [extension.current()]
    before = len(ledger.default_ledger().rows())
    run("%%junis --new\nHi")
    assert len(ledger.default_ledger().rows()) == before + 1


def test_a_long_context_is_named_in_the_footer_with_the_way_out(run):
    """Later cells carry the whole conversation (issue 22: `%junis explain` cost 1,972 prompt
    tokens unsaid): past `warn_prompt_tokens` the footer says so and suggests --new."""
    run("%config JunisMagics.warn_prompt_tokens = 50")
    first = run("%%junis --new\nShort question")
    assert "warn_prompt_tokens" not in str(first.footer["data"])
    run("x = 'row ' * 200")
    later = run("%%junis\n{x}")
    text = later.footer["data"]["text/plain"]
    tokens = run.shell.user_ns["_junis"].usage.prompt_tokens
    assert tokens > 50 and f"this prompt carried {tokens:,} tokens" in text and "--new" in text
    run("%config JunisMagics.warn_prompt_tokens = 0")
    assert "carried" not in run("%%junis\n{x}").footer["data"]["text/plain"]


def test_the_orchestrator_is_named_in_the_footer_and_the_frames(run):
    cell = run("%%junis --new\nHello")
    assert "agent Orchestrator" in cell.footer["data"]["text/plain"]
    conversation = run.shell.run_line_magic("junis", "conversation")
    assert conversation["agent"].tolist()[-1] == "Orchestrator"
    from junis_jupyter.data import ledger
    assert ledger.default_ledger().rows()[-1]["agent"] == "Orchestrator"


def test_an_agent_that_cannot_be_asked_gets_advice_naming_those_that_can(run):
    line = error_line(run("%%junis --agent Pipeline\nHi"))
    assert "agent_not_invocable" in line and "Pipeline" in line
    for name in ("Research", "Writer", "Analyst"):
        assert name in line
    assert "Retired" not in line.split(":", 2)[-1]          # inactive: not offered
    unknown = error_line(run("%%junis --agent Nobody\nHi"))
    assert "Research" in unknown and "Pipeline" not in unknown and "Fanout" not in unknown
    assert "Retired" not in unknown


def test_an_inactive_agent_answers_with_a_warning(run):
    cell = run("%%junis --new --agent Retired\nHi")
    assert "the agent Retired is inactive" in cell.err
    assert run.shell.user_ns["_junis"].text


def test_highlighting_can_be_switched_off(run):
    """Colouring code costs Pygments' lexing (about a microsecond a character of code): a
    code-heavy notebook may trade it away; the answer is the same, uncoloured."""
    coloured = run("%%junis --new\n[[chunks=4]] Show me some code")
    run("%config JunisMagics.highlight = False")
    plain = run("%%junis --new\n[[chunks=4]] Show me some code")
    last = lambda cell: cell.answer_events()[-1]["data"]["text/html"]     # noqa: E731
    assert "color:#008000" in last(coloured) and "color:" not in last(plain)
    assert "<pre" in last(plain) and "<code" in last(plain)
