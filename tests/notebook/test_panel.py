"""ChatPanel driven without a frontend: widgets clicked and typed into from the test, against the
emulator over loopback. Each test runs its own event loop (as the kernel's would be) so the panel's
tasks run exactly as they do in a notebook. Assertions read the model (`panel.conversation`, its
turns and phase) and the traitlets; a few check the HTML the page gets (the browser tests check the
page itself). The model's transitions one by one: tests/unit/test_conversation.py."""
from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pandas as pd
import pytest

from support.hostile import HOSTILE, assert_safe_html
from support.widgets import WidgetWire, one_message
from junis_jupyter import errors, frames
from junis_jupyter.advice import Surface, advise
from junis_jupyter.client.aio import AsyncJunisClient
from junis_jupyter.client.sync import JunisClient
from junis_jupyter.client.types import Usage
from junis_jupyter.notebook.markdown import escape_html, render_markdown
from junis_jupyter.notebook.panel import ChatPanel, Phase, TurnState
from junis_jupyter.notebook.panel.html import RECALL_MARK, SUBMIT_MARK, answer_html

pytestmark = pytest.mark.timeout(60)


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(scenario())


async def until(predicate: Callable[[], bool], what: str, limit: float = 10.0) -> None:
    """Yield to the loop until `predicate` holds (a bound against hangs, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.01)


async def make_panel(emulator: Any, **kwargs: Any) -> tuple[ChatPanel, AsyncJunisClient]:
    client = AsyncJunisClient(api_key=kwargs.pop("key", emulator.key), base_url=emulator.url,
                              **kwargs.pop("client_options", {}))
    panel = ChatPanel(client=client, **kwargs)
    await panel.wait()
    return panel, client


def run_with_panel(emulator: Any,
                   scenario: Callable[[ChatPanel, AsyncJunisClient], Awaitable[None]],
                   **kwargs: Any) -> None:
    """`scenario(panel, client)` on its own loop against a panel made by `make_panel`; the client
    is closed afterwards, also when the scenario fails."""
    async def main() -> None:
        panel, client = await make_panel(emulator, **kwargs)
        try:
            await scenario(panel, client)
        finally:
            await client.aclose()
    run(main)


def visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def advice_shown(panel: ChatPanel, client: AsyncJunisClient, exc: BaseException) -> bool:
    """The notice is advise()'s line for `exc` (escaped, as every notice is); `client` is the
    one the panel was given."""
    line = advise(exc, Surface.PANEL, base_url=client.base_url)
    return escape_html(line) in panel.notice.value


def option_labels(dropdown: Any) -> list[str]:
    return [label for label, _ in dropdown.options]


def test_pickers_offer_orchestrator_and_invocable_agents(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        labels = option_labels(panel.agent_picker)
        assert labels[0] == "Orchestrator" and panel.agent is None
        assert {"Research", "Writer", "Analyst"} <= set(labels)
        assert not {"Pipeline", "Fanout", "Retired"} & set(labels)    # not invocable / inactive
        assert option_labels(panel.session_picker)[0] == "New chat"
        assert panel.session_picker.value == ""
    run_with_panel(emulator, scenario)


def test_send_button_streams_the_answer_into_the_conversation(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        panel.input.value = "How do tides work? [[chunks=8]]"
        panel.send_button.click()
        assert panel.busy and panel.stop_button.disabled is False
        assert panel.input.value == ""                        # box emptied for the next question
        await panel.wait()
        assert not panel.busy and panel.stop_button.disabled and not panel.send_button.disabled
        user, answer = panel.turns
        assert user.role == "user" and user.text().startswith("How do tides work?")
        assert answer.role == "assistant" and answer.state is TurnState.DONE and answer.text()
        assert panel.phase is Phase.IDLE and panel.conversation.live is None
        # What the panel shows is what the server stored for this session.
        stored = await client.messages(panel.session_id)
        assert [m.role for m in stored] == ["user", "assistant"]
        assert stored[1].content == answer.text()
        assert panel.session_picker.value == panel.session_id
        assert answer.usage is not None and answer.usage.total_tokens > 0
        assert panel.tokens == answer.usage
        assert panel.rate_limit is not None and panel.rate_limit.remaining is not None
        # The HTML the page gets: one div per turn, the answer rendered from markdown.
        html = panel.transcript_html()
        assert panel.live.value == "" and panel.live not in panel.transcript.children
        assert html.startswith('<div class="junis-turn junis-user" data-state="done">')
        assert ('<div class="junis-turn junis-assistant" data-state="done">'
                f'<div class="junis-who">Orchestrator</div>'
                f'<div class="junis-body">{answer_html(answer.text())}</div></div>') in html
        assert (f"Tokens used in this panel: {answer.usage.describe()} · "
                f"Rate limit: {panel.rate_limit.describe()}") in panel.footer.value
    run_with_panel(emulator, scenario)


def test_enter_submits_and_shift_enter_only_adds_a_line(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        panel.input.value = "first line\nsecond line"              # Shift+Enter: just a newline
        await asyncio.sleep(0)
        assert not panel.busy and panel.turns == []
        panel.input.value += SUBMIT_MARK                           # what the key hook does on Enter
        assert panel.busy and panel.input.value == ""
        await panel.wait()
        assert panel.turns[0].text() == "first line\nsecond line"
        assert SUBMIT_MARK not in panel.transcript_html()
        panel.input.value = "   " + SUBMIT_MARK                     # Enter on blank input: nothing
        assert not panel.busy and len(panel.turns) == 2 and panel.input.value == "   "
    run_with_panel(emulator, scenario)


def test_answer_appears_while_it_streams(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        shown: list[tuple[Phase, str]] = []       # the answer's text each time it was drawn

        def drawn(change: dict[str, Any]) -> None:
            live = panel.conversation.live
            if live is not None:
                shown.append((panel.phase, live.answer.text()))
        panel.live.observe(drawn, names="value")
        panel.send("Count slowly [[chunks=6]] [[delay=0.05]]")
        await panel.wait()
        final = panel.turns[-1].text()
        # Some redraw showed part of the answer before the end (not the empty turn, not all of it).
        assert any(phase is Phase.STREAMING and 0 < len(text) < len(final) and final.startswith(text)
                   for phase, text in shown), shown
    run_with_panel(emulator, scenario)


def test_updates_are_rate_bounded_not_one_per_chunk(emulator: Any) -> None:
    async def scenario() -> None:
        panel, client = await make_panel(emulator, update_hz=1e-6)   # at most one update per "ever"
        updates: list[str] = []
        panel.live.observe(lambda ch: updates.append(ch["new"]), names="value")
        panel.send("Many pieces [[chunks=60]]")
        await panel.wait()
        assert panel.turns[-1].state is TurnState.DONE
        # question shown, first chunk, moved to the history at the end: a handful, not sixty.
        assert len(updates) <= 4, len(updates)
        assert panel.live.value == "" and panel.transcript_html().count("junis-turn ") == 2
        await client.aclose()
    run(scenario)


@pytest.mark.parametrize("update_hz", [0, -5, float("nan"), float("inf")])
def test_a_bad_update_rate_is_a_clear_error_before_any_widget(update_hz: float) -> None:
    from ipywidgets.widgets.widget import _instances          # every open widget (no public view)
    before = len(_instances)
    with pytest.raises(ValueError, match=r"update_hz must be > 0"):
        ChatPanel(client=object(), update_hz=update_hz)
    assert len(_instances) == before                          # nothing half-built left open


def requests_seen(emulator: Any) -> int:
    return emulator.stats()["requests"]


def test_an_enormous_question_is_refused_before_any_request_and_kept(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        before = requests_seen(emulator)
        too_long = "x" * 51
        panel.input.value = too_long
        panel.send_button.click()
        assert panel.send() is None                              # Enter path too
        assert await panel.send_async(too_long) is None          # and from code
        await panel.wait()
        assert requests_seen(emulator) == before and panel.turns == []
        assert panel.input.value == too_long and not panel.busy  # kept, ready to shorten
        assert panel.notice.value == ('<div class="junis-notice junis-error">the prompt is 51 '
                                      'characters, over the limit of 50 (ChatPanel('
                                      'max_prompt_chars=...)): shorten it.</div>')
        panel.input.value = "y" * 50                              # at the limit: sent
        panel.send_button.click()
        await panel.wait()
        assert panel.turns[-1].state is TurnState.DONE and panel.notice.value == ""
    run_with_panel(emulator, scenario, max_prompt_chars=50)


def test_the_default_prompt_cap_is_the_magics() -> None:
    """`%junis chat` makes its panel with `client=` only, so the two defaults must agree."""
    import inspect

    from junis_jupyter.notebook.magics import JunisMagics
    default = inspect.signature(ChatPanel).parameters["max_prompt_chars"].default
    assert default == JunisMagics.class_traits()["max_prompt_chars"].default_value == 100_000
    with pytest.raises(ValueError, match="max_prompt_chars"):
        ChatPanel(client=object(), max_prompt_chars=0)


def test_blank_questions_are_never_sent(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        before = requests_seen(emulator)
        for blank in ("", "   ", "\n\t\n", SUBMIT_MARK):
            panel.input.value = blank
            panel.send_button.click()
            assert panel.send(blank) is None
            assert await panel.send_async(blank) is None
        await panel.wait()
        assert requests_seen(emulator) == before and panel.turns == [] and not panel.busy
        assert "Nothing to ask" in panel.notice.value
    run_with_panel(emulator, scenario)


def test_stop_cancels_at_once_keeps_the_partial_answer_and_the_panel_usable(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        panel.send("A long story [[chunks=400]] [[delay=0.05]]")
        await until(lambda: panel.phase is Phase.STREAMING, "first chunk")
        answer = panel.turns[-1]
        in_flight_before = emulator.stats()["in_flight"]
        assert in_flight_before >= 1
        panel.stop_button.click()
        assert panel.phase is Phase.STOPPING and panel.busy
        await panel.wait()
        assert answer.state is TurnState.STOPPED and panel.phase is Phase.IDLE
        partial = answer.text()
        assert 0 < len(partial)
        assert panel.tokens == Usage()                     # a stopped answer's usage never came
        assert panel.transcript_html().endswith(
            '<div class="junis-mark">■ stopped</div></div>')     # the mark, as the page shows it
        assert not panel.busy and panel.stop_button.disabled and not panel.send_button.disabled
        # The connection was closed: the emulator sees the request end long before 400 chunks.
        await until(lambda: emulator.stats()["in_flight"] < in_flight_before, "server saw the close")
        await asyncio.sleep(0.2)
        assert answer.text() == partial                    # nothing more arrives after Stop
        # The panel goes on: the next question continues the same session.
        session = panel.session_id
        panel.input.value = "And now a short one [[chunks=2]]"
        panel.send_button.click()
        await panel.wait()
        assert panel.turns[-1].state is TurnState.DONE and panel.session_id == session
        assert len(panel.turns) == 4
    run_with_panel(emulator, scenario)


def test_other_work_runs_while_an_answer_streams(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        panel.send("Slow [[chunks=10]] [[delay=0.05]]")
        ticks = 0

        async def other_cell() -> None:
            nonlocal ticks
            while panel.busy:
                ticks += 1
                await asyncio.sleep(0.01)

        await asyncio.gather(other_cell(), panel.wait())
        assert ticks > 1
    run_with_panel(emulator, scenario)


def test_a_second_question_while_streaming_is_kept_not_lost(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        panel.send("Slow [[chunks=20]] [[delay=0.05]]")
        panel.input.value = "next question" + SUBMIT_MARK
        assert panel.input.value == "next question"           # kept in the box
        assert "still streaming" in panel.notice.value
        panel.stop()
        await panel.wait()
    run_with_panel(emulator, scenario)


def test_switching_agent_sends_to_that_agent(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        research = dict(panel.agent_picker.options)["Research"]
        panel.agent_picker.value = research
        assert "Research" in panel.notice.value
        panel.send("Find sources [[chunks=3]]")
        await panel.wait()
        assert panel.turns[-1].agent_name == "Research" and panel.turns[-1].state is TurnState.DONE
        stored = await client.messages(panel.session_id)
        assert stored[-1].agent_name == "Research"
    run_with_panel(emulator, scenario)


def test_agent_argument_preselects_by_name(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        assert panel.agent == dict(panel.agent_picker.options)["Writer"]
        panel2 = ChatPanel(client=client, agent="Pipeline")
        await panel2.wait()
        assert panel2.agent is None and "cannot be chatted with" in panel2.notice.value
    run_with_panel(emulator, scenario, agent="writer")


def test_agent_argument_takes_an_agent_object(emulator: Any) -> None:
    async def scenario() -> None:
        client = AsyncJunisClient(api_key=emulator.key, base_url=emulator.url)
        writer = next(a for a in await client.agents() if a.name == "Writer")
        panel = ChatPanel(client=client, agent=writer)
        await panel.wait()
        assert panel.agent == writer.id and panel.notice.value == ""
        assert option_labels(panel.session_picker)[0] == "New chat"     # loading went on
        with pytest.raises(TypeError, match="agent must be"):
            ChatPanel(client=client, agent=42)
        with pytest.raises(ValueError, match="recent_sessions"):
            ChatPanel(client=client, recent_sessions=-1)
        await client.aclose()
    run(scenario)


def test_picking_a_session_loads_its_history_and_continues_it(emulator: Any) -> None:
    async def scenario() -> None:
        client = AsyncJunisClient(api_key=emulator.key, base_url=emulator.url)
        first = await client.chat("Remember the number 42 [[chunks=3]]")
        panel = ChatPanel(client=client)
        await panel.wait()
        assert first.session_id in dict(panel.session_picker.options).values()
        panel.session_picker.value = first.session_id
        await panel.wait()
        assert [t.role for t in panel.turns] == ["user", "assistant"]
        assert panel.turns[0].text().startswith("Remember the number 42")
        assert panel.turns[1].text() == first.text
        assert panel.session_id == first.session_id
        panel.send("What was it? [[chunks=2]]")
        await panel.wait()
        assert panel.session_id == first.session_id and len(panel.turns) == 4
        assert len(await client.messages(first.session_id)) == 4
        await client.aclose()
    run(scenario)


def stored_session(n: int, question: str, answer: str) -> dict[str, Any]:
    """A session as the emulator's state file holds it (activity n + 1: later n is newer)."""
    from datetime import datetime, timedelta, timezone
    stamp = (datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(hours=n)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")
    return {"session_id": f"{n:08d}-0000-4000-8000-000000000000", "created_at": stamp,
            "last_update_time": stamp, "is_active": True, "activity": n + 1, "messages": [
                {"id": f"msg_{n}q", "role": "user", "content": question, "created_at": stamp},
                {"id": f"msg_{n}a", "role": "assistant", "content": answer,
                 "created_at": stamp, "agent_name": "Orchestrator"}]}


def emulator_with(make_emulator: Any, tmp_path: Any, sessions: list[dict[str, Any]]) -> Any:
    """An emulator started on a state file holding `sessions` (oldest first, as it writes them)."""
    import json
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"version": 1, "keys": [], "sessions": sessions}))
    return make_emulator(state=str(state))


