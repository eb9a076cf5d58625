"""ChatPanel: the widgets of a chat beside the notebook, wired to a `Conversation`.

The panel holds no lifecycle of its own: the `Conversation` says what phase it is in, which turns
there are, the session and the token totals; the panel moves it on from widget events and from the
stream, draws what it holds (`html.py`; a streaming answer block by block, `live.py`), and mirrors
what others may watch into traitlets (`session_id`, `busy`, `phase`, `tokens`, `rate_limit`,
`agent`). Its work runs on one event loop (`loop.py`), through whatever client it was given
(`client.py`); the dropdowns are `pickers.py`; code blocks `code.py`; exports `export.py`; the side
area `side.py`.
"""
from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import ipywidgets as w
from traitlets import Bool, Instance, Unicode, UseEnum

from ...advice import Surface, advise
from ...client.types import Agent, ChatResult, RateLimitInfo, Usage
from ...data.prompt import check_prompt
from ...errors import ConfigurationError
from ..markdown import valid_unicode
from .client import async_client, close_quietly, open_stream, rate_limit_of
from .conversation import Conversation, Exchange, Phase, Turn
from .code import code_blocks
from .export import turns_to_markdown, turns_to_notebook
from .html import (CSS, EMPTY, KEYS_JS, RECALL_MARK, SUBMIT_MARK, TurnHtml, answer_html,
                   footer_html, notice_html)
from .live import LiveAnswer, Piece
from .loop import Home, TaskSet, Throttle, wait_for
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


