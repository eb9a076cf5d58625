"""`%%junis` (ask an agent in a cell) and `%junis` (its line commands are in commands.py).

A notebook is a document: a failing cell fails (one readable line, what happened and what to do,
never a traceback and never the key), so Run All, papermill and nbval stop at it; line commands
return their DataFrame; the conversation follows the notebook's cells (chain.py); answers can be
replayed from a cache (cache.py). pandas, ipywidgets and the HTTP server are not imported here:
loading the extension must stay cheap.
"""
from __future__ import annotations

import json
import os
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Enum, Float, Integer, TraitError, Unicode, default, observe, validate

from .. import config, errors
from ..data import ledger
from ..client.types import CallRecord, ChatResult, Usage
from .cache import CACHE_ENV, AnswerCache, CacheMode, Recorded, answer_key
from .cache import default_path as default_cache_path
from .cellerror import AnswerInterrupted, CellError
from .chain import Chain, Turn, seed_messages
from .commands import LineCommands
from .failures import Failures

if TYPE_CHECKING:
    from .render import StreamRenderer

# What only a cell's work needs (rendering, interpolation, advice) is imported when a
# cell runs, not at `%load_ext`: loading the extension stays under 20 ms (make bench, load cost).

__all__ = ["JunisMagics", "load", "unload"]

