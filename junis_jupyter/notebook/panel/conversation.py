"""The chat panel's conversation as plain data: turns, the exchange in flight, and its lifecycle.

No widgets and no event loop here, so every transition is a method call a unit test can make. The
view (`widget.ChatPanel`) asks the model to move and draws what it then holds; `on_change` tells it
when something others may watch (phase, session, token totals, rate limit) has changed.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import InitVar, dataclass, field
from datetime import datetime

from ...client.textbuffer import TextBuffer
from ...client.types import ChatResult, Message, RateLimitInfo, Usage
from ...errors import StreamError

__all__ = ["Conversation", "Exchange", "LifecycleError", "Phase", "Turn", "TurnState"]


class Phase(enum.Enum):
    """Where the conversation is. Send is refused, and Stop offered, while it is `busy`."""
    IDLE = "idle"              # nothing in flight
    SENDING = "sending"        # a question accepted; no answer text yet
    STREAMING = "streaming"    # answer text arriving
    STOPPING = "stopping"      # Stop asked for; the request has not ended yet
    FAILED = "failed"          # the last exchange ended in an error (ready for the next one)


BUSY = frozenset({Phase.SENDING, Phase.STREAMING, Phase.STOPPING})


class TurnState(str, enum.Enum):
    """How one turn ended. The value is the `data-state` the page shows (and the old string,
    which it still compares equal to)."""
    STREAMING = "streaming"
    DONE = "done"
    STOPPED = "stopped"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


class LifecycleError(RuntimeError):
    """A transition asked for in a phase that does not allow it (a bug in the caller)."""


@dataclass(eq=False)                  # a turn is itself: two equal texts are still two turns
class Turn:
    """One message of the conversation, loaded from history or streamed here."""
    role: str
    content: InitVar[str]
    created_at: datetime
    session_id: str | None = None
    agent_name: str | None = None
    message_id: str | None = None
    usage: Usage | None = None
    state: TurnState = TurnState.DONE
    buffer: TextBuffer = field(init=False, repr=False)

    def __post_init__(self, content: str) -> None:
        self.buffer = TextBuffer(content)

    def text(self) -> str:
        return self.buffer.text

    @classmethod
    def from_message(cls, m: Message, now: datetime) -> Turn:
        return cls(m.role, m.content, m.created_at or now, m.session_id, m.agent_name, m.id,
                   m.usage)


@dataclass(eq=False)
class Exchange:
    """The question being answered now and its answer (drawn apart from the settled turns)."""
    question: Turn
    answer: Turn

    @property
    def turns(self) -> tuple[Turn, Turn]:
        return self.question, self.answer


class Conversation:
    """Turns, the live exchange, the session, token totals, the last rate-limit reading."""

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self.turns: list[Turn] = []
        self.live: Exchange | None = None
        self.session_id: str | None = None
        self.tokens = Usage()
        self.rate_limit: RateLimitInfo | None = None
        self.phase = Phase.IDLE
        self.error: BaseException | None = None   # what failed the last exchange
        self.last_asked: str | None = None        # the last question sent (Edit, Retry)
        self._on_change = on_change

    @property
    def busy(self) -> bool:
        return self.phase in BUSY

    # -- the exchange lifecycle ---------------------------------------------------------------

    def reserve(self) -> None:
        """Accept a question (idle or failed -> sending): Stop is live from now, before any turn."""
        if self.busy:
            raise LifecycleError(f"cannot send while {self.phase.value}")
        self.error = None
        self._move(Phase.SENDING)

    def ask(self, text: str, agent_name: str | None, now: datetime) -> Exchange:
        """The accepted question and an empty answer join the conversation (still sending)."""
        if self.phase is not Phase.SENDING or self.live is not None:
            raise LifecycleError(f"ask() needs a reserved send, not {self.phase.value}")
        question = Turn("user", text, now, self.session_id)
        answer = Turn("assistant", "", now, self.session_id, agent_name,
                      state=TurnState.STREAMING)
        self.turns += [question, answer]
        self.live = Exchange(question, answer)
        self.last_asked = text
        return self.live

    def recall(self) -> str:
        """The last question sent, to be edited and sent again ("" if none): what Up in an empty
        input box brings back. No move: the edited question is sent as any other."""
        return self.last_asked or ""

    def retry(self) -> str:
        """Ask the last question again (idle or failed -> sending), as `reserve` does; returns
        its text, which then goes through `ask` like any question. The earlier answer stays: the
        session on the server holds it too."""
        if self.busy:
            raise LifecycleError(f"cannot retry while {self.phase.value}")
        if not self.last_asked:
            raise LifecycleError("nothing to retry: no question has been sent")
        text = self.last_asked
        self.reserve()
        return text

    def feed(self, text: str = "", session_id: str | None = None,
             usage: Usage | None = None) -> None:
        """A streamed chunk: its text, the session the server opened, its usage."""
        live = self.live
        if live is None:                 # abandoned (New chat, another session): nothing to show
            return
        if session_id and session_id != self.session_id:
            self.session_id = session_id
            for turn in live.turns:
                turn.session_id = session_id
            self._changed()
        if text:
            live.answer.buffer.append(text)
            if self.phase is Phase.SENDING:
                self._move(Phase.STREAMING)
        if usage is not None:
            live.answer.usage = usage

    def stop(self) -> bool:
        """Ask for a stop (sending or streaming -> stopping); False if there is nothing to stop."""
        if self.phase not in (Phase.SENDING, Phase.STREAMING):
            return False
        self._move(Phase.STOPPING)
        return True

    def finish(self, usage: Usage | None = None) -> None:
        """The stream ended normally: the answer is done and its usage counted."""
        live = self._end()
        if live is not None:
            live.answer.state = TurnState.DONE
            live.answer.usage = usage or live.answer.usage
            if live.answer.usage is not None:
                self.tokens = self.tokens + live.answer.usage
        self._move(Phase.IDLE)

    def answered(self, result: ChatResult) -> None:
        """The answer came back through the pipeline: its session, then done (its usage counted),
        or stopped if the stream was (a stop landing after the whole answer leaves it done)."""
        self.feed(session_id=result.session_id)
        if result.interrupted:
            self.stopped()
        else:
            self.finish(result.usage)

    def stopped(self) -> None:
        """The request ended by Stop: what arrived stays, marked stopped, and is not counted
        (its usage would have come with the end of the stream)."""
        live = self._end()
        if live is not None:
            live.answer.state = TurnState.STOPPED
        self._move(Phase.IDLE)

    def fail(self, error: BaseException) -> bool:
        """The request failed with `error`. A broken stream's own record of all that arrived
        replaces what was collected, so nothing is kept twice. With no text at all the exchange
        is taken out; returns True then, so the view can give the question back."""
        if isinstance(error, StreamError):      # the session it opened goes on
            self.feed(session_id=error.session_id)
        live = self._end()
        self.error = error
        self._move(Phase.FAILED)
        if live is None:
            return False
        text = (error.partial_text if isinstance(error, StreamError) else "") or live.answer.text()
        if text:
            live.answer.buffer = TextBuffer(text)
            live.answer.state = TurnState.FAILED
            return False
        self.turns = [t for t in self.turns if t not in live.turns]
        return True

    def release(self) -> None:
        """A send that ended before it began (stopped while waiting): back to idle."""
        if self.live is None and self.busy:
            self._move(Phase.IDLE)

    def _end(self) -> Exchange | None:
        if not self.busy:
            raise LifecycleError(f"no exchange to end while {self.phase.value}")
        live, self.live = self.live, None
        return live

    # -- sessions -----------------------------------------------------------------------------

    def start_new(self) -> None:
        """Forget the session and its turns; an exchange still ending is abandoned."""
        self.open(None)

    def open(self, session_id: str | None) -> None:
        """Switch to `session_id` (its history to come through `load`)."""
        self.turns = []
        self.live = None
        self.session_id = session_id
        self.last_asked = None
        if self.phase is Phase.FAILED:
            self.phase, self.error = Phase.IDLE, None
        self._changed()

    def load(self, session_id: str, messages: list[Message], now: datetime) -> bool:
        """The history of `session_id`, unless the conversation moved on meanwhile."""
        if self.session_id != session_id:
            return False
        self.turns = [Turn.from_message(m, now) for m in messages]
        asked = [t for t in self.turns if t.role == "user"]
        self.last_asked = asked[-1].text() if asked else None
        return True

    # -- usage and limits ---------------------------------------------------------------------

    def note_rate_limit(self, limit: RateLimitInfo | None) -> None:
        """Keep a reading only if it says how many requests are left."""
        if limit is not None and limit.remaining is not None and limit != self.rate_limit:
            self.rate_limit = limit
            self._changed()

    def pairs(self) -> list[tuple[str, str, str | None]]:
        """(role, text, agent name) of each turn: what the Markdown and notebook exports take."""
        return [(t.role, t.text(), t.agent_name) for t in self.turns]

    def messages(self) -> list[Message]:
        """The turns as `Message`s, positions counted per session: the rows of `to_frame()`."""
        positions: dict[str | None, int] = {}
        found = []
        for turn in self.turns:
            position = positions.get(turn.session_id, 0)
            positions[turn.session_id] = position + 1
            found.append(Message(session_id=turn.session_id, position=position,  # type: ignore[arg-type]
                                 id=turn.message_id, role=turn.role, content=turn.text(),
                                 created_at=turn.created_at, agent_name=turn.agent_name,
                                 usage=turn.usage))
        return found

    def _move(self, phase: Phase) -> None:
        self.phase = phase
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()