@dataclass(eq=False)
class _ExchangeView:
    """One exchange on the page: its question's HTML and its answer's widgets."""
    exchange: Exchange
    question: w.HTML
    answer: LiveAnswer


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
        # `history` holds the turns there were at the last full redraw (a session loaded, New
        # chat); each exchange then adds its question and its answer after it, and the answer is
        # drawn block by block (live.py): finished blocks are appended once, and only `live`,
        # the block being written, is redrawn. Nothing is re-sent when the answer ends. The outer
        # box scrolls; "column-reverse" around its single child keeps it pinned to the newest
        # text as it grows, with no script.
        self.history = w.HTML(EMPTY)
        self.live = w.HTML("")
        self._views: list[_ExchangeView] = []          # each exchange's widgets after `history`
        self._live_view: LiveAnswer | None = None
        self.transcript = w.VBox([self.history], layout=w.Layout(flex="0 0 auto"))  # never shrunk
        self.conversation_box = w.Box([self.transcript], layout=w.Layout(
            display="flex", flex_flow="column-reverse", max_height="460px", overflow="auto"))
        self.conversation_box.add_class("junis-chat-conversation")
        self.notice = w.HTML("")
        self.input = w.Textarea(placeholder="Ask… (Enter sends, Shift+Enter adds a line)",
                                rows=3, continuous_update=True,
                                layout=w.Layout(width="auto", align_self="stretch"))
        self.input.add_class("junis-chat-input")
        # Sizes are left to the CSS (flex, wrapping): the panel may be 250 px wide in a side area.
        self.send_button = w.Button(description="Send", button_style="primary", icon="paper-plane",
                                    layout=w.Layout(width="auto"))
        self.stop_button = w.Button(description="Stop", button_style="warning", icon="stop",
                                    disabled=True, layout=w.Layout(width="auto"))
        self.retry_button = w.Button(description="Retry", icon="redo", disabled=True,
                                     tooltip="Ask the last question again",
                                     layout=w.Layout(width="auto"))
        self.edit_button = w.Button(description="Edit", icon="pencil", disabled=True,
                                    tooltip="Put the last question back in the box to edit "
                                            "(Up in an empty box does the same)",
                                    layout=w.Layout(width="auto"))
        self.footer = w.HTML(footer_html(Usage(), None))
        for name, button in (("junis-send", self.send_button), ("junis-stop", self.stop_button),
                             ("junis-new", self.new_button), ("junis-retry", self.retry_button),
                             ("junis-edit", self.edit_button)):
            button.add_class(name)
        for picker in (self.agent_picker, self.session_picker):
            picker.layout.width = "auto"
            picker.add_class("junis-picker")
        pickers_row = w.HBox([self.agent_picker, self.session_picker, self.new_button])
        buttons = w.HBox([self.send_button, self.stop_button, self.retry_button, self.edit_button])
        for row in (pickers_row, buttons):
            row.add_class("junis-row")
        buttons.add_class("junis-buttons")

        super().__init__([
            w.HTML(CSS),
            pickers_row,
            self.conversation_box,
            self.notice,
            self.input,
            buttons,
            self.footer,
        ], layout=w.Layout(width="100%"))
        self.add_class("junis-chat-panel")

        guard = self._home.guard
        self.send_button.on_click(guard(lambda _: self.send()))
        self.stop_button.on_click(guard(lambda _: self.stop()))
        self.new_button.on_click(guard(lambda _: self.new_chat()))
        self.retry_button.on_click(guard(lambda _: self.retry()))
        self.edit_button.on_click(guard(lambda _: self.edit()))
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

    def show(self, side: bool = False, *, anchor: str = "right", title: str = "Junis") -> Any:
        """Show the panel: in the cell's output, or (`side=True`) in JupyterLab's side area
        through `sidecar`, where it stays while the notebook scrolls and runs cells. Where there
        is no side area it opens inline, with one line saying why. Returns the Sidecar, if any."""
        if not side:
            self._ipython_display_()
            return None
        return open_beside(self, KEYS_JS, anchor=anchor, title=title)

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

    def retry(self) -> asyncio.Task[Any] | None:
        """Ask the last question again, through the same streaming path as Send (the earlier
        answer stays above: the session on the server holds it too); returns the task."""
        if self._still_streaming():
            return None
        if not self.conversation.recall():
            self._show(_NOTHING_YET, "info")
            return None
        task = self._start(self.conversation.recall(), retry=True)
        if task is None:
            self._show(_NO_LOOP, "info")
        return task

    def edit(self) -> None:
        """Put the last question back in the input box, to be edited and sent (what Up in an
        empty box does); what is being typed there is kept if the box is not empty."""
        last = self.conversation.recall()
        if not last:
            self._show(_NOTHING_YET, "info")
        elif not self.input.value.replace(RECALL_MARK, "").strip():
            self._set_input(last)

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
        from ...data.frames import messages_from_objects
        return messages_from_objects(self.conversation.messages())

    def transcript_html(self) -> str:
        """The conversation's HTML as the page shows it, as one string (the turns of the last
        full redraw, then each exchange since, its answer's pieces joined)."""
        return self.history.value + "".join(v.question.value + v.answer.html() for v in self._views)

    async def aclose(self) -> None:
        """Stop any answer, close the client if the panel made it, and close the widgets."""
        self.stop()
        await self.wait()
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None
        _close_tree(self)
        self.live.close()                           # lent to answers: maybe in no tree now

    # -- one exchange -------------------------------------------------------------------------

    def _start(self, text: str, retry: bool = False) -> asyncio.Task[Any] | None:
        """The exchange as a task on the home loop, the conversation sending from this moment
        (so Stop is live before the first byte); None when no loop runs here."""
        task = self._home.spawn(self._exchange(text))
        if task is None:
            return None
        if retry:
            self.conversation.retry()
        else:
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
            self._begin_live(exchange)
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
            self._end_live(exchange)
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
        elif RECALL_MARK in change["new"]:
            typed = change["new"].replace(RECALL_MARK, "")
            last = self.conversation.recall()
            self._set_input(last if last and not typed.strip() else typed)

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
        self.retry_button.disabled = self.edit_button.disabled = conv.busy or not conv.recall()
        self.footer.value = footer_html(conv.tokens, conv.rate_limit)
        if moved:
            self._pickers.show_session(conv.session_id)

    def _draw(self) -> None:
        """Redraw everything as one HTML (a session loaded or left, New chat): each exchange
        after this adds its own widgets (`_begin_live`)."""
        conv = self.conversation
        self._html.keep_only(conv.turns)
        live = conv.live.turns if conv.live is not None else ()
        settled = [t for t in conv.turns if t not in live]
        for view in [v for v in self._views if v.exchange is not conv.live]:
            self._drop(view)
        self.history.value = self._html.turns(settled) or ("" if self._views else EMPTY)

    def _drop(self, view: _ExchangeView) -> None:
        """An exchange's widgets leave the page and are closed (the lent tail is kept)."""
        self._views.remove(view)
        if self._live_view is view.answer:
            self._live_view = None
        view.answer.release()
        self._place()
        for widget in (view.question, *view.answer.widgets()):
            widget.close()

    def _place(self) -> None:
        self.transcript.children = (self.history, *(
            widget for v in self._views for widget in (v.question, v.answer.box)))

    def _begin_live(self, exchange: Exchange) -> None:
        """The question and an empty answer join the page, after what is there."""
        if self.history.value == EMPTY:
            self.history.value = ""
        question = Piece(self._html.turn(exchange.question))
        self._live_view = LiveAnswer(exchange.answer, self.live, answer_html)
        self._views.append(_ExchangeView(exchange, question, self._live_view))
        self._place()

    def _end_live(self, exchange: Exchange | None) -> None:
        """The exchange ended: its answer settles where it is (the rest of its text, its mark),
        or, if the conversation dropped it (nothing arrived), it leaves the page."""
        view = next((v for v in self._views if v.exchange is exchange), None)
        self._live_view = None
        if view is None:
            return                                   # the conversation moved on (New chat...)
        if exchange.answer in self.conversation.turns:   # type: ignore[union-attr]
            view.answer.settle(view.answer.turn.text(), view.answer.turn.state)
            return
        self._drop(view)
        if not self._views and not self.history.value:
            self.history.value = EMPTY

    def _draw_live(self) -> bool:
        live, view = self.conversation.live, self._live_view
        if live is not None and view is not None and view.turn is live.answer:
            return view.draw(live.answer.text())
        return True

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
