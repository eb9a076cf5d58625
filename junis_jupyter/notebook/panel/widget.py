"""ChatPanel: the widgets of a chat beside the notebook, wired to a `Conversation`.

The panel holds no lifecycle of its own: the `Conversation` says what phase it is in, which turns
there are, the session and the token totals; the panel moves it on from widget events and from the
stream, draws what it holds (`html.py`), and mirrors what others may watch into traitlets
(`session_id`, `busy`, `phase`, `tokens`, `rate_limit`, `agent`). Its work runs on one event loop
(`loop.py`), through whatever client it was given (`client.py`); the dropdowns are `pickers.py`.
"""
from __future__ import annotations

import asyncio
import math
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import ipywidgets as w
from traitlets import Bool, Instance, Unicode, UseEnum

from ...advice import Surface, advise
from ...client.types import Agent, ChatResult, RateLimitInfo, Usage
from ...errors import ConfigurationError
from ..markdown import valid_unicode
from ..prompt import check_prompt
from .client import async_client, close_quietly, open_stream, rate_limit_of
from .conversation import Conversation, Phase, Turn
from .html import CSS, EMPTY, KEYS_JS, SUBMIT_MARK, TurnHtml, footer_html, notice_html
from .loop import Home, TaskSet, Throttle, wait_for
from .pickers import Pickers

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ChatPanel", "SUBMIT_MARK"]

_STILL_STREAMING = "An answer is still streaming: wait for it or press Stop."
_NO_LOOP = "No running event loop here: use `await panel.send_async(...)`."


