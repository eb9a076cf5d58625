"""ChatPanel: the chat's widgets and their wiring to a `Conversation`, the outer of the panel's
three layers (as Panel's chat has message, feed and interface): a turn's HTML is `html.py` and a
streaming answer `live.py`; the conversation drawn is `feed.ChatFeed`; this is the interface.

The panel holds no lifecycle of its own: the `Conversation` says what phase it is in, which turns
there are, the session and the token totals; the panel moves it on from widget events and from
the answer, which it asks through the one answer pipeline (`data.pipeline.AnswerPipeline`, the
feed as its view), and mirrors what others may watch into traitlets (`session_id`, `busy`,
`phase`, `tokens`, `rate_limit`, `agent`). Its work runs on one event loop (`loop.py`), through
whatever client it was given (`client.py`); the buttons are a table (`buttons.py`); the dropdowns
`pickers.py`; code blocks `code.py`; exports `export.py`; the side area `side.py`.
"""
from __future__ import annotations

import asyncio
import math
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import ipywidgets as w
from traitlets import Bool, Instance, Unicode, UseEnum

from ... import config
from ...client.types import Agent, ChatResult, RateLimitInfo, Usage
from ...data.prompt import check_prompt
from ...errors import ConfigurationError
from .asking import Asker
from .buttons import Buttons, ButtonSpec
from .client import PanelClient, remaining_rate_limit
from .code import code_blocks
from .conversation import Conversation, Phase, Turn
from .export import turns_to_frame, turns_to_markdown, turns_to_notebook
from .feed import ChatFeed
from .html import CSS, GONE, KEYS_JS, RECALL_MARK, SUBMIT_MARK, footer_html
from .inputbox import QuestionBox
from .loop import Home, TaskSet, wait_for
from .notice import Notice
from .pickers import Pickers
from .side import open_beside

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ChatPanel", "SUBMIT_MARK"]

_STILL_STREAMING = "An answer is still streaming: wait for it or press Stop."
_NO_LOOP = "No running event loop here: use `await panel.send_async(...)`."
_NOTHING_YET = "Nothing to retry yet: ask a question first."


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _checked_agent(update_hz: float, max_prompt_chars: int, recent_sessions: int,
                   agent: str | Agent | None) -> str | None:
    """The options checked before any widget exists (0 would divide by zero, a negative or
    infinite rate would silently turn the redraw throttle off); the agent as a name or id."""
    if not (isinstance(update_hz, (int, float)) and 0 < update_hz < math.inf):
        raise ValueError(f"update_hz must be > 0 (redraws per second), not {update_hz!r}.")
    if not (isinstance(max_prompt_chars, int) and max_prompt_chars > 0):
        raise ValueError(f"max_prompt_chars must be a whole number > 0, not {max_prompt_chars!r}.")
    if not (isinstance(recent_sessions, int) and recent_sessions >= 0):
        raise ValueError(f"recent_sessions must be a whole number >= 0, not {recent_sessions!r}.")
    if isinstance(agent, Agent):          # what client.agents() returns
        return agent.id
    if agent is not None and not isinstance(agent, str):
        raise TypeError(f"agent must be an agent's name or id, or an Agent, not "
                        f"{type(agent).__name__}.")
    return agent


def _masked(text: str) -> str:
    """A key typed into a question, masked before it is kept, shown or sent, as the magic does."""
    return config.scrub_keys(text, config.current_key())


def _close_tree(widget: w.Widget) -> None:
    """Close a widget and everything inside it (`close()` alone leaves the children open)."""
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    widget.close()