def test_more_than_a_hundred_sessions_open_with_the_newest_offered(make_emulator: Any,
                                                                     tmp_path: Any) -> None:
    """The picker lists every page of sessions (the server's pages hold at most 100) and offers
    the most recent ones; an account with many sessions must still open."""
    total = 250
    sessions = [stored_session(n, f"question {n}", f"answer {n}") for n in range(total)]
    server = emulator_with(make_emulator, tmp_path, sessions)

    async def scenario() -> None:
        panel, client = await make_panel(server)
        values = [v for _, v in panel.session_picker.options]
        newest = [s["session_id"] for s in reversed(sessions)][:20]
        assert values == [""] + newest and panel.session_picker.value == ""
        assert "could not be listed" not in panel.notice.value
        panel.session_picker.value = newest[-1]                   # the oldest one offered
        await panel.wait()
        assert [t.text() for t in panel.turns] == [f"question {total - 20}", f"answer {total - 20}"]
        await client.aclose()
    run(scenario)


def test_undecodable_text_reaches_the_page_as_valid_utf8(make_emulator: Any, tmp_path: Any) -> None:
    """Text from a file read with surrogateescape holds lone surrogates, which Jupyter's UTF-8
    widget messages cannot carry (U+D800 makes the kernel's send fail): the page gets U+FFFD."""
    from jupyter_client.session import json_packer
    bad = "caf\udce9 \ud800"
    server = emulator_with(make_emulator, tmp_path, [stored_session(0, "read " + bad, "saw " + bad)])

    async def scenario() -> None:
        panel, client = await make_panel(server)
        panel.session_picker.value = "00000000-0000-4000-8000-000000000000"
        await panel.wait()
        # the client mends lone surrogates where it decodes (issue 21): U+FFFD from here on
        assert [t.text() for t in panel.turns] == ["read caf\ufffd \ufffd", "saw caf\ufffd \ufffd"]
        html = panel.transcript_html()
        assert "read caf\ufffd \ufffd" in html and "saw caf\ufffd \ufffd" in html
        # Asked again: shown while it goes out, then answered or (if the client refuses such
        # text) given back to the box; either way every widget value can be sent to the page.
        panel.send("ask " + bad)
        widgets = (panel.history, panel.live, panel.notice, panel.input)
        for widget in widgets:
            json_packer({"value": widget.value}).decode("utf-8")     # what the kernel would send
        await panel.wait()
        for widget in widgets:
            json_packer({"value": widget.value}).decode("utf-8")
        assert "ask caf\ufffd" in panel.transcript_html() + panel.input.value
        await client.aclose()
    run(scenario)


