"""`%%junis` (ask an agent in a cell) and `%junis` (login, config, agents, sessions, history...).

Every failure ends as one readable line on stderr (what happened, what to do), never a traceback
and never the key. pandas, ipywidgets and the HTTP server are not imported here: loading the
extension must stay cheap.
"""
from __future__ import annotations

import getpass
import json
import os
import re
import shlex
import sys
import time
from typing import Any

from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Enum, Float, Integer, TraitError, Unicode, observe, validate

from .. import config, errors
from ..advice import Surface, advise
from ..data import ledger
from . import interpolate as interp
from .render import Footer, StreamRenderer, Table, pick_mode

__all__ = ["JunisMagics", "load", "unload", "describe_error"]

_FORMATS = ("markdown", "text", "code", "json")
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)```", re.S)

HELP = """\
%%junis [options]     ask the agent; the rest of the cell is the prompt ({name} takes a variable)
  --agent NAME        an agent by name or id (default: the orchestrator)
  --new               start a new conversation (default: continue the current one)
  --session ID        continue that session
  --format F          markdown (default) | text | code (next cell gets the code block) | json
  --out VAR           store the result in VAR (_junis always holds the last one)
  --no-stream         wait for the whole answer
  --system TEXT       a system message for this turn
  --temperature T     sampling temperature
  --max-tokens N      cap the answer's length
  --no-interpolate    send {braces} as written
%junis login          enter the API key (hidden; kept in memory for this kernel)
%junis config         effective settings and where each came from (key masked)
%junis agents         the organisation's agents
%junis sessions       recent sessions (the current one is marked)
%junis history [ID]   the messages of a session (default: the current one)
%junis status         the current session's status and the last rate-limit figures
%junis usage [--plot] what you have spent (from the local usage ledger)
%junis chat           the chat panel
%junis help           this text
Defaults: %config JunisMagics.agent = "Research" (and format, stream, system, temperature,
max_tokens, interpolate, new, out, max_prompt_chars, max_table_rows, max_string_chars, update_hz,
timeout, max_retries)."""


def _say(line: str) -> None:
    """One error line, scrubbed of the key whatever produced it."""
    try:
        key = config.resolve_key()
    except errors.ConfigurationError:
        key = None
    print(f"Junis: {config.scrub(line, key)}", file=sys.stderr, flush=True)


@magics_class
class JunisMagics(Magics):
    """Ask Junis agents from cells. Every `%%junis` option has a default settable by `%config`."""

    agent = Unicode(None, allow_none=True, help="Agent name or id (None: the orchestrator).").tag(config=True)
    new = Bool(False, help="Start a new session for every cell (no conversation).").tag(config=True)
    session = Unicode(None, allow_none=True, help="Session to continue when none is current.").tag(config=True)
    format = Enum(_FORMATS, "markdown", help="How answers are shown.").tag(config=True)
    out = Unicode(None, allow_none=True, help="Variable that receives every result.").tag(config=True)
    stream = Bool(True, help="Stream answers as they arrive.").tag(config=True)
    system = Unicode(None, allow_none=True, help="System message sent with every prompt.").tag(config=True)
    temperature = Float(None, allow_none=True, help="Sampling temperature.").tag(config=True)
    max_tokens = Integer(None, allow_none=True, help="Cap on the answer's tokens.").tag(config=True)
    interpolate = Bool(True, help="Replace {name} with values from the namespace.").tag(config=True)
    max_prompt_chars = Integer(100_000, help="Refuse prompts longer than this after interpolation.").tag(config=True)
    max_table_rows = Integer(20, help="Rows of a DataFrame put into a prompt.").tag(config=True)
    max_string_chars = Integer(2000, help="Characters of a string value put into a prompt.").tag(config=True)
    update_hz = Float(15.0, help="Most display updates per second while streaming.").tag(config=True)
    timeout = Float(60.0, help="Seconds to wait for the service's next byte.").tag(config=True)
    max_retries = Integer(2, min=0, help="Tries again after a 429, a 5xx or a connection error, "
                          "before the error is shown.").tag(config=True)

    _client: Any = None     # a class default: config given at load sets timeout, which resets it

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.session_id: str | None = None
        self.last_result: Any = None

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """Made on first use (so a key given later by `%junis login` is picked up)."""
        if self._client is None:
            from ..client.sync import JunisClient
            self._client = JunisClient(timeout=self.timeout, max_retries=self.max_retries)
        return self._client

    @validate("timeout")
    def _check_timeout(self, proposal: Any) -> float:
        if not proposal["value"] > 0:      # also refuses nan
            raise TraitError(f"JunisMagics.timeout must be a positive number of seconds, "
                             f"not {proposal['value']!r}.")
        return proposal["value"]

    @observe("timeout", "max_retries")
    def _settings_changed(self, change: Any) -> None:
        """The client keeps the values it was made with: the next call makes a new one."""
        self.reset_client()

    def reset_client(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None

    def _base_url(self) -> str | None:
        try:
            return config.resolve_base_url()
        except errors.ConfigurationError:
            return None

    def _fail(self, exc: BaseException) -> None:
        _say(advise(exc, Surface.CELL, base_url=self._base_url()))

    def _show(self, obj: Any, **kwargs: Any) -> None:
        from IPython.display import display
        display(obj, **kwargs)

    # -- the magic --------------------------------------------------------------------------

    @magic_arguments()
    @argument("--agent", default=None, help="agent name or id")
    @argument("--new", action="store_true", default=None, help="start a new session")
    @argument("--session", default=None, help="continue this session id")
    @argument("--format", default=None, choices=_FORMATS, help="how the answer is shown")
    @argument("--out", default=None, help="variable that receives the result")
    @argument("--no-stream", dest="stream", action="store_false", default=None)
    @argument("--system", default=None, help="system message")
    @argument("--temperature", type=float, default=None)
    @argument("--max-tokens", type=int, default=None)
    @argument("--no-interpolate", dest="interpolate", action="store_false", default=None)
    @line_cell_magic
    def junis(self, line: str, cell: str | None = None) -> None:
        """Ask a Junis agent (`%%junis`), or run a command (`%junis help`)."""
        try:
            if cell is None:
                self._command(line)
            else:
                self._ask(line, cell)
        except KeyboardInterrupt:
            _say("interrupted before an answer arrived." if cell is not None else "interrupted.")
        except Exception as exc:  # noqa: BLE001 - a cell shows one line, never a traceback
            self._fail(exc)

    def _options(self, line: str) -> Any:
        try:
            args = parse_argstring(self.junis, line)
        except (UsageError, SystemExit, ValueError) as exc:
            raise errors.ConfigurationError(
                f"bad option: {exc}. See `%junis help` for the options.") from None
        if args.new and args.session:
            raise errors.ConfigurationError("bad option: --new and --session cannot go together.")
        for name, value in vars(args).items():   # every option has a trait of its name
            if value is None:
                setattr(args, name, getattr(self, name))
        if args.out is not None and not args.out.isidentifier():
            raise errors.ConfigurationError(f"bad option: --out {args.out!r} is not a variable name.")
        return args

    def _ask(self, line: str, cell: str) -> None:
        opts = self._options(line)
        prompt = cell.strip()
        if not prompt:
            raise errors.ConfigurationError("nothing to ask: write the prompt in the cell body.")
        if opts.interpolate:
            prompt = interp.interpolate(prompt, self.shell.user_ns,
                                        max_table_rows=self.max_table_rows,
                                        max_string_chars=self.max_string_chars)
        if len(prompt) > self.max_prompt_chars:
            raise errors.ConfigurationError(
                f"the prompt is {len(prompt)} characters after interpolation, over the limit of "
                f"{self.max_prompt_chars} (%config JunisMagics.max_prompt_chars): put fewer rows "
                "in it, or use --no-interpolate.")
        session_id = None if opts.new else (opts.session or self.session_id or self.session)
        request = dict(system=opts.system, session_id=session_id, agent=opts.agent,
                       temperature=opts.temperature, max_tokens=opts.max_tokens)
        mode = pick_mode(self.shell, "text" if opts.format in ("text", "json") else "markdown")
        renderer = StreamRenderer(mode, update_hz=self.update_hz)
        if opts.stream:
            result = self._stream(prompt, request, renderer)
        else:
            result = self.client.chat(prompt, **request)
            renderer.feed(result.text)
            renderer.finish()
        if result is None:
            return
        self._keep(result, opts)
        self._footer(result, mode)
        self._post(result, opts)

    def _stream(self, prompt: str, request: dict[str, Any], renderer: StreamRenderer) -> Any:
        """Stream into the renderer; an interrupt keeps what arrived, a broken stream too."""
        stream = self.client.stream(prompt, **request)
        try:
            with stream:
                for chunk in stream:
                    renderer.feed(chunk.text)
        except KeyboardInterrupt:
            stream.close()
            if stream.result is None:      # stopped before the answer began
                raise
            renderer.finish(note="interrupted")
            return stream.result
        except errors.StreamError as exc:
            renderer.finish(note="cut off")
            if exc.session_id:
                self.session_id = exc.session_id
            self._fail(exc)
            return None
        renderer.finish()
        return stream.result

    def _keep(self, result: Any, opts: Any) -> None:
        if result.session_id:
            self.session_id = result.session_id
        self.last_result = result
        self.shell.user_ns["_junis"] = result
        if opts.out and opts.format != "json":
            self.shell.user_ns[opts.out] = result

    def _footer(self, result: Any, mode: str) -> None:
        footer = Footer(result.session_id, result.usage, agent=result.agent,
                        note="interrupted" if result.interrupted else None)
        if mode == "terminal":
            print("\n" + repr(footer), flush=True)
        else:
            self._show(footer, metadata=footer.metadata())

    def _post(self, result: Any, opts: Any) -> None:
        if opts.format == "code":
            block = first_code_block(result.text)
            if block is None:
                _say("the answer has no code block, so no new cell was made.")
            else:
                self.shell.set_next_input(block[1], replace=False)
        elif opts.format == "json":
            try:
                value = parse_json_answer(result.text)
            except ValueError as exc:
                _say(f"the answer is not JSON ({exc}); it is shown above as text and kept in _junis.")
                return
            if opts.out:
                self.shell.user_ns[opts.out] = value
            self._show(value)

    # -- line commands ----------------------------------------------------------------------

    def _command(self, line: str) -> None:
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise errors.ConfigurationError(f"bad command: {exc}.") from None
        name, args = (words[0], words[1:]) if words else ("help", [])
        handler = getattr(self, f"_cmd_{name}", None)
        if handler is None:
            if name.startswith("-"):
                raise errors.ConfigurationError(
                    "options go on a `%%junis` cell (two percent signs) with the prompt below it; "
                    "see `%junis help`.")
            raise errors.ConfigurationError(
                f"unknown command {name!r}: try agents, sessions, history, status, usage, chat, "
                "config, login or help.")
        handler(args)

    def _cmd_help(self, args: list[str]) -> None:
        print(HELP)

    def _cmd_login(self, args: list[str]) -> None:
        if args:      # a key typed into a cell would be saved with the notebook
            raise errors.ConfigurationError(
                "do not put the key in the cell (it would be saved with the notebook): run "
                "`%junis login` alone and paste the key at the hidden prompt.")
        try:
            key = getpass.getpass("Junis API key: ").strip()
        except StdinNotImplementedError:
            raise errors.ConfigurationError(
                "this frontend cannot prompt for input: set the JUNIS_API_KEY environment "
                "variable before starting the kernel instead.") from None
        except KeyboardInterrupt:
            raise errors.ConfigurationError("login cancelled; nothing changed.") from None
        if not key:
            raise errors.ConfigurationError("no key entered; nothing changed.")
        config.set_login_key(key)
        self.reset_client()
        shape = "" if re.fullmatch(r"jns_live_[A-Za-z0-9]{32}", key) else (
            " (it does not look like a Junis key, jns_live_ + 32 characters: check it)")
        print(f"Key {config.mask_key(key)} set for this kernel{shape}.")

    def _cmd_config(self, args: list[str]) -> None:
        rows = []
        env_key = os.environ.get(config.KEY_ENV)
        try:
            key = config.resolve_key()
            source = "JUNIS_API_KEY" if env_key and env_key.strip() == key else "%junis login"
        except errors.ConfigurationError:
            key, source = None, "not set: run %junis login"
        rows.append(("api key", config.mask_key(key), source))
        url_source = config.URL_ENV if os.environ.get(config.URL_ENV) else "default"
        rows.append(("base url", self._base_url() or os.environ.get(config.URL_ENV), url_source))
        configured = self.config.get("JunisMagics", {})
        for name in self.trait_names(config=True):
            value = getattr(self, name)
            source = "%config" if name in configured else "default"
            rows.append((name, "None" if value is None else repr(value), source))
        rows.append(("current session", self.session_id or "(none yet)", "this kernel"))
        self._show(Table(("setting", "value", "from"), rows))

    def _cmd_agents(self, args: list[str]) -> None:
        agents = self.client.agents()
        rows = [(a.name, a.agent_type, a.is_active, "yes" if a.invocable else "no", a.model,
                 a.description) for a in agents]
        self._show(Table(("name", "type", "active", "--agent", "model", "description"), rows))

    def _cmd_sessions(self, args: list[str]) -> None:
        sessions = self.client.sessions()
        limit = self.max_table_rows
        rows = [(s.session_id + (" (current)" if s.session_id == self.session_id else ""),
                 _when(s.created_at), _when(s.last_update_time), s.is_active, s.message_count)
                for s in sessions[:limit]]
        more = len(sessions) - len(rows)
        caption = f"{len(sessions)} sessions" + (f", newest {limit} shown" if more > 0 else "")
        self._show(Table(("session", "created", "last update", "active", "messages"), rows,
                         caption=caption))

    def _cmd_history(self, args: list[str]) -> None:
        session_id = args[0] if args else self.session_id
        if not session_id:
            raise errors.ConfigurationError(
                "no current session yet: ask something with %%junis first, or give a session id.")
        messages = self.client.messages(session_id)
        cap = min(self.max_string_chars, 300)     # a table row, not the whole message
        rows = [(m.position, m.role, m.agent_name,
                 m.usage.total_tokens if m.usage else "",
                 m.content if len(m.content) <= cap else m.content[:cap] + "…")
                for m in messages]
        self._show(Table(("#", "role", "agent", "tokens", "content"), rows,
                         caption=f"session {session_id}: {len(messages)} messages"))

    def _cmd_status(self, args: list[str]) -> None:
        rows: list[tuple[Any, ...]] = []
        if self.session_id:
            st = self.client.session_status(self.session_id)
            rows.append(("session", st.session_id))
            rows.append(("status", st.status))
            rows.append(("active", st.is_active))
            rows.append(("last update", _when(st.last_update_time)))
        else:
            rows.append(("session", "(none yet: the next %%junis cell opens one)"))
        if self.last_result is not None:
            rows.append(("last answer", self.last_result.usage.describe()))
        rl = getattr(self._client, "rate_limit", None)      # None before the first call
        said = rl.describe(time.time()) if rl is not None else None
        rows.append(("rate limit", said or "(no call made yet)"))
        self._show(Table(("", ""), rows))

    def _cmd_usage(self, args: list[str]) -> None:
        from ..data.usage_report import show
        show(self.shell, args)

    def _cmd_chat(self, args: list[str]) -> None:
        from .panel import ChatPanel
        self._show(ChatPanel(client=self.client))


def _when(t: Any) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S") if t is not None else ""


def first_code_block(text: str) -> tuple[str, str] | None:
    """(language, code) of the first fenced block, or None."""
    m = _FENCE.search(text)
    return (m.group(1), m.group(2).rstrip("\n")) if m else None


def parse_json_answer(text: str) -> Any:
    """The answer as JSON: the whole text, else its first ```json (or bare) fenced block."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    for m in _FENCE.finditer(text):
        if m.group(1).lower() in ("json", ""):
            return json.loads(m.group(2))
    raise ValueError("no JSON text or ```json block")


_instance: JunisMagics | None = None


def load(ipython: Any) -> None:
    """Register the magics (one instance per process) and start the usage ledger."""
    global _instance
    _instance = JunisMagics(shell=ipython)
    ipython.register_magics(_instance)
    ledger.install()


def unload(ipython: Any) -> None:
    global _instance
    if _instance is not None:
        _instance.reset_client()
        for kind in ("line", "cell"):
            ipython.magics_manager.magics[kind].pop("junis", None)
        ipython.magics_manager.registry.pop("JunisMagics", None)
        if _instance in ipython.configurables:
            ipython.configurables.remove(_instance)
        _instance = None
    ledger.uninstall()