class ChatPanel(w.VBox):
    """A chat with Junis agents in a notebook: pickers, conversation, input, Stop, token footer."""

    session_id = Unicode(None, allow_none=True, read_only=True,
                         help="The current session; None until the first answer opens one.")
    busy = Bool(False, read_only=True, help="An answer is being sent, streamed or stopped.")
    phase = UseEnum(Phase, default_value=Phase.IDLE, read_only=True)
    tokens = Instance(Usage, args=(), read_only=True, help="Tokens used by this panel's answers.")
    rate_limit = Instance(RateLimitInfo, allow_none=True, read_only=True,
                          help="The last rate-limit reading that said what is left.")
    agent = Unicode(None, allow_none=True, read_only=True,
                    help="Selected agent id (None: the Orchestrator, through "
                         "/v1/chat/completions).")

    def __init__(self, client: Any = None, agent: str | Agent | None = None, *,
                 update_hz: float = 12.0, recent_sessions: int = 20,
                 max_prompt_chars: int = 100_000) -> None:
        wanted_agent = _checked_agent(update_hz, max_prompt_chars, recent_sessions, agent)
        self.max_prompt_chars = max_prompt_chars
        self.conversation = Conversation(on_change=self._sync)
        self._recent = recent_sessions
        self._client = PanelClient(client)
        self.notice = Notice(self._client)
        self._loads = TaskSet()                       # pickers and histories being fetched
        self._side: Any = None                        # the Sidecar it was shown in, if any
        self._home = Home(report=self.notice.error)
        guard = self._home.guard

        self.chat_feed = ChatFeed(self.conversation, 1.0 / update_hz)
        self.history, self.live = self.chat_feed.history, self.chat_feed.live
        self.transcript, self.conversation_box = self.chat_feed.transcript, self.chat_feed.box
        self._pickers = Pickers(wanted_agent)
        self.agent_picker = self._pickers.agent
        self.session_picker = self._pickers.session
        for picker in (self.agent_picker, self.session_picker):
            picker.layout.width = "auto"
            picker.add_class("junis-picker")
        self.buttons = Buttons(self.conversation, guard(self._press))
        self.new_button, self.send_button, self.stop_button, self.retry_button, \
            self.edit_button = (self.buttons.by_name[name]
                                for name in ("new", "send", "stop", "retry", "edit"))
        self.input = QuestionBox()
        self.footer = w.HTML(footer_html(Usage(), None))
        pickers_row = w.HBox([self.agent_picker, self.session_picker, self.new_button])
        buttons = w.HBox([self.send_button, self.stop_button, self.retry_button, self.edit_button])
        for row in (pickers_row, buttons):
            row.add_class("junis-row")
        buttons.add_class("junis-buttons")
        super().__init__([w.HTML(CSS + GONE), pickers_row, self.conversation_box, self.notice,
                          self.input, buttons, self.footer], layout=w.Layout(width="100%"))
        self.add_class("junis-chat-panel")
        self._asker = Asker(self.conversation, self.chat_feed, self._home, self._client,
                            self._pickers, self.notice, loads=self._loads,
                            give_back=self.input.give_back)

        self.input.observe(guard(self._on_input), names="value")
        self.agent_picker.observe(lambda ch: self.set_trait("agent", ch["new"] or None),
                                  names="value")
        self.agent_picker.observe(guard(self._on_agent), names="value")
        self.session_picker.observe(guard(self._on_session), names="value")
        # no loop (a script): `await panel.refresh()`
        self._loads.add(self._home.spawn(self.refresh()))

    # -- display ------------------------------------------------------------------------------

    def _ipython_display_(self) -> None:
        """The widget plus the small key hook that makes Enter send (Shift+Enter: a new line)."""
        from IPython.display import Javascript, display
        display(Javascript(KEYS_JS))
        display(self._repr_mimebundle_(), raw=True)

    def show(self, side: bool = False, *, anchor: str = "right", title: str = "Junis") -> Any:
        """Show the panel: in the cell's output, or (`side=True`) in JupyterLab's side area
        through `sidecar`, where it stays while the notebook scrolls and runs cells. Where there
        is no side area it opens inline, with one line saying why. Returns the Sidecar, if any."""
        if not side:
            self._ipython_display_()
            return None
        self._side = open_beside(self, KEYS_JS, anchor=anchor, title=title)
        return self._side

    # -- public actions -----------------------------------------------------------------------

    @property
    def turns(self) -> list[Turn]:
        return self.conversation.turns

    def send(self, text: str | None = None) -> asyncio.Task[Any] | None:
        """Send the input box's text (or `text`) as a task on the running loop; returns the task."""
        from_box = text is None
        text = self.input.question() if text is None else text.replace(SUBMIT_MARK, "")
        if not text.strip() or self._too_long(text) or self._still_streaming():
            if from_box:                          # kept in the box (the mark taken out)
                self.input.put(text)
            return None
        task = self._asker.start(_masked(text))
        if task is None:
            self.notice.say(_NO_LOOP, "info")
        elif from_box:
            self.input.put("")
        return task

    async def send_async(self, text: str) -> ChatResult | None:
        """Ask `text` and stream the answer into the conversation; returns its `ChatResult`
        (None when it was stopped or failed).

        Errors are shown in the panel and not raised: the panel is for people, and its state
        (input box, pickers) stays usable after any failure.
        """
        text = text.replace(SUBMIT_MARK, "")
        if not text.strip():
            self.notice.say("Nothing to ask: write a question first.", "info")
            return None
        if self._too_long(text) or self._still_streaming():
            return None
        task = self._asker.start(_masked(text))
        assert task is not None                   # a coroutine runs: there is a loop
        try:
            await asyncio.wait([task])            # Stop cancels the answer, not the caller
        except asyncio.CancelledError:
            task.cancel()                         # the caller was cancelled: so is the answer
            raise
        return None if task.cancelled() else task.result()

    def stop(self) -> None:
        """Cancel the streaming answer now; the part that arrived stays, marked as stopped."""
        self._home.call(self._asker.stop)

    def new_chat(self) -> None:
        """Forget the current session: the next question opens a new one."""
        self.stop()
        self.conversation.start_new()
        self.notice.say("")
        self.chat_feed.draw()

    async def wait(self) -> None:
        """Until every answer and every loading the panel started has finished (those started
        meanwhile too: picking a session while the pickers load waits for both)."""
        await wait_for(self._loads, self._asker.answers)

    async def refresh(self) -> None:
        """Load the agent and session pickers (errors become a notice; the Orchestrator stays)."""
        try:
            client = self._client.get()
        except Exception as exc:
            self.notice.error(exc)
            return
        problems = await self._pickers.load(client, self.notice.advice, recent=self._recent,
                                            session_id=self.conversation.session_id)
        if problems:
            self.notice.say(problems, "error")
        self.conversation.note_rate_limit(remaining_rate_limit(client))

    async def load_session(self, session_id: str) -> None:
        """Show a past session's history and continue it."""
        self._open(session_id)
        await self._fetch(session_id)

    def retry(self) -> asyncio.Task[Any] | None:
        """Ask the last question again, through the same streaming path as Send (the earlier
        answer stays above: the session on the server holds it too); returns the task."""
        if self._still_streaming():
            return None
        if not self.conversation.recall():
            self.notice.say(_NOTHING_YET, "info")
            return None
        task = self._asker.start(self.conversation.recall(), retry=True)
        if task is None:
            self.notice.say(_NO_LOOP, "info")
        return task

    def edit(self) -> None:
        """Put the last question back in the input box, to be edited and sent (what Up in an
        empty box does); what is being typed there is kept if the box is not empty."""
        last = self.conversation.recall()
        if not last:
            self.notice.say(_NOTHING_YET, "info")
        else:
            self.input.recall(last)

    def code_blocks(self) -> list[tuple[str, str]]:
        """(language, code) of every fenced code block in the answers, in order."""
        return [block for t in self.turns if t.role != "user" for block in code_blocks(t.text())]

    def to_markdown(self) -> str:
        """The conversation as Markdown: a heading per turn (You, the agent), then its text."""
        return turns_to_markdown(self.conversation.pairs())

    def to_notebook(self, path: str) -> None:
        """Write the conversation as a notebook: a Markdown cell per turn, and a code cell (not
        executed) under an answer for each of its code blocks."""
        turns_to_notebook(self.conversation.pairs(), path)

    def to_frame(self) -> pd.DataFrame:
        """The conversation as a messages frame (the schema of `junis_jupyter.frames`)."""
        return turns_to_frame(self.conversation.messages())

    def transcript_html(self) -> str:
        """The conversation's HTML as the page shows it, as one string (the turns of the last
        full redraw, then each exchange since, its answer's pieces joined)."""
        return self.chat_feed.html()

    async def aclose(self) -> None:
        """Stop any answer, close the client if the panel made it, and close the widgets (and
        the side area's tab it was shown in, which would stay empty)."""
        self.stop()
        await self.wait()
        await self._client.aclose()
        _close_tree(self)
        if self._side is not None:
            self._side.close()
        self.live.close()                           # lent to answers: maybe in no tree now

    # -- sessions -----------------------------------------------------------------------------

    def _open(self, session_id: str | None) -> None:
        self.stop()
        self.conversation.open(session_id)
        self.chat_feed.draw()

    async def _fetch(self, session_id: str) -> None:
        try:
            messages = await self._client.get().messages(session_id)
        except Exception as exc:
            self.notice.error(exc)
            return
        if self.conversation.load(session_id, messages, _now()):   # else: the user moved on
            self.notice.say("")
            self.chat_feed.draw()

    # -- widget events ------------------------------------------------------------------------

    def _on_input(self, change: dict[str, Any]) -> None:
        if SUBMIT_MARK in change["new"]:
            self.send()
        elif RECALL_MARK in change["new"]:
            self.input.recall(self.conversation.recall())

    def _press(self, spec: ButtonSpec) -> None:
        getattr(self, spec.action)()

    def _on_agent(self, change: dict[str, Any]) -> None:
        if not self._pickers.quiet:
            self.notice.say(f"Next question goes to {self._pickers.agent_label()}.", "info")

    def _on_session(self, change: dict[str, Any]) -> None:
        if self._pickers.quiet:
            return
        if not change["new"]:
            self.new_chat()
            return
        self._open(change["new"])    # now, so a New chat right after it wins over the fetch
        self._loads.add(self._home.spawn(self._fetch(change["new"])))

    # -- the model, mirrored and drawn --------------------------------------------------------

    def _sync(self) -> None:
        """The conversation changed: its watched state into the traitlets, buttons, footer."""
        conv = self.conversation
        moved = conv.session_id != self.session_id
        self.set_trait("phase", conv.phase)
        self.set_trait("busy", conv.busy)
        self.set_trait("tokens", conv.tokens)
        self.set_trait("rate_limit", conv.rate_limit)
        self.set_trait("session_id", conv.session_id)
        self.buttons.enable()
        self.footer.value = footer_html(conv.tokens, conv.rate_limit)
        if moved:
            self._pickers.show_session(conv.session_id)

    # -- small helpers ------------------------------------------------------------------------

    def _too_long(self, text: str) -> bool:
        """Refused (with a notice) before any request: the magic's cap, worded once."""
        try:
            check_prompt(text, self.max_prompt_chars, "ChatPanel(max_prompt_chars=...)")
        except ConfigurationError as exc:
            self.notice.error(exc)
            return True
        return False

    def _still_streaming(self) -> bool:
        if self.conversation.busy:
            self.notice.say(_STILL_STREAMING, "info")
            return True
        return False
