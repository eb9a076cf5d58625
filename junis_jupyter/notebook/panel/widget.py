"""ChatPanel: a chat beside the notebook, streaming through AsyncJunisClient on the kernel's loop.

Why a task on the kernel's own event loop: a request started as a task there leaves the loop free
between chunks, so Stop (another widget callback) can cancel it at once and other cells keep running
while an answer streams. No threads of our own, no nest_asyncio.

One loop per panel, its "home": the loop running when the panel was made (the kernel's). ipykernel 7
may deliver widget messages on a subshell thread with a loop of its own; the panel hands every
callback over to the home loop (`call_soon_threadsafe`), so the HTTP client and the streaming task
only ever live on one loop.

Model output reaches the page only through `safe_markdown.render_markdown` (while an answer streams,
through `render.IncrementalMarkdown`, which re-renders only its unfinished block); everything else the
panel writes into HTML (the user's words, error messages, names) goes through `escape_html`. Both,
and every other string the panel puts into a widget, are made valid Unicode first: Jupyter sends
widget values as UTF-8, which a lone surrogate (from undecodable bytes) cannot be.
"""
from __future__ import annotations

import asyncio
import inspect
import math
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ... import errors
from ...client.types import Agent, ChatResult, Message, RateLimitInfo, Usage
from ..render import IncrementalMarkdown
from ..markdown import escape_html, render_markdown, valid_unicode

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ChatPanel", "SUBMIT_MARK"]

# The front-end key hook appends this to the textarea on Enter; the kernel sees it in the value,
# strips it and sends. Putting the "submit" signal into the value itself means it can never
# overtake the last keystrokes (ipywidgets buffers value syncs but not custom messages).
SUBMIT_MARK = "\ue000"
ORCHESTRATOR = "Orchestrator"
NEW_CHAT = "New chat"
_STILL_STREAMING = "An answer is still streaming: wait for it or press Stop."
_EMPTY_HTML = '<div class="junis-empty">Ask a question below. Answers stream in here.</div>'

_KEYS_JS = """
(function () {
  if (window.__junisChatKeys) { return; }
  window.__junisChatKeys = true;
  window.addEventListener('keydown', function (e) {
    var t = e.target;
    if (!t || t.tagName !== 'TEXTAREA' || !t.closest || !t.closest('.junis-chat-input')) { return; }
    if (e.key !== 'Enter' || e.isComposing || e.altKey || e.ctrlKey || e.metaKey) { return; }
    e.stopPropagation();              /* never let JupyterLab run the cell */
    if (e.shiftKey) { return; }       /* Shift+Enter: the textarea adds a line */
    e.preventDefault();
    t.value = t.value + '%s';
    t.dispatchEvent(new Event('input', {bubbles: true}));
  }, true);
})();
""" % SUBMIT_MARK.encode("unicode_escape").decode()

_CSS = """<style>
.junis-chat-panel { max-width: 900px; }
.junis-chat-conversation { border: 1px solid var(--jp-border-color2, #ddd); border-radius: 6px;
  padding: 6px; }
.junis-turn { margin: 6px 0; padding: 6px 10px; border-radius: 8px; line-height: 1.45; }
.junis-turn p { margin: 0.3em 0; }
.junis-user { background: var(--jp-brand-color3, #e3f0fd); margin-left: 15%; }
.junis-user .junis-body { white-space: pre-wrap; }
.junis-assistant { background: var(--jp-layout-color2, #f3f3f3); margin-right: 10%; }
.junis-who { font-size: 0.8em; opacity: 0.7; margin-bottom: 2px; }
.junis-turn pre { background: var(--jp-layout-color0, #fff); padding: 6px; overflow-x: auto; }
.junis-turn table { border-collapse: collapse; }
.junis-turn th, .junis-turn td { border: 1px solid var(--jp-border-color2, #ccc); padding: 2px 6px; }
.junis-mark { font-size: 0.8em; font-weight: bold; color: var(--jp-warn-color0, #b35c00); }
.junis-empty { opacity: 0.6; padding: 8px; }
.junis-notice { padding: 4px 8px; border-radius: 4px; }
.junis-error { background: var(--jp-error-color3, #fde7e9); color: var(--jp-error-color0, #8a1f11); }
.junis-info { background: var(--jp-info-color3, #e8f4fb); }
.junis-footer { font-size: 0.85em; opacity: 0.8; }
</style>"""