def test_new_chat_starts_a_fresh_session(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        panel.send("One [[chunks=2]]")
        await panel.wait()
        old = panel.session_id
        panel.new_button.click()
        assert panel.turns == [] and panel.session_id is None
        assert panel.session_picker.value == "" and "Ask a question" in panel.transcript_html()
        panel.send("Two [[chunks=2]]")
        await panel.wait()
        assert panel.session_id not in (None, old)
        assert len(await client.messages(panel.session_id)) == 2
    run_with_panel(emulator, scenario)


def test_bad_key_is_a_message_in_the_panel_and_the_question_is_given_back(emulator: Any) -> None:
    bad = "jns_live_" + "x" * 32

    async def scenario() -> None:
        panel, client = await make_panel(emulator, key=bad)
        assert "Agents could not be listed: the API key was refused" in panel.notice.value
        panel.input.value = "Hello?"
        panel.send_button.click()
        await panel.wait()
        assert isinstance(panel.conversation.error, errors.AuthenticationError)
        assert panel.phase is Phase.FAILED and advice_shown(panel, client, panel.conversation.error)
        assert "%junis login" in panel.notice.value and "Traceback" not in panel.notice.value
        assert panel.turns == [] and panel.input.value == "Hello?"
        assert not panel.send_button.disabled and panel.stop_button.disabled
        for value in (panel.notice.value, panel.transcript_html(), panel.footer.value, repr(panel)):
            assert bad not in value
        await client.aclose()
    run(scenario)


def test_missing_scope_says_which_and_what_to_do(emulator: Any) -> None:
    key = emulator.new_key(scopes=["orchestrator:invoke", "agents:list", "sessions:read"])

    async def scenario() -> None:
        panel, client = await make_panel(emulator, key=key)
        panel.send("Stream please")
        await panel.wait()
        assert isinstance(panel.conversation.error, errors.PermissionDeniedError)
        assert advice_shown(panel, client, panel.conversation.error)
        assert "lacks the scope `orchestrator:stream`" in panel.notice.value
        assert panel.turns == []
        await client.aclose()
    run(scenario)


def test_rate_limit_is_shown_and_the_next_question_works(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        emulator.faults({"kind": "status", "status": 429, "code": "rate_limit_exceeded",
                         "message": "Too many requests", "retry_after": 7,
                         "path": "/v1/chat/completions"})
        panel.send("Hi [[chunks=2]]")
        await panel.wait()
        error = panel.conversation.error
        assert isinstance(error, errors.RateLimitError) and error.retry_after == 7
        assert advice_shown(panel, client, error) and "wait 7 s and send it again" in panel.notice.value
        panel.send("Hi again [[chunks=2]]")
        await panel.wait()
        assert panel.notice.value == "" and panel.turns[-1].state is TurnState.DONE
        assert panel.conversation.error is None and panel.phase is Phase.IDLE
    run_with_panel(emulator, scenario, client_options={"max_retries": 0})


def test_a_stream_cut_midway_keeps_what_arrived(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        emulator.faults({"kind": "cut", "after": 3, "path": "/v1/chat/completions"})
        panel.send("Go [[chunks=10]]")
        await panel.wait()
        answer = panel.turns[-1]
        assert answer.state is TurnState.FAILED and answer.text() and panel.phase is Phase.FAILED
        assert isinstance(panel.conversation.error, errors.StreamError)
        assert advice_shown(panel, client, panel.conversation.error)
        assert "■ interrupted by an error" in panel.transcript_html()
    run_with_panel(emulator, scenario)


@pytest.mark.parametrize("fault", [{"kind": "cut", "after": 4}, {"kind": "malformed", "after": 4},
                                   {"kind": "error_event", "after": 4, "code": "agent_failed"}],
                         ids=lambda f: f["kind"])
def test_a_broken_stream_keeps_what_arrived_exactly_once(emulator: Any, fault: dict) -> None:
    """Chunks not yet drawn when the stream breaks (the throttle holds them back) must not be
    added on top of the error's partial text: the kept answer is a prefix of the real one."""
    sent = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike"

    async def scenario() -> None:
        panel, client = await make_panel(emulator, update_hz=1e-6)   # nothing drawn mid-stream
        emulator.faults({**fault, "path": "/v1/chat/completions"})
        panel.send("[[echo]] " + sent)
        await panel.wait()
        answer = panel.turns[-1]
        kept = answer.text()
        assert answer.state is TurnState.FAILED
        assert 0 < len(kept) < len(sent) and sent.startswith(kept), kept
        assert panel.transcript_html().count(render_markdown(kept)) == 1
        await client.aclose()
    run(scenario)


def test_error_text_from_the_server_is_escaped(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        emulator.faults({"kind": "status", "status": 400, "code": "invalid_request",
                         "message": "<img src=x onerror=alert(1)>", "path": "/v1/chat/completions"})
        panel.send("Hi")
        await panel.wait()
        assert "&lt;img src=x onerror=alert(1)&gt;" in panel.notice.value
        assert "<img" not in panel.notice.value
    run_with_panel(emulator, scenario, client_options={"max_retries": 0})


def test_hostile_answer_renders_as_safe_html(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        payload = "\n\n".join(HOSTILE)
        panel.send("[[echo]] " + payload)
        await panel.wait()
        assert panel.turns[-1].state is TurnState.DONE
        html = panel.transcript_html()
        assert_safe_html(html)
        assert "window.__xss" in visible_text(html)                  # shown as text, not dropped
    run_with_panel(emulator, scenario)


def test_to_frame_has_the_messages_schema_and_matches_the_server(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        empty = panel.to_frame()
        assert list(empty.columns) == list(frames.SCHEMAS["messages"]) and len(empty) == 0
        for q in ("One [[chunks=2]]", "Two [[chunks=3]]"):
            panel.send(q)
            await panel.wait()
        df = panel.to_frame()
        expected = frames.SCHEMAS["messages"]
        assert list(df.columns) == list(expected)
        assert {c: str(t) for c, t in df.dtypes.items()} == {c: str(t) for c, t in expected.items()}
        assert df["role"].tolist() == ["user", "assistant", "user", "assistant"]
        assert df["position"].tolist() == [0, 1, 2, 3]
        assert set(df["session_id"]) == {panel.session_id}
        assert df["total_tokens"].isna().tolist() == [True, False, True, False]
        assert int(df["total_tokens"].sum()) == panel.tokens.total_tokens > 0
        server = frames.messages(JunisClient(api_key=emulator.key, base_url=emulator.url),
                                 panel.session_id)
        assert df["content"].tolist() == server["content"].tolist()
        assert df["agent_name"].iloc[1] == server["agent_name"].iloc[1]
        assert isinstance(df["created_at"].dtype, pd.DatetimeTZDtype)
    run_with_panel(emulator, scenario)


def test_default_client_comes_from_the_environment(junis_env: Any) -> None:
    async def scenario() -> None:
        panel = ChatPanel()
        await panel.wait()
        assert "Research" in option_labels(panel.agent_picker)
        panel.send("Hello [[chunks=2]]")
        await panel.wait()
        assert panel.turns[-1].state is TurnState.DONE
        await panel.aclose()
        assert panel.comm is None and panel.input.comm is None and panel.history.comm is None
    run(scenario)


def test_sync_client_from_the_magic_is_accepted(emulator: Any) -> None:
    async def scenario() -> None:
        sync = JunisClient(api_key=emulator.key, base_url=emulator.url)
        panel = ChatPanel(client=sync)
        await panel.wait()
        panel.send("Hello [[chunks=2]]")
        await panel.wait()
        assert panel.turns[-1].state is TurnState.DONE
        assert emulator.key not in repr(panel)
        await panel.aclose()
        sync.close()
    run(scenario)


def test_without_a_running_loop_the_panel_says_how_to_use_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUNIS_API_KEY", raising=False)
    panel = ChatPanel()
    panel.input.value = "Hello"
    assert panel.send() is None
    assert "send_async" in panel.notice.value and panel.input.value == "Hello"


def test_widget_messages_from_another_thread_run_on_the_panels_loop(emulator: Any) -> None:
    """ipykernel 7 can deliver widget messages on a subshell thread with its own event loop; the
    panel must still stream on its home loop (the HTTP client's connections belong to it)."""
    import threading

    async def scenario() -> None:
        panel, client = await make_panel(emulator)
        home = asyncio.get_running_loop()
        seen: list[Any] = []

        def subshell() -> None:
            async def deliver() -> None:
                panel.input.value = "From elsewhere [[chunks=3]]" + SUBMIT_MARK
                seen.append(asyncio.get_running_loop())
            asyncio.run(deliver())

        thread = threading.Thread(target=subshell)
        thread.start()
        await asyncio.to_thread(thread.join)
        assert seen and seen[0] is not home
        await until(lambda: panel.busy or len(panel.turns) == 2, "send scheduled")
        await panel.wait()
        assert panel.turns[-1].state is TurnState.DONE and panel.notice.value == ""
        assert not panel.busy
        await client.aclose()
    run(scenario)


def test_no_key_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUNIS_API_KEY", raising=False)
    monkeypatch.setattr("junis_jupyter.config._login_key", None)

    async def scenario() -> None:
        panel = ChatPanel()
        await panel.wait()
        assert "%junis login" in panel.notice.value and "JUNIS_API_KEY" in panel.notice.value
        panel.send("Hello")
        await panel.wait()
        assert "%junis login" in panel.notice.value and panel.input.value == "Hello"   # given back
        assert panel.turns == [] and not panel.busy
    run(scenario)


def test_a_key_that_cannot_list_still_chats_with_the_orchestrator(emulator: Any) -> None:
    key = emulator.new_key(scopes=["orchestrator:invoke", "orchestrator:stream"])

    async def scenario() -> None:
        panel, client = await make_panel(emulator, key=key)
        assert "Agents could not be listed" in panel.notice.value
        assert "Sessions could not be listed" in panel.notice.value
        assert option_labels(panel.agent_picker) == ["Orchestrator"]
        panel.send("Hello [[chunks=2]]")
        await panel.wait()
        assert panel.turns[-1].state is TurnState.DONE and panel.notice.value == ""
        await client.aclose()
    run(scenario)


def test_streaming_redraws_render_only_the_block_being_written(emulator: Any,
                                                               monkeypatch: Any) -> None:
    # Each redraw renders the unfinished markdown block again (render.IncrementalMarkdown), not
    # the whole answer from the top; the settled answer is rendered whole once.
    from junis_jupyter.notebook.panel import html as panel_html
    from junis_jupyter.notebook import markdown as safe_markdown
    rendered: list[int] = []
    real = safe_markdown.render_markdown

    def counting(text: str) -> str:
        rendered.append(len(text))
        return real(text)
    monkeypatch.setattr(safe_markdown, "render_markdown", counting)
    monkeypatch.setattr(panel_html, "render_markdown", counting)

    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        redraws: list[str] = []
        panel.live.observe(lambda ch: redraws.append(ch["new"]), names="value")
        panel.send("Tides [[size=60000]] [[chunks=60]] [[delay=0.05]]")   # 3 s
        await panel.wait()
        answer = panel.turns[-1]
        assert answer.state is TurnState.DONE and len(answer.text()) == 60000
        assert len(redraws) > 2                                   # it was drawn while streaming
        # Block by block (live.py): no piece is rendered twice but the one being written, and
        # the whole answer never at once, not even when it settles.
        assert 60000 not in rendered and sum(rendered) < 4 * 60000
        assert panel.transcript_html().count(panel_html.answer_html(answer.text())) == 1
    run_with_panel(emulator, scenario, update_hz=50)


def test_streaming_updates_carry_the_live_answer_not_the_whole_conversation(
        emulator: Any, monkeypatch: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        panel.send("First question about apples [[chunks=3]]")
        await panel.wait()
        wire = WidgetWire(monkeypatch)
        panel.send("Second question about pears [[chunks=8]] [[delay=0.03]]")
        await panel.wait()
        assert wire.messages and not any("apples" in m for m in wire.messages)
        assert any("pears" in m for m in wire.messages)
        assert "apples" in panel.transcript_html() and "pears" in panel.transcript_html()
    run_with_panel(emulator, scenario)


def test_something_that_is_not_a_client_is_a_notice() -> None:
    async def scenario() -> None:
        panel = ChatPanel(client=object())
        await panel.wait()
        assert "needs a JunisClient or an AsyncJunisClient" in panel.notice.value
    run(scenario)


def test_an_unexpected_failure_while_loading_is_a_notice_not_lost() -> None:
    """A client answering something the panel cannot use (here, not agents): no frontend would
    ever show a background task's exception, so the panel must."""
    class OddClient:                       # stands for any client that misbehaves in a new way
        async def agents(self) -> list[Any]:
            return [None]

        async def sessions(self) -> list[Any]:
            return []

    async def scenario() -> None:
        panel = ChatPanel(client=OddClient())
        await panel.wait()
        try:
            None.invocable                                        # type: ignore[attr-defined]
        except AttributeError as exc:
            expected = advise(exc, Surface.PANEL)
        assert expected.startswith("AttributeError: ")
        assert panel.notice.value == f'<div class="junis-notice junis-error">{escape_html(expected)}</div>'
    run(scenario)


def test_stop_before_the_request_even_started_leaves_the_panel_ready(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        panel.input.value = "Never mind"
        panel.send_button.click()
        panel.stop_button.click()                   # same tick: the task has not run yet
        await panel.wait()
        assert not panel.busy and not panel.send_button.disabled and panel.stop_button.disabled
        assert panel.input.value == "Never mind" and panel.turns == []
        panel.send()
        await panel.wait()
        assert panel.turns[-1].state is TurnState.DONE
    run_with_panel(emulator, scenario)


def test_state_others_can_watch_is_traitlets(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        seen: dict[str, list[Any]] = {"phase": [], "busy": [], "session_id": [], "tokens": []}
        for name, changes in seen.items():
            panel.observe(lambda ch, changes=changes: changes.append(ch["new"]), names=name)
        panel.send("Watched [[chunks=4]]")
        await panel.wait()
        assert seen["phase"] == [Phase.SENDING, Phase.STREAMING, Phase.IDLE]
        assert seen["busy"] == [True, False]
        assert seen["session_id"] == [panel.session_id] and panel.session_id
        assert seen["tokens"] == [panel.turns[-1].usage]
        agents: list[Any] = []
        panel.observe(lambda ch: agents.append(ch["new"]), names="agent")
        panel.agent_picker.value = dict(panel.agent_picker.options)["Research"]
        assert agents == [panel.agent] and panel.agent
        for name in ("session_id", "busy", "phase", "tokens", "rate_limit", "agent"):
            with pytest.raises(Exception, match="read-only"):
                setattr(panel, name, None)                      # the model owns them
    run_with_panel(emulator, scenario)


class Gated:
    """The emulator's client, whose first `agents()` listing waits until `gate` is set: the
    pickers' first loading held open as long as a test needs (a slow account)."""

    def __init__(self, client: AsyncJunisClient) -> None:
        self._client = client
        self.gate = asyncio.Event()
        self.listings = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def agents(self) -> Any:
        self.listings += 1
        if self.listings == 1:
            await self.gate.wait()
        return await self._client.agents()


def test_wait_waits_for_the_first_refresh_even_after_a_session_change(emulator: Any) -> None:
    """Picking a session while the pickers were still loading replaced the one task `wait()`
    waited for, so it returned with the first loading still going."""
    async def scenario() -> None:
        client = AsyncJunisClient(api_key=emulator.key, base_url=emulator.url)
        first = await client.chat("Remember the number 7 [[chunks=2]]")
        gated = Gated(client)
        panel = ChatPanel(client=gated)
        await until(lambda: gated.listings == 1, "the first refresh held")
        await panel.refresh()                       # a second listing, not held: sessions offered
        panel.session_picker.value = first.session_id
        waiting = asyncio.ensure_future(panel.wait())
        await until(lambda: len(panel.turns) == 2, "the picked session's history")
        await asyncio.sleep(0.05)
        assert not waiting.done(), "wait() returned while the first refresh still loads"
        gated.gate.set()
        await waiting
        assert gated.listings == 2 and panel.session_id == first.session_id
        await client.aclose()
    run(scenario)


def test_a_stop_while_the_pickers_load_gives_the_question_back_not_an_error(emulator: Any) -> None:
    """`await panel.send_async(...)` waits for the pickers first; Stop pressed meanwhile used to
    cancel the caller's own task, so the cell that awaited it failed with CancelledError."""
    async def scenario() -> None:
        client = AsyncJunisClient(api_key=emulator.key, base_url=emulator.url)
        gated = Gated(client)
        panel = ChatPanel(client=gated)
        asking = asyncio.ensure_future(panel.send_async("Hello [[chunks=2]]"))
        await until(lambda: panel.busy, "the question accepted")
        panel.stop_button.click()
        assert await asking is None                 # not CancelledError
        assert panel.turns == [] and not panel.busy and panel.input.value == "Hello [[chunks=2]]"
        gated.gate.set()
        await panel.wait()
        await client.aclose()
    run(scenario)


def test_new_chat_right_after_picking_a_session_stays_a_new_chat(emulator: Any) -> None:
    """The picked session's history used to arrive after New chat and take the panel over, with
    the picker still showing "New chat"."""
    async def scenario() -> None:
        client = AsyncJunisClient(api_key=emulator.key, base_url=emulator.url)
        first = await client.chat("Old conversation [[chunks=2]]")
        panel = ChatPanel(client=client)
        await panel.wait()
        panel.session_picker.value = first.session_id
        panel.new_button.click()                    # same tick: the history is still on its way
        await panel.wait()
        assert panel.session_id is None and panel.turns == []
        assert panel.session_picker.value == ""
        await client.aclose()
    run(scenario)


def test_a_question_sent_from_code_while_busy_leaves_the_box_alone(emulator: Any) -> None:
    """Refused from code, a question used to be written into the input box over the user's draft."""
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        panel.send("Slow [[chunks=20]] [[delay=0.05]]")
        panel.input.value = "my draft"
        assert panel.send("from code") is None
        assert panel.input.value == "my draft" and "still streaming" in panel.notice.value
        panel.stop()
        await panel.wait()
    run_with_panel(emulator, scenario)


class SlowClose:
    """A client whose stream takes a while to close after its last chunk, as a real connection
    can (the emulator's close at once): a Stop pressed then must not undo the finished answer."""

    def __init__(self) -> None:
        self.closing = asyncio.Event()

    async def agents(self) -> list[Any]:
        return []

    async def sessions(self) -> list[Any]:
        return []

    def stream(self, text: str, **options: Any) -> Any:
        from junis_jupyter.client.types import ChatResult
        closing = self.closing
        session = "00000000-0000-4000-8000-0000000000aa"

        class Stream:
            """Read as the pipeline reads a stream: in `async with`, its text a read at a time,
            then its `result`."""
            usage = Usage(2, 3, 5)
            result = ChatResult("Hello world", session, usage, "stop")

            async def __aenter__(self) -> Any:
                return self

            async def __aexit__(self, *exc: object) -> None:
                await self.aclose()

            async def texts(self) -> Any:
                yield "Hello"
                yield " world"

            async def aclose(self) -> None:
                closing.set()
                await asyncio.sleep(0.2)
        return Stream()


def test_stop_while_a_finished_stream_closes_keeps_the_answer() -> None:
    async def scenario() -> None:
        client = SlowClose()
        panel = ChatPanel(client=client)
        await panel.wait()
        panel.input.value = "Hi"
        panel.send_button.click()
        await client.closing.wait()
        panel.stop_button.click()
        await panel.wait()
        answer = panel.turns[-1]
        assert answer.text() == "Hello world" and answer.state == "done"
        assert panel.input.value == "" and not panel.busy        # not given back: it was answered
        assert panel.live.value == "" and "Hello world" in panel.transcript_html()
        assert panel.tokens.total_tokens == 5
    run(scenario)


# -- block-wise streaming: bytes on the wire (issue 15) ------------------------------------------

def _answer_bytes(panel: ChatPanel) -> int:
    """The final answer's HTML as the page holds it, as one widget message would carry it."""
    return one_message(panel.chat_feed.views[-1].answer.html())


@pytest.mark.parametrize("size", [20_000, 60_000])
def test_a_streamed_answer_sends_at_most_twice_its_own_bytes(emulator: Any, monkeypatch: Any,
                                                             size: int) -> None:
    # Before: the whole answer's HTML re-sent at every redraw (dozens of times its size).
    wire = WidgetWire(monkeypatch)                  # before the panel: every widget recorded

    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        wire.clear()                       # the answer's messages only
        # about 2.4 s at about 8,000 characters a second (benchmarks/panel_bytes.py has slower)
        panel.send(f"Tides [[size={size}]] [[chunks=200]] [[delay=0.01]]")
        await panel.wait()
        answer = panel.turns[-1]
        assert answer.state is TurnState.DONE and len(answer.text()) == size
        final = _answer_bytes(panel)
        assert final > size * 0.9
        ratio = wire.bytes / final
        assert ratio <= 2, (wire.bytes, final, len(wire.messages))
    run_with_panel(emulator, scenario, update_hz=12)


def test_settled_blocks_are_appended_once_and_never_updated(emulator: Any, monkeypatch: Any) -> None:
    import json
    wire = WidgetWire(monkeypatch)

    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        wire.clear()
        panel.send("Tides [[size=20000]] [[chunks=100]] [[delay=0.03]]")
        await panel.wait()
        view = panel.chat_feed.views[-1].answer
        blocks = [c for g in view._groups for c in g.children if c.value]
        assert len(blocks) > 3                                     # it was settled piece by piece
        sent = [json.loads(m) for m in wire.messages]
        # Each settled piece's widget: opened empty in a box of slots, filled once, never again.
        for block in blocks:
            to_it = [m for m in sent if m["comm_id"] == block.model_id]
            assert [m["msg_type"] for m in to_it] == ["comm_open", "comm_msg"]
            assert to_it[1]["data"]["state"] == {"value": block.value}
        updated = {m["comm_id"] for m in sent if m["msg_type"] == "comm_msg"}
        assert panel.live.model_id in updated                      # the tail was redrawn
        # What the page shows is the answer's HTML, as one render of it would be.
        assert view.html().count(answer_html(panel.turns[-1].text())) == 1
        assert panel.live.value == "" and panel.live not in view.body.children
    run_with_panel(emulator, scenario, update_hz=20)


# -- edit and retry, export, code blocks -----------------------------------------------------

def test_retry_asks_the_last_question_again_through_the_same_stream(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        assert panel.retry_button.disabled and panel.edit_button.disabled   # nothing asked yet
        assert panel.retry() is None and "Nothing to retry" in panel.notice.value
        panel.send("Tides please [[chunks=4]]")
        await panel.wait()
        assert not panel.retry_button.disabled and not panel.edit_button.disabled
        before = requests_seen(emulator)
        panel.retry_button.click()                              # one click
        assert panel.busy and panel.retry_button.disabled and panel.input.value == ""
        await panel.wait()
        questions = [t.text() for t in panel.turns if t.role == "user"]
        assert questions == ["Tides please [[chunks=4]]"] * 2
        assert panel.turns[-1].state is TurnState.DONE and panel.turns[-1].text()
        assert requests_seen(emulator) == before + 1
        assert panel.transcript_html().count('data-state="done"') == 4
        stored = await client.messages(panel.session_id)        # the same session, both asked
        assert [m.role for m in stored] == ["user", "assistant"] * 2
    run_with_panel(emulator, scenario)


def test_up_in_an_empty_box_brings_the_last_question_back_to_edit_and_send(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        panel.input.value = RECALL_MARK                         # nothing asked yet: stays empty
        assert panel.input.value == ""
        panel.send("What is the capital of France? [[chunks=3]]")
        await panel.wait()
        panel.input.value = RECALL_MARK                         # what the key hook does on Up
        assert panel.input.value == "What is the capital of France? [[chunks=3]]"
        panel.input.value = panel.input.value.replace("France", "Spain") + SUBMIT_MARK   # Enter
        await panel.wait()
        assert [t.text() for t in panel.turns if t.role == "user"][-1] == \
            "What is the capital of Spain? [[chunks=3]]"
        panel.input.value = "typing" + RECALL_MARK              # not empty: kept as typed
        assert panel.input.value == "typing"
        panel.input.value = ""
        panel.edit_button.click()                               # the Edit button does the same
        assert panel.input.value == "What is the capital of Spain? [[chunks=3]]"
    run_with_panel(emulator, scenario)


def test_retry_while_streaming_is_refused_with_the_usual_notice(emulator: Any) -> None:
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        panel.send("first [[chunks=2]]")
        await panel.wait()
        panel.send("slow [[chunks=50]] [[delay=0.05]]")
        await until(lambda: panel.phase is Phase.STREAMING, "streaming")
        assert panel.retry() is None and "still streaming" in panel.notice.value
        panel.stop()
        await panel.wait()
    run_with_panel(emulator, scenario)


def test_code_blocks_markdown_and_notebook_of_the_conversation(emulator: Any, tmp_path: Any) -> None:
    import nbformat

    from junis_jupyter.notebook.panel.export import turns_to_markdown

    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        panel.send("Show me code about tides [[chunks=5]]")
        await panel.wait()
        answer = panel.turns[-1].text()
        blocks = panel.code_blocks()
        assert blocks and all(isinstance(lang, str) and code for lang, code in blocks)
        assert blocks[0][1] in answer and f"```{blocks[0][0]}" in answer
        # Highlighted with a Copy control on the page, the code as written underneath.
        assert 'class="junis-copy"' in panel.transcript_html() and '<span class="' in panel.transcript_html()
        md = panel.to_markdown()
        assert md == turns_to_markdown([("user", panel.turns[0].text()),
                                        ("assistant", answer, "Orchestrator")])
        assert md.startswith("### You\n\nShow me code about tides") and "### Orchestrator" in md
        path = tmp_path / "kept.ipynb"
        panel.to_notebook(str(path))
        nb = nbformat.read(path, as_version=4)
        assert [c.cell_type for c in nb.cells] == ["markdown", "markdown"] + ["code"] * len(blocks)
        assert [c.source for c in nb.cells[2:]] == [code for _, code in blocks]
        assert all(c.execution_count is None and not c.outputs for c in nb.cells[2:])
    run_with_panel(emulator, scenario)


def test_a_hostile_answer_with_highlighted_code_is_safe_html(emulator: Any) -> None:
    corpus = "\n\n".join(f"```{lang}\n{p}\n```" for lang in ("html", "javascript")
                         for p in HOSTILE if "```" not in p)

    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        panel.send("[[echo]]\n\n" + corpus)
        await panel.wait()
        assert panel.turns[-1].state is TurnState.DONE
        html = panel.transcript_html()
        assert html.count('class="junis-code"') >= 2 and '<span class="' in html
        assert_safe_html(html)
    run_with_panel(emulator, scenario, max_prompt_chars=1_000_000)


# -- the magic's side of it: %junis history --markdown, %junis chat --side ---------------------

def test_history_markdown_prints_the_session_as_the_panel_would(shell: Any, junis_env: Any) -> None:
    from junis_jupyter.notebook.panel.export import turns_to_markdown
    assert shell.run("%%junis\nShow me code about tides [[chunks=3]]").error is None
    session = shell.magic.session_id
    cell = shell.run("%junis history --markdown")
    assert cell.error is None and cell.err == ""
    stored = JunisClient(api_key=junis_env.key, base_url=junis_env.url).messages(session)
    assert cell.out == turns_to_markdown((m.role, m.content, m.agent_name) for m in stored)
    assert cell.out.startswith("### You\n\nShow me code about tides") and "```" in cell.out
    assert shell.run(f"%junis history {session} --markdown").out == cell.out
    frame = shell.shell.run_line_magic("junis", f"history {session}")      # still a frame
    assert list(frame["role"]) == ["user", "assistant"]


def test_chat_side_without_a_side_area_opens_inline_with_one_line(shell: Any, junis_env: Any) -> None:
    cell = shell.run("%junis chat --side")
    assert cell.error is None
    lines = [line for line in cell.out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("No side area here (") and "inline" in lines[0]
    assert any("application/vnd.jupyter.widget-view+json" in e["data"] for e in cell.events)
    bad = shell.run("%junis chat --wide")
    assert "usage: %junis chat [--side]" in bad.err


# -- nothing leaks, nothing is lost (issue 21) ---------------------------------------------------

def planted_key() -> str:
    """A Junis-key-shaped string that is no key of this suite (the leak watch looks for its own)."""
    import secrets
    import string
    return "jns_live_" + "".join(secrets.choice(string.ascii_letters + string.digits)
                                 for _ in range(32))


def test_a_key_typed_into_the_panel_is_masked_in_what_is_sent_shown_and_kept(
        emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Any key-shaped string, and the current key whatever its shape, as `%%junis` masks them:
    neither the server (what it stored, what it echoes back) nor any export gets them, not even
    the part a mask would hide."""
    typed = planted_key()
    current = "sk-current-" + "Q7" * 12                   # a key in JUNIS_API_KEY, not key-shaped
    monkeypatch.setenv("JUNIS_API_KEY", current)
    secrets_ = (typed, typed[:-4], current, current[:-4])

    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        panel.input.value = f"[[echo]] my keys: {typed} and {current}, keep them"
        panel.send_button.click()
        await panel.wait()
        panel.retry()                                          # the question recalled, asked again
        await panel.wait()
        assert [t.state for t in panel.turns] == [TurnState.DONE] * 4
        answer = panel.turns[-1].text()
        assert answer.startswith("my keys: jns_live_…") and typed[-4:] in answer    # masked, not lost
        stored = await client.messages(panel.session_id)       # what the server received
        path = tmp_path / "kept.ipynb"
        panel.to_notebook(str(path))
        frame = panel.to_frame()
        seen = {"server": "\n".join(m.content for m in stored),
                "turns": "\n".join(t.text() for t in panel.turns),
                "transcript_html()": panel.transcript_html(),
                "to_markdown()": panel.to_markdown(),
                "to_notebook()": path.read_text(encoding="utf-8"),
                "to_frame()": "\n".join(frame["content"]),
                "widgets": panel.input.value + panel.notice.value + panel.footer.value}
        for where, text in seen.items():
            assert not [s for s in secrets_ if s in text], where
    run_with_panel(emulator, scenario)


def live_html(html: str) -> list[str]:
    """What in `html` a browser would run or follow by itself: script-capable tags, event
    handlers, and URLs of any scheme but http(s), mailto and relative ones (parsed with the
    standard library, independent of the renderer)."""
    from html.parser import HTMLParser

    from junis_jupyter.notebook.markdown import is_safe_url
    active = {"script", "iframe", "frame", "object", "embed", "svg", "math", "img", "video",
              "audio", "source", "form", "input", "button", "meta", "base", "link", "style",
              "body", "details", "textarea", "select"}
    urls = {"href", "src", "action", "formaction", "data", "poster", "background", "xlink:href"}
    found: list[str] = []

    class Finder(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag in active:
                found.append(f"<{tag}>")
            for name, value in attrs:
                if name.startswith("on") or name == "srcdoc" or (
                        name == "style" and "url(" in (value or "")):
                    found.append(f"{name}= on <{tag}>")
                if name in urls and not is_safe_url(value or ""):
                    found.append(f"{name}={value!r} on <{tag}>")

        handle_startendtag = handle_starttag

    finder = Finder(convert_charrefs=True)
    finder.feed(html)
    finder.close()
    return found


def texts_mathjax_reads(html: str, needle: str) -> list[bool]:
    """For each text of `html` holding `needle`: whether MathJax would read it (no element
    around it has the class MathJax skips, `tex2jax_ignore`)."""
    from html.parser import HTMLParser
    read: list[bool] = []
    skipped: list[bool] = []          # per open element: does MathJax skip it
    void = {"br", "hr", "img", "input", "meta", "link", "wbr", "col", "area", "base", "source"}

    class Finder(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag not in void:
                classes = (dict(attrs).get("class") or "").split()
                skipped.append("tex2jax_ignore" in classes)

        def handle_endtag(self, tag: str) -> None:
            if tag not in void and skipped:
                skipped.pop()

        def handle_data(self, data: str) -> None:
            if needle in data:
                read.append(not any(skipped))

    finder = Finder(convert_charrefs=True)
    finder.feed(html)
    finder.close()
    return read


def test_the_notebook_export_of_hostile_answers_runs_nothing_once_nbconvert_renders_it(
        emulator: Any, tmp_path: Any) -> None:
    """`to_notebook()` wrote answers' raw Markdown into Markdown cells: `jupyter nbconvert --to
    html` then made live <script>, onerror= and javascript: links of it. Answers are exported
    as the panel shows them; the export still reads as the conversation (headings, tables,
    code)."""
    import nbformat
    from nbconvert import HTMLExporter
    mathjax = "$\\href{javascript:window.__xss='mathjax'}{x}$"
    payload = "\n\n".join([*HOSTILE, mathjax])

    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        panel.send("[[echo]] " + payload)                        # a hostile answer
        await panel.wait()
        panel.send(payload)                                       # and a question pasted in
        await panel.wait()
        panel.send("Show me code about tides [[chunks=5]]")       # and an ordinary answer
        await panel.wait()
        assert [t.state for t in panel.turns] == [TurnState.DONE] * 6
        path = tmp_path / "kept.ipynb"
        panel.to_notebook(str(path))
        body, _ = HTMLExporter().from_filename(str(path))
        cells = body[body.index("<main>"):body.index("</main>")]   # the template's own scripts apart
        assert live_html(cells) == []
        assert "window.__xss = 'script'" in visible_text(cells)  # shown as text, not dropped
        assert texts_mathjax_reads(cells, "\\href{javascript:") == [False, False, False]
        tides = panel.turns[-1].text()
        assert "<table>" in cells and "<h2" in cells and tides.splitlines()[0][3:] in cells
        assert nbformat.read(path, as_version=4).cells[-1].source == panel.code_blocks()[-1][1]
    run_with_panel(emulator, scenario, max_prompt_chars=1_000_000)


def test_an_answer_holding_a_lone_surrogate_is_kept_in_every_export(make_emulator: Any,
                                                                     tmp_path: Any) -> None:
    """A lone surrogate (the JSON "\\ud800") cannot be written as UTF-8: `to_notebook()` and
    `to_frame()` raised. The text is kept with U+FFFD in its place."""
    import nbformat
    bad = "caf\udce9 \ud800"
    server = emulator_with(make_emulator, tmp_path, [stored_session(0, "read " + bad, "saw " + bad)])

    async def scenario() -> None:
        panel, client = await make_panel(server)
        panel.session_picker.value = "00000000-0000-4000-8000-000000000000"
        await panel.wait()
        # mended by the client where it decoded them; the exports' own mending of text that
        # reaches them raw is tests/unit/test_panel_export.py's
        assert panel.turns[-1].text() == "saw caf\ufffd \ufffd"
        path = tmp_path / "kept.ipynb"
        panel.to_notebook(str(path))
        cells = nbformat.read(path, as_version=4).cells
        answer = ('### Orchestrator\n\n<div class="junis-assistant tex2jax_ignore">'
                  '<p>saw caf\ufffd \ufffd</p>&#10;</div>')
        assert [c.source for c in cells] == ["### You\n\nread caf\ufffd \ufffd", answer]
        assert panel.to_frame()["content"].tolist() == ["read caf\ufffd \ufffd", "saw caf\ufffd \ufffd"]
        assert panel.to_markdown() == "### You\n\nread caf\ufffd \ufffd\n\n### Orchestrator\n\nsaw caf\ufffd \ufffd\n"
        await client.aclose()
    run(scenario)


# -- the exchange through the answer pipeline ----------------------------------------------------

def test_after_a_broken_stream_the_next_question_continues_its_session(emulator: Any) -> None:
    """The session the broken answer opened is the panel's: the answer now arrives whole at the
    end of the pipeline, so the session comes with the error, not with the first chunk."""
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        emulator.faults({"kind": "cut", "after": 3, "path": "/v1/chat/completions"})
        panel.send("Go [[chunks=10]]")
        await panel.wait()
        assert panel.turns[-1].state is TurnState.FAILED and panel.session_id is not None
        assert panel.session_picker.value == panel.session_id
        session = panel.session_id
        panel.send("Again [[chunks=2]]")
        await panel.wait()
        assert panel.session_id == session and panel.turns[-1].state is TurnState.DONE
        assert [m.role for m in await client.messages(session)][-2:] == ["user", "assistant"]
    run_with_panel(emulator, scenario)


def test_a_cancel_from_outside_the_panel_is_raised_and_the_answer_keeps_its_text(
        emulator: Any) -> None:
    """Not Stop: the cell awaiting `send_async`, or the task `send()` returned, was cancelled.
    The canceller is told (CancelledError), and the panel keeps what arrived, marked stopped,
    ready for the next question."""
    async def scenario(panel: ChatPanel, client: AsyncJunisClient) -> None:
        asking = asyncio.ensure_future(panel.send_async("A long story [[chunks=400]] [[delay=0.05]]"))
        await until(lambda: panel.phase is Phase.STREAMING, "first chunk")
        asking.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asking
        await panel.wait()
        answer = panel.turns[-1]
        assert answer.state is TurnState.STOPPED and answer.text() and not panel.busy
        assert panel.session_id is not None and panel.tokens == Usage()
        assert panel.transcript_html().endswith('<div class="junis-mark">■ stopped</div></div>')
        assert await panel.send_async("Next [[chunks=2]]") is not None
        assert panel.turns[-1].state is TurnState.DONE
        task = panel.send("Another long one [[chunks=400]] [[delay=0.05]]")   # the task itself
        await until(lambda: panel.phase is Phase.STREAMING, "first chunk")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert panel.turns[-1].state is TurnState.STOPPED and panel.turns[-1].text()
        assert not panel.busy
    run_with_panel(emulator, scenario)


def test_the_session_picker_lists_conversations_with_titles_not_batch_rows(
        shell: Any, junis_env: Any) -> None:
    """Two small batches once filled the picker with 20 identical entries and pushed the user's
    real conversations out of it (issue 23): batch rows are left out, and a conversation this
    machine logged is titled by its first question."""
    from junis_jupyter import ask_many
    assert shell.run("%%junis --new\nHow do tides work?").error is None
    cell_session = shell.shell.user_ns["_junis"].session_id
    batch = ask_many([f"[[chunks=2]] Row {i}" for i in range(12)], progress=False)

    async def scenario() -> None:
        panel, client = await make_panel(junis_env)
        await panel.send_async("What about the moon?")
        await panel.refresh()
        labels = dict(panel.session_picker.options)
        offered = set(labels.values())
        assert not offered & set(batch["session_id"])            # no batch row offered
        assert cell_session in offered and panel.session_id in offered
        by_id = {v: k for k, v in labels.items()}
        assert by_id[cell_session].startswith("How do tides work?")
        assert by_id[panel.session_id].startswith("What about the moon?")
        await client.aclose()
    run(scenario)