def _now() -> datetime:
    return datetime.now(timezone.utc)


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
                    help="Selected agent id (None: the Orchestrator, through /v1/chat/completions).")

    def __init__(self, client: Any = None, agent: str | Agent | None = None, *,
                 update_hz: float = 12.0, recent_sessions: int = 20,
                 max_prompt_chars: int = 100_000) -> None:
        # Checked before any widget exists: 0 would divide by zero, a negative or infinite rate
        # would silently turn the redraw throttle off.
        if not (isinstance(update_hz, (int, float)) and 0 < update_hz < math.inf):
            raise ValueError(f"update_hz must be > 0 (redraws per second), not {update_hz!r}.")
        if not (isinstance(max_prompt_chars, int) and max_prompt_chars > 0):
            raise ValueError(f"max_prompt_chars must be a whole number > 0, not {max_prompt_chars!r}.")
        if not (isinstance(recent_sessions, int) and recent_sessions >= 0):
            raise ValueError(f"recent_sessions must be a whole number >= 0, not {recent_sessions!r}.")
        if isinstance(agent, Agent):          # what client.agents() returns
            agent = agent.id
        if agent is not None and not isinstance(agent, str):
            raise TypeError(f"agent must be an agent's name or id, or an Agent, not "
                            f"{type(agent).__name__}.")
        self.max_prompt_chars = max_prompt_chars
        self.conversation = Conversation(on_change=self._sync)
        self._client_arg = client
        self._client: Any = None
        self._owns_client = False
        self._wanted_agent = agent
        self._recent = recent_sessions
        self._task: asyncio.Task[Any] | None = None   # the answer Stop would cancel
        self._loads = TaskSet()                       # pickers and histories being fetched
        self._answers = TaskSet()
        self._html = TurnHtml()
        self._home = Home(report=lambda exc: self._show(self._advice(exc), "error"))
        self._throttle = Throttle(self._draw_live, 1.0 / update_hz)

        self._pickers = Pickers()
        self.agent_picker = self._pickers.agent
        self.session_picker = self._pickers.session
        self.new_button = w.Button(description="New chat", icon="plus",
                                   layout=w.Layout(width="auto"))
        # Finished turns and the streaming exchange are two widgets, so a streaming update sends
        # one answer, not the whole conversation. The outer box scrolls; "column-reverse" around
        # its single child keeps it pinned to the newest text as it grows, with no script.
        self.history = w.HTML(EMPTY)
        self.live = w.HTML("")
        turns = w.VBox([self.history, self.live], layout=w.Layout(flex="0 0 auto"))  # never shrunk
        self.conversation_box = w.Box([turns], layout=w.Layout(
            display="flex", flex_flow="column-reverse", max_height="460px", overflow="auto"))
        self.conversation_box.add_class("junis-chat-conversation")
        self.notice = w.HTML("")
        self.input = w.Textarea(placeholder="Ask… (Enter sends, Shift+Enter adds a line)",
                                rows=3, continuous_update=True,
                                layout=w.Layout(width="100%", flex="1 1 auto"))
        self.input.add_class("junis-chat-input")
        self.send_button = w.Button(description="Send", button_style="primary", icon="paper-plane",
                                    layout=w.Layout(width="96px"))
        self.stop_button = w.Button(description="Stop", button_style="warning", icon="stop",
                                    disabled=True, layout=w.Layout(width="96px"))
        self.footer = w.HTML(footer_html(Usage(), None))
        for name, button in (("junis-send", self.send_button), ("junis-stop", self.stop_button),
                             ("junis-new", self.new_button)):
            button.add_class(name)

        super().__init__([
            w.HTML(CSS),
            w.HBox([self.agent_picker, self.session_picker, self.new_button]),
            self.conversation_box,
            self.notice,
            w.HBox([self.input, w.VBox([self.send_button, self.stop_button])],
                   layout=w.Layout(width="100%")),
            self.footer,
        ])
        self.add_class("junis-chat-panel")

        guard = self._home.guard
        self.send_button.on_click(guard(lambda _: self.send()))
        self.stop_button.on_click(guard(lambda _: self.stop()))
        self.new_button.on_click(guard(lambda _: self.new_chat()))
        self.input.observe(guard(self._on_input), names="value")
        self.agent_picker.observe(lambda ch: self.set_trait("agent", ch["new"] or None),
                                  names="value")
        self.agent_picker.observe(guard(self._on_agent), names="value")
        self.session_picker.observe(guard(self._on_session), names="value")
        self._loads.add(self._home.spawn(self.refresh()))  # no loop (a script): `await panel.refresh()`

    # -- display ------------------------------------------------------------------------------

    def _ipython_display_(self) -> None:
        """The widget plus the small key hook that makes Enter send (Shift+Enter: a new line)."""
        from IPython.display import Javascript, display
        display(Javascript(KEYS_JS))
        display(self._repr_mimebundle_(), raw=True)

    # -- public actions -----------------------------------------------------------------------

    @property
    def turns(self) -> list[Turn]:
        return self.conversation.turns

    def send(self, text: str | None = None) -> asyncio.Task[Any] | None:
        """Send the input box's text (or `text`) as a task on the running loop; returns the task."""
        from_box = text is None
        text = (self.input.value if from_box else text).replace(SUBMIT_MARK, "")
        if not text.strip() or self._too_long(text) or self._still_streaming():
            if from_box:                          # kept in the box (the mark taken out)
                self._set_input(text)
            return None
        task = self._start(text)
        if task is None:
            self._show(_NO_LOOP, "info")
        elif from_box:
            self._set_input("")
        return task

    async def send_async(self, text: str) -> ChatResult | None:
        """Ask `text` and stream the answer into the conversation; returns the stream's result.

        Errors are shown in the panel and not raised: the panel is for people, and its state
        (input box, pickers) stays usable after any failure.
        """
        text = text.replace(SUBMIT_MARK, "")
        if not text.strip():
            self._show("Nothing to ask: write a question first.", "info")
            return None
        if self._too_long(text) or self._still_streaming():
            return None
        task = self._start(text)
        assert task is not None                   # a coroutine runs: there is a loop
        try:
            await asyncio.wait([task])            # Stop cancels the answer, not the caller
        except asyncio.CancelledError:
            task.cancel()                         # the caller was cancelled: so is the answer
            raise
        return None if task.cancelled() else task.result()

    def stop(self) -> None:
        """Cancel the streaming answer now; the part that arrived stays, marked as stopped."""
        self._home.call(self._stop_here)

    def new_chat(self) -> None:
        """Forget the current session: the next question opens a new one."""
        self.stop()
        self.conversation.start_new()
        self._show("")
        self._draw()

    async def wait(self) -> None:
        """Until every answer and every loading the panel started has finished (those started
        meanwhile too: picking a session while the pickers load waits for both)."""
        await wait_for(self._loads, self._answers)

    async def refresh(self) -> None:
        """Load the agent and session pickers (errors become a notice; the Orchestrator stays)."""
        try:
            client = self._get_client()
        except Exception as exc:
            self._show(self._advice(exc), "error")
            return
        problems = []
        try:
            agents = await client.agents()
        except Exception as exc:
            problems.append(f"Agents could not be listed: {self._advice(exc)}")
        else:
            self._pickers.set_agents(agents)
            if self._wanted_agent is not None:
                refused = self._pickers.select_agent(self._wanted_agent, agents)
                if refused:
                    self._show(refused, "error")
                self._wanted_agent = None          # once: a later refresh keeps the user's pick
        try:
            sessions = await client.sessions()
        except Exception as exc:
            problems.append(f"Sessions could not be listed: {self._advice(exc)}")
        else:
            self._pickers.set_sessions(list(sessions)[: self._recent], self.conversation.session_id)
        if problems:
            self._show(" ".join(problems), "error")
        self.conversation.note_rate_limit(rate_limit_of(client))

    async def load_session(self, session_id: str) -> None:
        """Show a past session's history and continue it."""
        self._open(session_id)
        await self._fetch(session_id)

    def to_frame(self) -> pd.DataFrame:
        """The conversation as a messages frame (the schema of `junis_jupyter.frames`)."""
        from ...data.frames import messages_from_objects
        return messages_from_objects(self.conversation.messages())

    def transcript_html(self) -> str:
        """The conversation's HTML as the page shows it (finished turns, then the live ones)."""
        return self.history.value + self.live.value

    async def aclose(self) -> None:
        """Stop any answer, close the client if the panel made it, and close the widgets."""
        self.stop()
        await self.wait()
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None
        _close_tree(self)

    # -- one exchange -------------------------------------------------------------------------

    def _start(self, text: str) -> asyncio.Task[Any] | None:
        """The exchange as a task on the home loop, the conversation sending from this moment
        (so Stop is live before the first byte); None when no loop runs here."""
        task = self._home.spawn(self._exchange(text))
        if task is None:
            return None
        self.conversation.reserve()
        self._task = task
        self._answers.add(task)
        task.add_done_callback(lambda t: self._never_ran(t, text))
        return task

    def _never_ran(self, task: asyncio.Task[Any], text: str) -> None:
        """Stop came before the task even started: nothing in it settled the conversation."""
        if self._task is task:
            self._task = None
            self.conversation.release()
            self._give_back(text)

    async def _exchange(self, text: str) -> ChatResult | None:
        conv = self.conversation
        exchange = stream = None
        try:
            await wait_for(self._loads)        # pickers (or a picked session) first, then the question
            exchange = conv.ask(text, self._pickers.agent_label(), _now())
            self._show("")
            self._draw()
            stream = await open_stream(self._get_client(), text, conv.session_id, self.agent)
            async for chunk in stream:
                conv.feed(chunk.text, chunk.session_id, chunk.usage)
                if chunk.text:
                    self._throttle.request()
            conv.finish(getattr(stream, "usage", None))
            return getattr(stream, "result", None)
        except asyncio.CancelledError:
            ours = conv.phase is Phase.STOPPING
            conv.stopped()
            if exchange is None:
                self._give_back(text)
            if not ours:
                raise
            return None
        except Exception as exc:                   # shown in the panel, never a traceback
            if conv.fail(exc) or exchange is None:
                self._give_back(text)
            self._show(self._advice(exc), "error")
            return None
        finally:
            if self._task is asyncio.current_task():
                self._task = None
            self._throttle.cancel()
            conv.note_rate_limit(rate_limit_of(stream, self._client))
            self._draw()
            if stream is not None:                 # last: a Stop landing here changes nothing
                await close_quietly(stream)

    def _stop_here(self) -> None:
        if self.conversation.stop() and self._task is not None:
            self._task.cancel()

    # -- sessions -----------------------------------------------------------------------------

    def _open(self, session_id: str | None) -> None:
        self.stop()
        self.conversation.open(session_id)
        self._draw()

    async def _fetch(self, session_id: str) -> None:
        try:
            messages = await self._get_client().messages(session_id)
        except Exception as exc:
            self._show(self._advice(exc), "error")
            return
        if self.conversation.load(session_id, messages, _now()):   # else: the user moved on
            self._show("")
            self._draw()

    # -- widget events ------------------------------------------------------------------------

    def _on_input(self, change: dict[str, Any]) -> None:
        if SUBMIT_MARK in change["new"]:
            self.send()

    def _on_agent(self, change: dict[str, Any]) -> None:
        if not self._pickers.quiet:
            self._show(f"Next question goes to {self._pickers.agent_label()}.", "info")

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
        self.stop_button.disabled = not conv.busy
        self.send_button.disabled = conv.busy
        self.footer.value = footer_html(conv.tokens, conv.rate_limit)
        if moved:
            self._pickers.show_session(conv.session_id)

    def _draw(self) -> None:
        """Redraw everything: at the start and end of an answer, and on session changes."""
        conv = self.conversation
        self._html.keep_only(conv.turns)
        live = conv.live.turns if conv.live is not None else ()
        settled = self._html.turns([t for t in conv.turns if t not in live])
        self.history.value = settled or ("" if live else EMPTY)
        self._draw_live()

    def _draw_live(self) -> None:
        live = self.conversation.live
        self.live.value = self._html.turns(live.turns) if live is not None else ""

    def _show(self, message: str, kind: str = "info") -> None:
        self.notice.value = notice_html(message, kind)

    # -- small helpers ------------------------------------------------------------------------

    def _get_client(self) -> Any:
        if self._client is None:
            self._client, self._owns_client = async_client(self._client_arg)
        return self._client

    def _advice(self, exc: BaseException) -> str:
        return advise(exc, Surface.PANEL, base_url=getattr(self._client, "base_url", None))

    def _too_long(self, text: str) -> bool:
        """Refused (with a notice) before any request: the magic's cap, worded once."""
        try:
            check_prompt(text, self.max_prompt_chars, "ChatPanel(max_prompt_chars=...)")
        except ConfigurationError as exc:
            self._show(self._advice(exc), "error")
            return True
        return False

    def _still_streaming(self) -> bool:
        if self.conversation.busy:
            self._show(_STILL_STREAMING, "info")
            return True
        return False

    def _give_back(self, text: str) -> None:
        """A question that was not answered goes back to the box, unless the user typed anew."""
        if not self.input.value.strip():
            self._set_input(text)

    def _set_input(self, text: str) -> None:
        self.input.value = valid_unicode(text.replace(SUBMIT_MARK, ""))