@dataclass
class Turn:
    """One message in the panel's conversation (loaded from history or streamed here)."""
    role: str
    content: str
    created_at: datetime
    session_id: str | None = None
    agent_name: str | None = None
    message_id: str | None = None
    usage: Usage | None = None
    state: str = "done"              # "streaming", "done", "stopped", "failed"
    parts: list[str] = field(default_factory=list)
    # While it streams: renders only the block still being written on each redraw.
    markdown: IncrementalMarkdown | None = field(default=None, repr=False, compare=False)

    def text(self) -> str:
        if self.parts:
            self.content += "".join(self.parts)
            self.parts.clear()
        return self.content


class _Throttle:
    """Calls `fn` at most once per `interval` seconds, and once more after the last request."""

    def __init__(self, fn: Callable[[], None], interval: float) -> None:
        self.fn = fn
        self.interval = interval
        self.last = float("-inf")
        self.timer: asyncio.TimerHandle | None = None

    def request(self) -> None:
        if self.timer is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self.last + self.interval - loop.time()
        if wait <= 0:
            self.flush()
        else:
            self.timer = loop.call_later(wait, self.flush)

    def flush(self) -> None:
        self.cancel()
        self.last = asyncio.get_running_loop().time()
        self.fn()

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


# What to tell the user, by error class and (optionally) the error's code: the first match wins, so
# subclasses and code-specific lines come before the general ones. {msg} is the error's message.
_ADVICE: tuple[tuple[type[BaseException], str | None, str], ...] = (
    (errors.ConfigurationError, None, "{msg}"),
    (errors.AuthenticationError, None, "The API key was refused (401). Run `%junis login` or set "
                                       "JUNIS_API_KEY to a valid key, then try again."),
    (errors.PermissionDeniedError, "subscription_required",
     "{msg} The organisation needs an active Basic or Pro plan."),
    (errors.PermissionDeniedError, None, "Not allowed: {msg} Use a key that has this scope (Junis "
                                         "dashboard → API Keys), or pick another agent."),
    (errors.InsufficientCreditsError, None,
     "Out of credits: {msg} Top up the organisation's credits, then try again."),
    (errors.RateLimitError, None, "Rate limit reached: {msg} Try again{wait}."),
    (errors.NotFoundError, "session_not_found",
     "{msg} The session is gone: press New chat to start another."),
    (errors.NotFoundError, None, "{msg} Pick another agent or session."),
    (errors.BadRequestError, None, "The request was refused: {msg}"),
    (errors.ServerError, None, "The Junis service failed: {msg} Try again shortly."),
    (errors.APITimeoutError, None, "No answer in time: {msg} Check the connection and try again."),
    (errors.APIConnectionError, None,
     "Could not reach the Junis API: {msg} Check JUNIS_BASE_URL and the network."),
    (errors.StreamError, None,
     "The answer broke off: {msg} What arrived is kept; ask again to continue."),
    (errors.APIError, None, "The Junis API answered with an error: {msg}"),
)


def explain(exc: BaseException) -> str:
    """One line for the user: what happened and what to do. Never a traceback."""
    msg = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    code = getattr(exc, "code", None)
    retry_after = exc.retry_after if isinstance(exc, errors.RateLimitError) else None
    wait = f" in {retry_after:g} s" if retry_after else " in a moment"
    for cls, wanted_code, advice in _ADVICE:
        if isinstance(exc, cls) and wanted_code in (None, code):
            return advice.format(msg=msg, wait=wait)
    return f"Unexpected error ({type(exc).__name__}): {msg}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _async_client(client: Any) -> tuple[Any, bool]:
    """(AsyncJunisClient, owned). A sync JunisClient (what `%junis chat` holds) lends its key, URL,
    retries and observers through `to_async()`, so the ledger sees the panel's calls too."""
    from ...client.aio import AsyncJunisClient
    if client is None:
        return AsyncJunisClient(), True
    if inspect.iscoroutinefunction(getattr(client, "agents", None)):
        return client, False
    if hasattr(client, "to_async"):
        return client.to_async(), True
    raise errors.ConfigurationError(
        f"ChatPanel needs a JunisClient or an AsyncJunisClient, not {type(client).__name__}.")


