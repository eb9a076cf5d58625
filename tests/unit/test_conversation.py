"""The chat panel's Conversation model driven directly: no widgets, no event loop, no server.

Every transition of the lifecycle, the streamed text, what Stop and a failure keep, token totals,
the rate-limit reading and the rows `to_frame()` is made of. The widgets around it, against the
emulator: tests/notebook/test_panel.py.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from junis_jupyter import errors
from junis_jupyter.client.types import Message, RateLimitInfo, Usage
from junis_jupyter.notebook.panel.conversation import (Conversation, LifecycleError, Phase, Turn,
                                                       TurnState)

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
SESSION = "00000000-0000-4000-8000-000000000001"


def asked(text: str = "How do tides work?", agent: str | None = "Orchestrator") -> Conversation:
    """A conversation with a question reserved and asked (sending, nothing arrived yet)."""
    conv = Conversation()
    conv.reserve()
    conv.ask(text, agent, NOW)
    return conv


def test_a_new_conversation_is_idle_and_empty() -> None:
    conv = Conversation()
    assert conv.phase is Phase.IDLE and not conv.busy
    assert conv.turns == [] and conv.live is None and conv.session_id is None
    assert conv.tokens == Usage() and conv.rate_limit is None and conv.error is None


def test_reserve_makes_it_busy_before_any_turn() -> None:
    conv = Conversation()
    conv.reserve()
    assert conv.phase is Phase.SENDING and conv.busy and conv.turns == [] and conv.live is None
    with pytest.raises(LifecycleError):
        conv.reserve()                              # one exchange at a time


def test_ask_adds_the_question_and_an_empty_streaming_answer() -> None:
    conv = asked()
    question, answer = conv.turns
    assert conv.live is not None and conv.live.turns == (question, answer)
    assert (question.role, question.text(), question.state) == ("user", "How do tides work?",
                                                                 TurnState.DONE)
    assert (answer.role, answer.text(), answer.state) == ("assistant", "", TurnState.STREAMING)
    assert answer.agent_name == "Orchestrator" and answer.created_at == NOW
    assert conv.phase is Phase.SENDING
    with pytest.raises(LifecycleError):
        conv.ask("again", None, NOW)                # not reserved again


def test_ask_needs_a_reservation() -> None:
    with pytest.raises(LifecycleError):
        Conversation().ask("Hi", None, NOW)


def test_the_first_text_moves_sending_to_streaming_and_text_grows() -> None:
    conv = asked()
    conv.feed("")                                   # a chunk with no text (role, usage) changes nothing
    assert conv.phase is Phase.SENDING
    for piece in ("Tides ", "are ", "caused ", "by the moon."):
        conv.feed(piece)
    assert conv.phase is Phase.STREAMING
    assert conv.turns[-1].text() == "Tides are caused by the moon."


def test_the_session_the_server_opens_is_adopted_by_the_exchange() -> None:
    conv = asked()
    conv.feed("Hi", session_id=SESSION)
    assert conv.session_id == SESSION
    assert [t.session_id for t in conv.turns] == [SESSION, SESSION]


def test_finish_marks_done_counts_usage_and_goes_idle() -> None:
    conv = asked()
    conv.feed("Answer", usage=Usage(1, 1, 2))       # a chunk's usage, replaced by the stream's
    conv.finish(Usage(10, 20, 30))
    answer = conv.turns[-1]
    assert answer.state is TurnState.DONE and answer.usage == Usage(10, 20, 30)
    assert conv.phase is Phase.IDLE and conv.live is None and not conv.busy
    assert conv.tokens == Usage(10, 20, 30)


def test_token_totals_add_up_over_answers() -> None:
    conv = Conversation()
    for usage in (Usage(10, 20, 30), Usage(1, 2, 3)):
        conv.reserve()
        conv.ask("q", None, NOW)
        conv.feed("a")
        conv.finish(usage)
    assert conv.tokens == Usage(11, 22, 33)
    conv.reserve()
    conv.ask("q", None, NOW)
    conv.finish(None)                               # no usage reported: nothing added
    assert conv.tokens == Usage(11, 22, 33)


def test_finish_keeps_a_chunks_usage_when_the_stream_has_none() -> None:
    conv = asked()
    conv.feed("a", usage=Usage(1, 2, 3))
    conv.finish(None)
    assert conv.turns[-1].usage == Usage(1, 2, 3) and conv.tokens == Usage(1, 2, 3)


def test_an_answer_from_the_pipeline_is_done_counted_and_opens_its_session() -> None:
    from junis_jupyter.client.types import ChatResult
    conv = asked()
    conv.feed("Tides are")
    conv.answered(ChatResult("Tides are", SESSION, Usage(3, 4, 7), "stop"))
    answer = conv.turns[-1]
    assert answer.state is TurnState.DONE and answer.usage == Usage(3, 4, 7)
    assert conv.tokens == Usage(3, 4, 7) and conv.phase is Phase.IDLE
    assert conv.session_id == SESSION and [t.session_id for t in conv.turns] == [SESSION] * 2


@pytest.mark.parametrize("pressed", [True, False])
def test_an_interrupted_answer_from_the_pipeline_is_stopped_and_not_counted(pressed: bool) -> None:
    """Stop pressed, or the asking task cancelled from elsewhere: the text stays, marked."""
    from junis_jupyter.client.types import ChatResult
    conv = asked()
    conv.feed("Part")
    if pressed:
        conv.stop()
    conv.answered(ChatResult("Part", SESSION, Usage(1, 1, 2), None, interrupted=True))
    answer = conv.turns[-1]
    assert answer.state is TurnState.STOPPED and answer.text() == "Part"
    assert conv.tokens == Usage() and conv.phase is Phase.IDLE and conv.session_id == SESSION


def test_a_stop_that_lands_after_the_whole_answer_leaves_it_done() -> None:
    from junis_jupyter.client.types import ChatResult
    conv = asked()
    conv.feed("All of it")
    conv.stop()                                     # while the connection closes
    conv.answered(ChatResult("All of it", SESSION, Usage(1, 2, 3), "stop"))
    assert conv.turns[-1].state is TurnState.DONE and conv.tokens == Usage(1, 2, 3)


def test_a_broken_stream_keeps_the_session_it_opened() -> None:
    """The next question continues the session the broken answer was written in."""
    conv = asked()
    conv.feed("alpha")
    conv.fail(errors.StreamError("cut", partial_text="alpha", session_id=SESSION))
    assert conv.session_id == SESSION and conv.turns[-1].session_id == SESSION


@pytest.mark.parametrize("streamed", [False, True])
def test_stop_goes_through_stopping_and_keeps_the_text(streamed: bool) -> None:
    conv = asked()
    if streamed:
        conv.feed("Part of ")
    assert conv.stop() is True
    assert conv.phase is Phase.STOPPING and conv.busy
    conv.feed("it")                                 # arrived before the cancel: kept too
    conv.stopped()
    answer = conv.turns[-1]
    assert answer.state is TurnState.STOPPED and conv.phase is Phase.IDLE
    assert answer.text() == ("Part of it" if streamed else "it")
    assert len(conv.turns) == 2                     # the question stays


def test_a_stopped_answer_is_not_counted() -> None:
    conv = asked()
    conv.feed("x", usage=Usage(1, 2, 3))
    conv.stop()
    conv.stopped()
    assert conv.tokens == Usage()


def test_stop_with_nothing_in_flight_does_nothing() -> None:
    conv = Conversation()
    assert conv.stop() is False and conv.phase is Phase.IDLE
    conv = asked()
    conv.stop()
    assert conv.stop() is False and conv.phase is Phase.STOPPING   # asked once is enough


def test_release_ends_a_send_that_never_began() -> None:
    conv = Conversation()
    conv.reserve()
    conv.stop()
    conv.release()
    assert conv.phase is Phase.IDLE and conv.turns == []
    conv = asked()
    conv.release()                                  # it did begin: release leaves it alone
    assert conv.phase is Phase.SENDING


def test_stopped_before_the_question_was_asked_goes_idle() -> None:
    conv = Conversation()
    conv.reserve()
    conv.stop()
    conv.stopped()
    assert conv.phase is Phase.IDLE and conv.turns == []


def test_a_failure_keeps_the_partial_text_marked_failed() -> None:
    conv = asked()
    conv.feed("Half an ans")
    error = errors.APIConnectionError("reset")
    assert conv.fail(error) is False                # nothing to give back: the text stays
    answer = conv.turns[-1]
    assert answer.state is TurnState.FAILED and answer.text() == "Half an ans"
    assert conv.phase is Phase.FAILED and not conv.busy and conv.error is error


def test_a_broken_streams_own_partial_text_replaces_what_was_collected() -> None:
    """The error records all that arrived, pieces not yet fed included: kept once, not twice."""
    conv = asked()
    conv.feed("alpha ")
    conv.fail(errors.StreamError("cut", partial_text="alpha bravo"))
    assert conv.turns[-1].text() == "alpha bravo" and conv.turns[-1].state is TurnState.FAILED


def test_a_failure_before_any_text_takes_the_exchange_out() -> None:
    conv = Conversation()
    conv.reserve()
    conv.ask("first", None, NOW)
    conv.feed("done")
    conv.finish()
    conv.reserve()
    conv.ask("second", None, NOW)
    assert conv.fail(errors.AuthenticationError("no", status=401)) is True   # give it back
    assert [t.text() for t in conv.turns] == ["first", "done"] and conv.live is None
    assert conv.phase is Phase.FAILED


def test_after_a_failure_the_next_question_can_be_sent() -> None:
    conv = asked()
    conv.fail(errors.ServerError("boom", status=500))
    conv.reserve()
    assert conv.phase is Phase.SENDING and conv.error is None


@pytest.mark.parametrize("end", ["finish", "stopped", "fail"])
def test_an_exchange_ends_only_once(end: str) -> None:
    conv = asked()
    {"finish": conv.finish, "stopped": conv.stopped,
     "fail": lambda: conv.fail(errors.JunisError("x"))}[end]()
    with pytest.raises(LifecycleError):
        conv.finish()


def test_the_phases_of_one_exchange_in_order() -> None:
    seen: list[Phase] = []
    conv = Conversation(on_change=lambda: seen.append(conv.phase))
    conv.reserve()
    conv.ask("q", None, NOW)
    conv.feed("a")
    conv.feed("b")
    conv.finish(Usage(1, 1, 2))
    assert [p for i, p in enumerate(seen) if i == 0 or p is not seen[i - 1]] == [
        Phase.SENDING, Phase.STREAMING, Phase.IDLE]


def test_on_change_fires_for_what_others_watch_not_for_every_piece() -> None:
    calls: list[str] = []
    conv = Conversation(on_change=lambda: calls.append(conv.phase.value))
    conv.reserve()                                  # phase
    conv.ask("q", None, NOW)                        # turns only
    conv.feed("a", session_id=SESSION)              # session, then phase
    conv.feed("b")                                  # text only
    conv.note_rate_limit(RateLimitInfo(limit=60, remaining=59))
    conv.note_rate_limit(RateLimitInfo(limit=60, remaining=59))    # the same reading
    assert calls == ["sending", "sending", "streaming", "streaming"]


def test_new_chat_forgets_the_session_and_abandons_an_exchange_still_ending() -> None:
    conv = asked()
    conv.feed("part", session_id=SESSION)
    conv.stop()
    conv.start_new()
    assert conv.turns == [] and conv.session_id is None and conv.live is None
    assert conv.phase is Phase.STOPPING             # the request has not ended yet
    conv.feed("late", session_id="00000000-0000-4000-8000-000000000002")
    assert conv.session_id is None                  # the abandoned exchange adopts nothing
    conv.stopped()
    assert conv.phase is Phase.IDLE and conv.turns == []


def test_new_chat_after_a_failure_is_idle() -> None:
    conv = asked()
    conv.fail(errors.ServerError("boom", status=500))
    conv.start_new()
    assert conv.phase is Phase.IDLE and conv.error is None


def test_loading_a_session_replaces_the_turns_unless_it_moved_on() -> None:
    history = [Message(session_id=SESSION, position=0, id="m0", role="user", content="Q",
                       created_at=None),
               Message(session_id=SESSION, position=1, id="m1", role="assistant", content="A",
                       created_at=NOW, agent_name="Research", usage=Usage(1, 2, 3))]
    conv = Conversation()
    conv.open(SESSION)
    assert conv.session_id == SESSION and conv.turns == []
    assert conv.load(SESSION, history, NOW) is True
    assert [(t.role, t.text(), t.message_id, t.state) for t in conv.turns] == [
        ("user", "Q", "m0", TurnState.DONE), ("assistant", "A", "m1", TurnState.DONE)]
    assert conv.turns[0].created_at == NOW          # no time stored: the time it was seen
    assert conv.turns[1].agent_name == "Research"
    assert conv.tokens == Usage()                   # history is not this panel's spending
    conv.start_new()
    assert conv.load(SESSION, history, NOW) is False and conv.turns == []


def test_rate_limit_keeps_only_readings_that_say_what_is_left() -> None:
    conv = Conversation()
    conv.note_rate_limit(None)
    conv.note_rate_limit(RateLimitInfo(limit=60))   # no remaining: says nothing
    assert conv.rate_limit is None
    reading = RateLimitInfo(limit=60, remaining=41, reset=1_000.0)
    conv.note_rate_limit(reading)
    conv.note_rate_limit(RateLimitInfo())
    assert conv.rate_limit is reading


def test_messages_are_the_frame_rows_with_positions_per_session() -> None:
    conv = Conversation()
    conv.reserve()
    conv.ask("one", "Research", NOW)
    conv.feed("first answer", session_id=SESSION)
    conv.finish(Usage(3, 4, 7))
    rows = conv.messages()
    assert [(m.session_id, m.position, m.role, m.content) for m in rows] == [
        (SESSION, 0, "user", "one"), (SESSION, 1, "assistant", "first answer")]
    assert rows[1].agent_name == "Research" and rows[1].usage == Usage(3, 4, 7)
    assert rows[0].usage is None and rows[0].id is None and rows[0].created_at == NOW


def test_turns_are_themselves_and_their_state_reads_as_the_page_shows_it() -> None:
    a, b = Turn("user", "same", NOW), Turn("user", "same", NOW)
    assert a != b and len({a, b}) == 2              # two equal texts are still two turns
    assert TurnState.STOPPED == "stopped" and str(TurnState.FAILED) == "failed"


def test_the_model_needs_no_widgets_and_no_event_loop() -> None:
    import ast
    import subprocess
    import sys
    from junis_jupyter.notebook.panel import conversation
    code = ("import sys; import junis_jupyter.notebook.panel.conversation; "
            "print(sorted(m for m in ('ipywidgets', 'IPython', 'traitlets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    tree = ast.parse(open(conversation.__file__, encoding="utf-8").read())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in imported if m.split(".")[0] in ("asyncio", "threading")}, imported


# -- edit and retry -------------------------------------------------------------------------

def test_recall_gives_the_last_question_sent_and_moves_nothing() -> None:
    conv = Conversation()
    assert conv.recall() == ""
    conv = asked("first question")
    conv.feed("an answer")
    conv.finish()
    assert conv.recall() == "first question" and conv.phase is Phase.IDLE


def test_retry_reserves_and_gives_the_last_question_for_the_same_path() -> None:
    conv = asked("what is 6 x 7?")
    conv.feed("41")
    conv.finish()
    text = conv.retry()
    assert text == "what is 6 x 7?" and conv.phase is Phase.SENDING and conv.busy
    conv.ask(text, "Orchestrator", NOW)                 # then exactly as any question
    conv.feed("42")
    conv.finish()
    assert [t.text() for t in conv.turns] == ["what is 6 x 7?", "41", "what is 6 x 7?", "42"]
    assert conv.phase is Phase.IDLE


def test_retry_is_refused_while_busy_or_before_any_question() -> None:
    with pytest.raises(LifecycleError, match="nothing to retry"):
        Conversation().retry()
    conv = asked("q")
    with pytest.raises(LifecycleError, match="cannot retry while sending"):
        conv.retry()


def test_retry_after_a_failure_that_kept_nothing_asks_the_same_question() -> None:
    conv = asked("flaky question")
    assert conv.fail(errors.ServerError("boom")) is True          # nothing arrived: taken out
    assert conv.turns == [] and conv.phase is Phase.FAILED
    assert conv.retry() == "flaky question" and conv.phase is Phase.SENDING


def test_a_new_session_forgets_the_last_question_and_a_loaded_one_offers_its_own() -> None:
    conv = asked("old")
    conv.finish()
    conv.start_new()
    assert conv.recall() == ""
    conv.open(SESSION)
    conv.load(SESSION, [Message(session_id=SESSION, position=0, id="m1", role="user",
                                content="from history", created_at=NOW),
                        Message(session_id=SESSION, position=1, id="m2", role="assistant",
                                content="answer", created_at=NOW)], NOW)
    assert conv.recall() == "from history"
    assert conv.pairs() == [("user", "from history", None), ("assistant", "answer", None)]