_FORMATS = ("markdown", "text", "code", "json")
_CACHE_MODES = tuple(m.value for m in CacheMode)
_ON_ERROR = ("raise", "print")
CACHE_PATH_ENV = "JUNIS_CACHE_PATH"
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)```", re.S)


def _say(line: str) -> None:
    """One error line, scrubbed of the key whatever produced it."""
    print(f"Junis: {config.scrub(line, config.current_key())}", file=sys.stderr, flush=True)


@magics_class
class JunisMagics(LineCommands, Magics):
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
    max_outputs = Integer(40, min=1, help="Most outputs a streamed answer takes (JupyterLab shows "
                          "a cell's first 50, its maxNumberOutputs); more sends fewer bytes where "
                          "more are shown.").tag(config=True)
    timeout = Float(60.0, help="Seconds to wait for the service's next byte.").tag(config=True)
    max_retries = Integer(2, min=0, help="Tries again after a 429, a 5xx or a connection error, "
                          "before the error is shown.").tag(config=True)
    on_error = Enum(_ON_ERROR, "raise", help="'raise': a failing cell fails (Run All stops there); "
                    "'print': print the line and let the cell succeed.").tag(config=True)
    cache = Enum(_CACHE_MODES, help="Answer cache: off | use (hits shown, misses asked and stored) | "
                 "replay (misses are errors; no network) | refresh (always ask, store). "
                 f"Default: ${CACHE_ENV}, else off.").tag(config=True)
    context = Integer(0, min=0, help="Put the sources of the last N executed code cells before "
                      "the prompt.").tag(config=True)
    dry_run = Bool(False, help="Show the messages that would be sent, and send nothing.").tag(config=True)
    background = Bool(False, help="Run every cell's request in the background (the cell returns "
                      "at once; `%junis wait` waits).").tag(config=True)
    max_concurrent = Integer(5, min=1, help="Requests in flight at once in this kernel: background "
                             "cells, the chat panel and batches share it (the plan's cap; "
                             "Basic 5, Pro 20).").tag(config=True)
    cache_path = Unicode(None, allow_none=True, help="The answer cache's file (default: beside "
                         f"the notebook, else ${CACHE_PATH_ENV}, else the user data directory)."
                         ).tag(config=True)

    _client: Any = None     # a class default: config given at load sets timeout, which resets it

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.chain = Chain()
        self.last_result: Any = None
        self._cell_id: str | None = None
        self._client_for: tuple[str, str] | None = None
        self._cache: AnswerCache | None = None
        self.failures = Failures(shell)
        self._jobs: Any = None

    @property
    def jobs(self) -> Any:
        """The background jobs (notebook/jobs.py), made when the first one starts."""
        if self._jobs is None:
            from .jobs import Jobs
            self._jobs = Jobs(self)
        return self._jobs

    @default("cache")
    def _cache_from_env(self) -> str:
        value = os.environ.get(CACHE_ENV, "").strip().lower() or "off"
        if value not in _CACHE_MODES:
            raise TraitError(f"{CACHE_ENV}={value!r} is not a cache mode: use one of "
                             f"{', '.join(_CACHE_MODES)}.")
        return value

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def session_id(self) -> str | None:
        return self.chain.session_id

    @session_id.setter
    def session_id(self, value: str | None) -> None:
        self.chain.start(value)

    @property
    def client(self) -> Any:
        """Made on first use, and again when the key or base URL it was made for changes (a
        `%junis login`, a new JUNIS_API_KEY), so `%junis config` and the calls agree."""
        wanted = (config.resolve_key(), config.resolve_base_url())
        if self._client is not None and self._client_for != wanted:
            self.reset_client()
        if self._client is None:
            from ..client.sync import JunisClient
            self._client = JunisClient(api_key=wanted[0], base_url=wanted[1],
                                       timeout=self.timeout, max_retries=self.max_retries)
            self._client_for = wanted
        return self._client

    def pre_run_cell(self, info: Any) -> None:
        """IPython passes the running cell's id (JupyterLab, Notebook 7 and VS Code send one)."""
        self._cell_id = getattr(info, "cell_id", None)

    def post_run_cell(self, result: Any) -> None:
        self._cell_id = None    # a magic run outside run_cell must not take a stale id
        self.failures.hook(result)

    @validate("timeout")
    def _check_timeout(self, proposal: Any) -> float:
        if not proposal["value"] > 0:      # also refuses nan
            raise TraitError(f"JunisMagics.timeout must be a positive number of seconds, "
                             f"not {proposal['value']!r}.")
        return proposal["value"]

    @observe("max_concurrent")
    def _limit_changed(self, change: Any) -> None:
        from ..client import limiter
        if limiter.current() is not None:
            limiter.set_limit(change["new"])

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

    def _fail(self, line: str) -> None:
        """The cell's one error line: raised (the cell fails), or printed with `on_error='print'`."""
        if self.on_error == "print":
            _say(line)
            return
        raise CellError(config.scrub(line, config.current_key()))

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
    @argument("--cache", default=None, choices=_CACHE_MODES, help="answer cache mode")
    @argument("--context", type=int, default=None, help="put the last N code cells before the prompt")
    @argument("--dry-run", action="store_true", default=None, help="show what would be sent")
    @argument("--background", action="store_true", default=None, help="return at once; stream "
              "into this cell's output")
    @line_cell_magic
    def junis(self, line: str, cell: str | None = None) -> Any:
        """Ask a Junis agent (`%%junis`), or run a command (`%junis help`)."""
        try:
            if cell is None:
                return self._command(line)
            self._ask(line, cell)
        except KeyboardInterrupt:
            self._fail("interrupted before an answer arrived." if cell is not None else "interrupted.")
        except AnswerInterrupted:
            self._fail("interrupted: the text that arrived is shown above and kept in _junis.")
        except Exception as exc:  # noqa: BLE001 - a cell shows one line, never a traceback
            from ..advice import Surface, advise
            self._fail(advise(exc, Surface.CELL, base_url=self._base_url()))
        return None

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
        if args.context < 0:
            raise errors.ConfigurationError("bad option: --context takes a number of cells, 0 or more.")
        if args.out is not None and not args.out.isidentifier():
            raise errors.ConfigurationError(f"bad option: --out {args.out!r} is not a variable name.")
        return args

    def _ask(self, line: str, cell: str) -> None:
        ask = self._prepare(line, cell)
        if ask is None:
            return
        if ask.opts.background and ask.recorded is None and CacheMode(ask.opts.cache) is not \
                CacheMode.REPLAY:
            from .jobs import running_loop
            loop = running_loop()
            if loop is not None:
                self.jobs.start(ask, loop)
                return
            print("Junis: no kernel event loop here: --background runs in the foreground.",
                  flush=True)
        if ask.recorded is not None:
            result = self._replay(ask.recorded, ask.renderer)
        elif CacheMode(ask.opts.cache) is CacheMode.REPLAY:
            raise errors.ConfigurationError(
                f"no recorded answer for this cell in {self._answer_cache().path}: run it once "
                "with the cache on (--cache use, or %config JunisMagics.cache = 'use').")
        else:
            result = self._request(ask.prompt, ask.opts, ask.renderer)
        self._settle(ask, result)

    def _prepare(self, line: str, cell: str) -> Any:
        """Everything before the request: options, the prompt as sent, the turn's place in the
        chain, its cache key and any recorded answer, the renderer. None after a dry run."""
        opts = self._options(line)
        prompt = cell.strip()
        if not prompt:
            raise errors.ConfigurationError("nothing to ask: write the prompt in the cell body.")
        from . import interpolate as interp
        from .context import dry_run, recent_code
        from ..data.prompt import check_prompt
        from .render import StreamRenderer, pick_mode
        if opts.interpolate:
            prompt = interp.interpolate(prompt, self.shell.user_ns,
                                        max_table_rows=self.max_table_rows,
                                        max_string_chars=self.max_string_chars,
                                        errors=self.failures.text)
        if opts.context:
            prompt = recent_code(self.shell, opts.context) + prompt
        prompt = config.scrub_keys(prompt, config.current_key())
        check_prompt(prompt, self.max_prompt_chars, "%config JunisMagics.max_prompt_chars",
                     "it is counted after interpolation: put fewer rows in it, or use "
                     "--no-interpolate.")
        history = self._follow(opts)
        if opts.dry_run:
            self._show(dry_run(prompt, opts.system, history, self.chain.plan(self._cell_id)))
            return None
        cache_mode = CacheMode(opts.cache)
        key = "" if cache_mode is CacheMode.OFF else answer_key(opts.agent, history, prompt, dict(
            system=opts.system, temperature=opts.temperature, max_tokens=opts.max_tokens,
            format=opts.format, session=opts.session))
        mode = pick_mode(self.shell, "text" if opts.format in ("text", "json") else "markdown")
        recorded = None
        if cache_mode in (CacheMode.USE, CacheMode.REPLAY):
            recorded = self._answer_cache().get(key)
        return SimpleNamespace(opts=opts, prompt=prompt, key=key, mode=mode, recorded=recorded,
                               renderer=StreamRenderer(mode, update_hz=self.update_hz,
                                                       max_outputs=self.max_outputs),
                               cell_id=self._cell_id, show=None,
                               count=getattr(self.shell, "execution_count", None))

    def _settle(self, ask: Any, result: ChatResult, *, live: bool = True,
                note: str | None = None) -> None:
        """Everything after the answer: the cache, the chain, _junis and --out, the footer. `live`
        False: the chain moved while the answer was coming (a background cell)."""
        opts, cached = ask.opts, ask.recorded is not None
        if not cached and CacheMode(opts.cache) in (CacheMode.USE, CacheMode.REFRESH) \
                and not result.interrupted:
            self._answer_cache().put(ask.key, Recorded(
                config.scrub(result.text, self._client_for[0] if self._client_for else None),
                result.session_id, opts.agent, result.usage))
        self.chain.record(Turn(ask.cell_id, ask.prompt, result.text, opts.agent,
                               result.session_id, result.usage, cached=cached),
                          live=live and not cached and not result.interrupted)
        self._keep(result, opts)
        self._footer(result, ask.mode, note="cached" if cached else
                     (note or "interrupted") if result.interrupted else None, show=ask.show)
        if result.interrupted:
            raise AnswerInterrupted
        self._post(result, opts)

    def _follow(self, opts: Any) -> tuple[Turn, ...]:
        """Where this turn goes in the notebook's conversation: the turns it follows."""
        if opts.session:
            self.chain.start(opts.session)
        elif opts.new:
            self.chain.start()
        elif self.session and not self.chain.turns and self.chain.session_id is None:
            self.chain.start(self.session)
        return self.chain.before(self._cell_id)

    def _request_args(self, opts: Any, cell_id: str | None) -> dict[str, Any]:
        """Continue the chain's session, or seed a new one with the turns before the cell."""
        plan = self.chain.plan(cell_id)
        return dict(system=opts.system, session_id=plan.session_id, agent=opts.agent,
                    messages=seed_messages(plan.history) if plan.history else None,
                    temperature=opts.temperature, max_tokens=opts.max_tokens)

    def _request(self, prompt: str, opts: Any, renderer: StreamRenderer) -> ChatResult:
        """Ask, streamed into the renderer (or whole)."""
        request = self._request_args(opts, self._cell_id)
        try:
            if opts.stream:
                return self._stream(prompt, request, renderer, opts)
            result = self.client.chat(prompt, **request)
        except BaseException:
            self.chain.lose_sync()      # the server may hold a turn the chain does not
            raise
        renderer.feed(result.text)
        renderer.finish()
        return result

    def _stream(self, prompt: str, request: dict[str, Any], renderer: StreamRenderer,
                opts: Any) -> ChatResult:
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
            self._broken(exc, renderer, opts)
            raise
        renderer.finish()
        return stream.result

    def _broken(self, exc: errors.StreamError, renderer: StreamRenderer, opts: Any) -> None:
        """A stream cut mid-answer: what arrived stays shown, marked, and in `_junis`."""
        renderer.finish(note="cut off")
        self._keep(ChatResult(exc.partial_text or "", exc.session_id, Usage(), None,
                              agent=opts.agent), None)

    def _replay(self, recorded: Recorded, renderer: StreamRenderer) -> ChatResult:
        """A cache hit: shown at once, no request, no credits; the ledger still gets its row."""
        renderer.feed(recorded.answer)
        renderer.finish()
        ledger.record(CallRecord(
            started_at=datetime.now(timezone.utc), endpoint="cache", agent=recorded.agent,
            session_id=recorded.session_id, stream=False, status=None, error_code="cached",
            usage=Usage(), latency_s=0.0, first_token_s=None, request_id=None, attempts=0))
        return ChatResult(recorded.answer, recorded.session_id, recorded.usage, "stop",
                          agent=recorded.agent)

    def _answer_cache(self) -> AnswerCache:
        path = self._cache_file()
        if self._cache is None or self._cache.path != path:
            if self._cache is not None:
                self._cache.close()
            self._cache = AnswerCache(path)
        return self._cache

    def _cache_file(self) -> Path:
        """`cache_path`, else $JUNIS_CACHE_PATH, else beside the notebook, else the data dir."""
        if self.cache_path:
            return Path(self.cache_path).expanduser()
        if os.environ.get(CACHE_PATH_ENV):
            return Path(os.environ[CACHE_PATH_ENV]).expanduser()
        notebook = self.shell.user_ns.get("__session__") or os.environ.get("JPY_SESSION_NAME")
        return default_cache_path(notebook if str(notebook or "").endswith(".ipynb") else None)

    def _keep(self, result: ChatResult, opts: Any) -> None:
        self.last_result = result
        self.shell.user_ns["_junis"] = result
        if opts is not None and opts.out and opts.format != "json":
            self.shell.user_ns[opts.out] = result

    def _footer(self, result: ChatResult, mode: str, note: str | None,
                show: Any = None) -> None:
        from .render import Footer
        footer = Footer(result.session_id, result.usage, agent=result.agent, note=note)
        if mode == "terminal":
            print("\n" + repr(footer), flush=True)
        else:
            (show or self._show)(footer, metadata=footer.metadata())

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
    ipython.events.register("pre_run_cell", _instance.pre_run_cell)
    ipython.events.register("post_run_cell", _instance.post_run_cell)
    ledger.install()
    from ..data import background
    if _adopt not in background.ADOPTERS:
        background.ADOPTERS.append(_adopt)
    from ..client import limiter
    limiter.install(_instance.max_concurrent)
    if _await_wait not in ipython.input_transformers_post:
        ipython.input_transformers_post.append(_await_wait)


def unload(ipython: Any) -> None:
    global _instance
    if _instance is not None:
        _instance.reset_client()
        for event, hook in (("pre_run_cell", _instance.pre_run_cell),
                            ("post_run_cell", _instance.post_run_cell)):
            if hook in ipython.events.callbacks[event]:
                ipython.events.unregister(event, hook)
        for kind in ("line", "cell"):
            ipython.magics_manager.magics[kind].pop("junis", None)
        ipython.magics_manager.registry.pop("JunisMagics", None)
        if _instance in ipython.configurables:
            ipython.configurables.remove(_instance)
        _instance = None
    ledger.uninstall()
    from ..data import background
    while _adopt in background.ADOPTERS:
        background.ADOPTERS.remove(_adopt)
    from ..client import limiter
    limiter.uninstall()
    while _await_wait in ipython.input_transformers_post:
        ipython.input_transformers_post.remove(_await_wait)


def _adopt(job: Any) -> None:
    """A background batch (data/background.py) joins this kernel's job list."""
    if _instance is not None:
        _instance.jobs.adopt(job)


def _await_wait(lines: list[str]) -> list[str]:
    """The input transformer that makes `%junis wait` an awaited wait (jobs.await_wait); the jobs
    module is imported only for a cell that has the line, not at `%load_ext`."""
    if not any("run_line_magic('junis', 'wait" in line for line in lines):
        return lines
    from .jobs import await_wait
    return await_wait(lines)