def _close_tree(widget: w.Widget) -> None:
    """Close a widget and everything inside it (`close()` alone leaves the children open)."""
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    widget.close()


class ChatPanel(w.VBox):
    """A chat with Junis agents in a notebook: pickers, conversation, input, Stop, token footer."""

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
        self._client_arg = client
        self._client: Any = None
        self._owns_client = False
        self._wanted_agent = agent
        self._recent = recent_sessions
        self.turns: list[Turn] = []
        self.session_id: str | None = None
        self.tokens = Usage()
        self.rate_limit: RateLimitInfo | None = None
        self._task: asyncio.Task[Any] | None = None
        self._stop_requested = False
        self._quiet = False                      # set while the panel itself moves a picker
        self._html_cache: dict[int, tuple[int, str]] = {}
        self._live: list[Turn] = []              # the exchange streaming now (drawn on its own)
        self._throttle = _Throttle(self._render_live, 1.0 / update_hz)
        self._home: asyncio.AbstractEventLoop | None = None
        self._home_thread: int | None = None

        # "" and not None: a Dropdown shows None as "nothing selected".
        self.agent_picker = w.Dropdown(options=[(ORCHESTRATOR, "")], value="",
                                       description="Agent", layout=w.Layout(width="260px"))
        self.session_picker = w.Dropdown(options=[(NEW_CHAT, "")], value="",
                                         description="Session", layout=w.Layout(width="360px"))
        self.new_button = w.Button(description="New chat", icon="plus",
                                   layout=w.Layout(width="auto"))
        # Finished turns and the streaming exchange are two widgets, so a streaming update sends
        # one answer, not the whole conversation. The outer box scrolls; "column-reverse" around
        # its single child keeps it pinned to the newest text as it grows, with no script.
        self.history = w.HTML(_EMPTY_HTML)
        self.live = w.HTML("")
        turns = w.VBox([self.history, self.live], layout=w.Layout(flex="0 0 auto"))  # never shrunk
        self.conversation = w.Box([turns], layout=w.Layout(
            display="flex", flex_flow="column-reverse", max_height="460px", overflow="auto"))
        self.conversation.add_class("junis-chat-conversation")
        self.notice = w.HTML("")
        self.input = w.Textarea(placeholder="Ask… (Enter sends, Shift+Enter adds a line)",
                                rows=3, continuous_update=True,
                                layout=w.Layout(width="100%", flex="1 1 auto"))
        self.input.add_class("junis-chat-input")
        self.send_button = w.Button(description="Send", button_style="primary", icon="paper-plane",
                                    layout=w.Layout(width="96px"))
        self.stop_button = w.Button(description="Stop", button_style="warning", icon="stop",
                                    disabled=True, layout=w.Layout(width="96px"))
        self.footer = w.HTML("")
        for name, button in (("junis-send", self.send_button), ("junis-stop", self.stop_button),
                             ("junis-new", self.new_button)):
            button.add_class(name)

        super().__init__([
            w.HTML(_CSS),
            w.HBox([self.agent_picker, self.session_picker, self.new_button]),
            self.conversation,
            self.notice,
            w.HBox([self.input, w.VBox([self.send_button, self.stop_button])],
                   layout=w.Layout(width="100%")),
            self.footer,
        ])
        self.add_class("junis-chat-panel")

        self.send_button.on_click(self._guard(lambda _: self.send()))
        self.stop_button.on_click(self._guard(lambda _: self.stop()))
        self.new_button.on_click(self._guard(lambda _: self.new_chat()))
        self.input.observe(self._guard(self._on_input), names="value")
        self.agent_picker.observe(self._guard(self._on_agent), names="value")
        self.session_picker.observe(self._guard(self._on_session), names="value")
        self._render_footer()
        self._loading = self._spawn(self.refresh())   # no loop (a script): `await panel.refresh()`

    # -- display ------------------------------------------------------------------------------

    def _ipython_display_(self) -> None:
        """The widget plus the small key hook that makes Enter send (Shift+Enter: a new line)."""
        from IPython.display import Javascript, display
        display(Javascript(_KEYS_JS))
        display(self._repr_mimebundle_(), raw=True)

    # -- public actions -----------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def agent(self) -> str | None:
        """Selected agent id (None: the Orchestrator, through /v1/chat/completions)."""
        return self.agent_picker.value or None

    def send(self, text: str | None = None) -> asyncio.Task[Any] | None:
        """Send the input box's text (or `text`) as a task on the running loop; returns the task."""
        from_box = text is None
        text = (self.input.value if from_box else text).replace(SUBMIT_MARK, "")
        if not text.strip():
            if from_box:
                self._set_input(text)
            return None
        if self._too_long(text):
            if from_box:
                self._set_input(text)
            return None
        if self.busy:
            self._set_input(text)
            self._show(_STILL_STREAMING, "info")
            return None
        if from_box:
            self._set_input("")
        task = self._spawn(self.send_async(text),
                           "No running event loop here: use `await panel.send_async(...)`.")
        if task is None:
            self._set_input(text)
        else:
            self._task = task
            self._set_busy(True)          # Stop is live from this moment, not from the first byte
            task.add_done_callback(lambda t: self._settle(t, text))
        return task

    def _settle(self, task: asyncio.Task[Any], text: str) -> None:
        """After the task: normally `send_async` has tidied up; if Stop came before it even
        started, it never ran, so the buttons are reset and the question given back here."""
        if self._task is task:
            self._task = None
            self._set_busy(False)
            if not self.input.value.strip():
                self._set_input(text)

    def stop(self) -> None:
        """Cancel the streaming answer now; the part that arrived stays, marked as stopped."""
        task = self._task
        if task is not None and not task.done():
            self._stop_requested = True
            self._at_home(task.cancel)

    def new_chat(self) -> None:
        """Forget the current session: the next question opens a new one."""
        self.stop()
        self._set_picker(self.session_picker, "")
        self._start_new()

    async def wait(self) -> None:
        """Until the current answer (if any) and the initial loading have finished."""
        for task in (self._loading, self._task):
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)

    async def send_async(self, text: str) -> ChatResult | None:
        """Ask `text` and stream the answer into the conversation; returns the stream's result.

        Errors are shown in the panel and not raised: the panel is for people, and its state
        (input box, pickers) stays usable after any failure.
        """
        text = text.replace(SUBMIT_MARK, "")
        if not text.strip():
            self._show("Nothing to ask: write a question first.", "info")
            return None
        if self._too_long(text):
            return None
        me = asyncio.current_task()
        if self.busy and self._task is not me:
            self._show(_STILL_STREAMING, "info")
            return None
        self._task = me
        loading = self._loading
        if loading is not None and not loading.done() and loading is not me:
            await asyncio.wait([loading])      # pickers (or a picked session) first, then the question
        agent_name = self._agent_label()
        question = Turn("user", text, _now(), self.session_id)
        answer = Turn("assistant", "", _now(), self.session_id, agent_name, state="streaming",
                      markdown=IncrementalMarkdown())
        self.turns += [question, answer]
        self._live = [question, answer]
        self._stop_requested = False
        self._set_busy(True)
        self._show("")
        self._render()
        stream = None
        try:
            client = self._get_client()
            stream = client.stream(text, session_id=self.session_id, agent=self.agent)
            if inspect.isawaitable(stream):
                stream = await stream
            async for chunk in stream:
                if chunk.session_id and chunk.session_id != self.session_id:
                    self._adopt_session(chunk.session_id, [question, answer])
                if chunk.text:
                    answer.parts.append(chunk.text)
                    self._throttle.request()
                if chunk.usage is not None:
                    answer.usage = chunk.usage
            answer.state = "done"
            answer.usage = getattr(stream, "usage", None) or answer.usage
            return getattr(stream, "result", None)
        except asyncio.CancelledError:
            answer.state = "stopped"
            if not self._stop_requested:
                raise
            if me is not None and hasattr(me, "uncancel"):
                me.uncancel()            # our own Stop: handled here, not the caller's cancel
            return None
        except Exception as exc:                   # shown in the panel, never a traceback
            self._failed(exc, question, answer)
            return None
        finally:
            if stream is not None:
                await self._close_stream(stream)
            if self._task is me:
                self._task = None
            self._after_call(stream, answer)

    async def refresh(self) -> None:
        """Load the agent and session pickers (errors become a notice; the Orchestrator stays)."""
        try:
            client = self._get_client()
        except Exception as exc:
            self._show(explain(exc), "error")
            return
        problems = []
        try:
            agents = await client.agents()
        except Exception as exc:
            problems.append(f"Agents could not be listed: {explain(exc)}")
        else:
            options = [(ORCHESTRATOR, "")] + [
                (valid_unicode(a.name), a.id) for a in agents if a.invocable and a.is_active is not False]
            current = self.agent_picker.value
            with self._quietly():
                self.agent_picker.options = options
                self.agent_picker.value = current if current in {v for _, v in options} else ""
            if self._wanted_agent is not None:
                self._select_agent(self._wanted_agent, agents)
                self._wanted_agent = None          # once: a later refresh keeps the user's pick
        try:
            sessions = await client.sessions()
        except Exception as exc:
            problems.append(f"Sessions could not be listed: {explain(exc)}")
        else:
            self._set_session_options([s for s in sessions][: self._recent])
        if problems:
            self._show(" ".join(problems), "error")
        self._note_rate_limit(client)
        self._render_footer()

    async def load_session(self, session_id: str) -> None:
        """Show a past session's history and continue it."""
        self.stop()
        self.session_id = session_id
        self._html_cache.clear()
        self.turns = []
        self._live = []
        self._render()
        try:
            messages = await self._get_client().messages(session_id)
        except Exception as exc:
            self._show(explain(exc), "error")
            return
        if self.session_id != session_id:       # the user moved on while it loaded
            return
        self.turns = [self._turn_from(m) for m in messages]
        self._show("")
        self._render()

    def to_frame(self) -> pd.DataFrame:
        """The conversation as a messages frame (the schema of `junis_jupyter.frames`)."""
        from ...data.frames import messages_from_objects
        positions: dict[str | None, int] = {}
        found = []
        for turn in self.turns:
            position = positions.get(turn.session_id, 0)
            positions[turn.session_id] = position + 1
            found.append(Message(session_id=turn.session_id, position=position,   # type: ignore[arg-type]
                                 id=turn.message_id, role=turn.role, content=turn.text(),
                                 created_at=turn.created_at, agent_name=turn.agent_name,
                                 usage=turn.usage))
        return messages_from_objects(found)

    async def aclose(self) -> None:
        """Stop any answer, close the client if the panel made it, and close the widgets."""
        self.stop()
        await self.wait()
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None
        _close_tree(self)

    # -- internals ----------------------------------------------------------------------------

    def _get_client(self) -> Any:
        if self._client is None:
            self._client, self._owns_client = _async_client(self._client_arg)
        return self._client

    def _spawn(self, coro: Coroutine[Any, Any, Any],
               no_loop_notice: str = "") -> asyncio.Task[Any] | None:
        """A task on the home loop (the running loop becomes home if there is none yet)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            self._show(no_loop_notice, "info")
            return None
        if self._home is None or self._home.is_closed():
            self._home, self._home_thread = loop, threading.get_ident()
        task = loop.create_task(coro)
        task.add_done_callback(self._report)
        return task

    def _report(self, task: asyncio.Task[Any]) -> None:
        """A task that failed unexpectedly says so in the panel; nobody else would see it."""
        if not task.cancelled() and task.exception() is not None:
            self._show(explain(task.exception()), "error")   # type: ignore[arg-type]

    def _off_home(self) -> bool:
        return self._home is not None and threading.get_ident() != self._home_thread \
            and not self._home.is_closed()

    def _at_home(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn` on the home loop's thread: now if we are there, else as soon as it is free."""
        if self._off_home():
            assert self._home is not None
            self._home.call_soon_threadsafe(fn, *args)
        else:
            fn(*args)

    def _guard(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """Widget callbacks run on the home loop and never raise into the frontend."""
        def guarded(arg: Any) -> None:
            try:
                fn(arg)
            except Exception as exc:
                self._show(explain(exc), "error")

        return lambda arg: self._at_home(guarded, arg)

    def _too_long(self, text: str) -> bool:
        """Refuse (with a notice) a question over `max_prompt_chars`, before any request: the
        same cap as the magic's, so a pasted file never goes to the server by accident."""
        if len(text) <= self.max_prompt_chars:
            return False
        self._show(f"The question is {len(text):,} characters, over the panel's limit of "
                   f"{self.max_prompt_chars:,} (ChatPanel(max_prompt_chars=...)): shorten it.",
                   "error")
        return True

    def _on_input(self, change: dict[str, Any]) -> None:
        if SUBMIT_MARK in change["new"]:
            self.send()

    def _on_agent(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self._show(f"Next question goes to {self._agent_label()}.", "info")

    def _on_session(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        if not change["new"]:
            self.stop()
            self._start_new()
        else:
            self._loading = self._spawn(self.load_session(change["new"]))

    def _start_new(self) -> None:
        self.session_id = None
        self.turns = []
        self._live = []
        self._html_cache.clear()
        self._show("")
        self._render()

    def _select_agent(self, wanted: str, agents: list[Any]) -> None:
        if wanted.lower() == ORCHESTRATOR.lower():
            return
        for a in agents:
            if wanted in (a.id, a.name) or wanted.lower() == a.name.lower():
                if a.id in {v for _, v in self.agent_picker.options}:
                    self._set_picker(self.agent_picker, a.id)
                    return
                self._show(f"Agent {a.name} cannot be chatted with "
                           "(only active LLM agents can); using the Orchestrator.", "error")
                return
        self._show(f"No agent named {wanted!r}; using the Orchestrator.", "error")

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        """The panel itself moves a picker: its observers do not react."""
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    def _set_picker(self, picker: w.Dropdown, value: Any) -> None:
        with self._quietly():
            picker.value = value

    def _set_session_options(self, sessions: list[Any]) -> None:
        options = [(NEW_CHAT, "")]
        for s in sessions:
            when = s.last_update_time or s.created_at
            stamp = when.strftime("%Y-%m-%d %H:%M") if when else "?"
            count = f" · {s.message_count} msgs" if s.message_count is not None else ""
            options.append((valid_unicode(f"{stamp}{count} · {s.session_id[:8]}"), s.session_id))
        if self.session_id is not None and self.session_id not in {v for _, v in options}:
            options.insert(1, (f"current · {self.session_id[:8]}", self.session_id))
        with self._quietly():
            self.session_picker.options = options
            self.session_picker.value = self.session_id or ""

    def _adopt_session(self, session_id: str, turns: list[Turn]) -> None:
        """The server opened (or confirmed) a session: remember it and show it in the picker."""
        self.session_id = session_id
        for turn in turns:
            turn.session_id = session_id
        if session_id not in {v for _, v in self.session_picker.options}:
            first, *rest = self.session_picker.options
            with self._quietly():
                self.session_picker.options = [first, (f"current · {session_id[:8]}", session_id),
                                               *rest]
        self._set_picker(self.session_picker, session_id)

    def _failed(self, exc: BaseException, question: Turn, answer: Turn) -> None:
        # The error's own partial text (everything that arrived) replaces what was collected,
        # parts not yet rendered included: keeping those would show them twice.
        partial = getattr(exc, "partial_text", "") or answer.text()
        answer.parts.clear()
        answer.markdown = None                   # the text may be replaced: render it whole
        if partial:
            answer.content, answer.state = partial, "failed"
        else:                                    # nothing arrived: give the question back
            self.turns = [t for t in self.turns if t is not question and t is not answer]
            if not self.input.value.strip():
                self._set_input(question.content)
        self._show(explain(exc), "error")

    async def _close_stream(self, stream: Any) -> None:
        close = getattr(stream, "aclose", None)
        if close is None:
            return
        try:
            await close()
        except Exception:
            pass     # closing after a failure: the failure has been shown already

    def _after_call(self, stream: Any, answer: Turn) -> None:
        self._throttle.cancel()
        self._live = []
        answer.markdown = None       # rendered whole once more as it settles; its pieces go
        if answer.usage is not None and answer.state == "done":
            self.tokens = Usage(self.tokens.prompt_tokens + answer.usage.prompt_tokens,
                                self.tokens.completion_tokens + answer.usage.completion_tokens,
                                self.tokens.total_tokens + answer.usage.total_tokens)
        self._note_rate_limit(stream, self._client)
        self._set_busy(False)
        self._render()
        self._render_footer()

    def _note_rate_limit(self, *sources: Any) -> None:
        """Keep the first rate-limit reading the sources (a stream, the client) have."""
        for source in sources:
            limit = getattr(source, "rate_limit", None)
            if isinstance(limit, RateLimitInfo) and limit.remaining is not None:
                self.rate_limit = limit
                return

    def _set_busy(self, busy: bool) -> None:
        self.stop_button.disabled = not busy
        self.send_button.disabled = busy

    def _set_input(self, text: str) -> None:
        self.input.value = valid_unicode(text.replace(SUBMIT_MARK, ""))

    def _show(self, message: str, kind: str = "info") -> None:
        """A notice under the conversation (plain text: escaped here)."""
        self.notice.value = (f'<div class="junis-notice junis-{kind}">{escape_html(message)}</div>'
                             if message else "")

    def _agent_label(self) -> str:
        for label, value in self.agent_picker.options:
            if value == self.agent_picker.value:
                return label
        return ORCHESTRATOR

    def _turn_from(self, m: Message) -> Turn:
        return Turn(m.role, m.content, m.created_at or _now(), m.session_id, m.agent_name,
                    m.id, m.usage)

    # -- rendering ----------------------------------------------------------------------------

    def _turn_html(self, turn: Turn) -> str:
        key = id(turn)
        text = turn.text()
        cached = self._html_cache.get(key)
        stamp = hash((len(text), turn.state, turn.agent_name))
        if cached is not None and cached[0] == stamp:
            return cached[1]
        if turn.role == "user":
            who, body = "You", escape_html(text)
        else:
            who = turn.agent_name or turn.role.capitalize()
            body = turn.markdown.render(text) if turn.markdown else render_markdown(text)
        mark = {"streaming": "", "done": "", "stopped": "■ stopped",
                "failed": "■ interrupted by an error"}[turn.state]
        html = (f'<div class="junis-turn junis-{escape_html(turn.role)}" data-state="{turn.state}">'
                f'<div class="junis-who">{escape_html(who)}</div>'
                f'<div class="junis-body">{body}</div>'
                + (f'<div class="junis-mark">{mark}</div>' if mark else "") + "</div>")
        self._html_cache[key] = (stamp, html)
        return html

    def transcript_html(self) -> str:
        """The conversation's HTML as the page shows it (finished turns, then the live ones)."""
        return self.history.value + self.live.value

    def _render(self) -> None:
        """Redraw everything: at the start and end of an answer, and on session changes."""
        known = {id(t) for t in self.turns}
        for key in [k for k in self._html_cache if k not in known]:
            del self._html_cache[key]
        live = {id(t) for t in self._live}
        settled = "".join(self._turn_html(t) for t in self.turns if id(t) not in live)
        self.history.value = settled or ("" if self._live else _EMPTY_HTML)
        self._render_live()

    def _render_live(self) -> None:
        self.live.value = "".join(self._turn_html(t) for t in self._live)

    def _render_footer(self) -> None:
        parts = [f"Tokens used in this panel: {self.tokens.total_tokens:,} "
                 f"({self.tokens.prompt_tokens:,} prompt + {self.tokens.completion_tokens:,} answer)"]
        rl = self.rate_limit
        if rl is not None and rl.remaining is not None:
            total = f" of {rl.limit:,}" if rl.limit is not None else ""
            parts.append(f"Rate limit: {rl.remaining:,}{total} requests left this window")
        else:
            parts.append("Rate limit: not known yet")
        self.footer.value = f'<div class="junis-footer">{" · ".join(parts)}</div>'
