"""One `%%junis` cell, from its line and body to what it leaves: the cell's own steps around the
answer pipeline (`data/pipeline.py`).

    prepare   options, the prompt as sent (interpolated, with context, masked, capped: every
              cut kept, for the footer), its place in the notebook's conversation (chain.py),
              its cache key                                                   -> a CellRequest
    ask       the pipeline: the cache, or the service streamed into the cell's view
    conclude  the chain, `_junis` and `--out`, the footer, `--format code|json`

A foreground and a background cell are the same steps with a different view: a renderer that
settles finished blocks into outputs of their own, or one display a job updates in place
(jobs.py). Either way the pipeline is the one every surface uses.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import errors
from ..client.types import ChatResult, Usage
from ..data import estimate
from ..data.background import JobState
from ..data.cache import CacheMode, answer_key
from ..data.cuts import Cut, Cutter
from ..data.pipeline import Answer, AnswerRequest, Origin
from ..data.provenance import stamp
from .cellerror import AnswerInterrupted
from .chain import CellTurn
from .state import KernelState, say

if TYPE_CHECKING:
    from ..client.aio import AsyncJunisClient
    from .jobs import Job
    from .options import CellOptions
    from .render import StreamRenderer

__all__ = ["CellRequest", "CellPipeline"]


@dataclass(frozen=True)
class CellRequest:
    """What one cell asks, and where its answer goes in the notebook."""
    opts: CellOptions
    answer: AnswerRequest           # the prompt as sent, the agent, the session or the history
    cell_id: str | None
    count: int | None               # the cell's execution count
    mode: str                       # how the answer is drawn: markdown, text or terminal
    cuts: tuple[Cut, ...] = ()      # what was shortened on its way into the prompt


class _JobView:
    """A background answer's view: the job's renderer, and its token estimate as text arrives."""

    def __init__(self, job: Job, renderer: StreamRenderer) -> None:
        self.job = job
        self.renderer = renderer

    def feed(self, text: str) -> None:
        self.renderer.feed(text)
        self.job.tokens = estimate.tokens(self.renderer.text)

    def finish(self, note: str | None = None) -> None:
        self.renderer.finish(note)


class CellPipeline:
    def __init__(self, state: KernelState) -> None:
        self.state = state

    # -- prepare ----------------------------------------------------------------------------

    def prepare(self, line: str, cell: str) -> CellRequest | None:
        """Everything before the request; None after a dry run (shown, nothing sent)."""
        state = self.state
        opts = state.options(line)
        prompt = cell.strip()
        if not prompt:
            raise errors.ConfigurationError("nothing to ask: write the prompt in the cell body.")
        from ..data.prompt import check_prompt
        from .context import dry_run, recent_code
        from .render import pick_mode
        from .views import VIEW_CAP
        cutter = Cutter()
        if opts.interpolate:
            from .interpolate import interpolate
            prompt = interpolate(prompt, state.shell.user_ns, max_table_rows=opts.max_table_rows,
                                 max_string_chars=opts.max_string_chars,
                                 errors=state.failures.text, cutter=cutter,
                                 max_prompt_chars=opts.max_prompt_chars)
        if opts.context:
            prompt = recent_code(state.shell, opts.context, cutter=cutter,
                                 max_chars=max(opts.max_string_chars, VIEW_CAP)) + prompt
        prompt = cutter.mask(prompt)
        cuts = tuple(cutter.cuts)
        check_prompt(prompt, opts.max_prompt_chars, "%config JunisMagics.max_prompt_chars",
                     "it is counted after interpolation: put fewer rows in it, or use "
                     "--no-interpolate.")
        cell_id = state.cell_id
        history = self._follow(opts, cell_id)
        plan = state.chain.plan(cell_id)
        if opts.dry_run:
            state.show(dry_run(prompt, opts.system, history, plan, cutter))
            return None
        key = "" if CacheMode(opts.cache) is CacheMode.OFF else answer_key(
            opts.agent, [(t.agent, t.prompt, t.answer) for t in history], prompt, dict(
                system=opts.system, temperature=opts.temperature, max_tokens=opts.max_tokens,
                format=opts.format, session=opts.session))
        request = AnswerRequest(
            prompt, agent=opts.agent, session_id=plan.session_id,
            history=tuple((t.prompt, t.answer) for t in plan.history), system=opts.system,
            temperature=opts.temperature, max_tokens=opts.max_tokens, stream=opts.stream,
            cache_key=key, origin=Origin.BACKGROUND if opts.background else Origin.CELL,
            notebook=state.notebook_path(), cell_id=cell_id)
        mode = pick_mode(state.shell, "text" if opts.format in ("text", "json") else "markdown")
        return CellRequest(opts, request, cell_id, state.cell_count(), mode, cuts)

    def _follow(self, opts: CellOptions, cell_id: str | None) -> tuple[CellTurn, ...]:
        """Where this turn goes in the notebook's conversation: the turns it follows."""
        chain = self.state.chain
        if "session" in opts.given:
            chain.start(opts.session)
        elif opts.new:
            chain.start()
        elif opts.session and not chain.turns and chain.session_id is None:
            chain.start(opts.session)           # the setting: continued when none is current
        return chain.before(cell_id)

    # -- run --------------------------------------------------------------------------------

    def run(self, line: str, cell: str) -> None:
        """The cell: prepared, answered (or handed to a background job), settled."""
        request = self.prepare(line, cell)
        if request is None:
            return
        opts = request.opts
        pipeline = self.state.pipeline(opts)
        hit = pipeline.lookup(request.answer)
        if opts.background and hit is None and pipeline.mode is not CacheMode.REPLAY:
            from .jobs import running_loop
            loop = running_loop()
            if loop is not None:
                self.state.jobs.start(request.count, opts.agent, loop,
                                      lambda job: self._background(job, request))
                return
            print("Junis: no kernel event loop here: --background runs in the foreground.",
                  flush=True)
        if hit is None and pipeline.mode is not CacheMode.REPLAY:
            self._warn_inactive(opts.agent)
        renderer = self.renderer(request)
        if hit is not None:
            answer = pipeline.replay(hit, renderer, request.answer)
        else:
            try:
                answer = pipeline.ask(lambda: self.state.client, request.answer, renderer)
            except errors.StreamError as exc:
                self.keep_broken(exc, request)
                raise
            except BaseException:
                self.state.chain.lose_sync()    # the server may hold a turn the chain does not
                raise
        self.conclude(request, answer)

    def _warn_inactive(self, agent: str | None) -> None:
        """One line before asking an agent the service lists as inactive (it may still answer,
        and did, with no word of it)."""
        if agent is None:
            return
        found = self.state.client.resolve_agent(agent)    # listed once per client, then known
        if found.is_active is False:
            say(f"the agent {found.name} is inactive (is_active False in `%junis agents`); "
                "asking it anyway.")

    def renderer(self, request: CellRequest, **kwargs: Any) -> StreamRenderer:
        from .render import StreamRenderer
        opts = request.opts
        kwargs.setdefault("max_outputs", opts.max_outputs)
        kwargs.setdefault("highlight", opts.highlight)
        return StreamRenderer(request.mode, update_hz=opts.update_hz, **kwargs)

    async def _background(self, job: Job, request: CellRequest) -> None:
        """A background cell's answer, asked on the kernel's loop into the job's display, then
        settled as any cell. The server's session gets this turn only when it ends: cells run
        meanwhile fork from the chain rather than pile onto that session, and the turn is live
        only if the chain did not move meanwhile."""
        import asyncio

        from ..advice import Surface, advise
        chain = self.state.chain
        job.renderer = self.renderer(request, display=job.into, segment_chars=1 << 62)
        chain.lose_sync()
        turns = list(chain.turns)
        job.state = JobState.RUNNING
        client = None

        def made() -> AsyncJunisClient:
            nonlocal client
            client = self.state.client.to_async()
            return client

        try:
            answer = await self.state.pipeline(request.opts).aask(
                made, request.answer, _JobView(job, job.renderer), stopped="cancelled")
        except asyncio.CancelledError:          # before an answer began
            chain.lose_sync()
            job.renderer.finish(note="cancelled")
            job.state = JobState.CANCELLED
            return
        except Exception as exc:                # noqa: BLE001 - the cell's one line, in the job
            chain.lose_sync()
            if isinstance(exc, errors.StreamError):
                self.keep_broken(exc, request)
            job.fail(advise(exc, Surface.CELL, base_url=self.state.base_url()))
            return
        finally:
            if client is not None:
                await client.aclose()
        live = list(chain.turns) == turns and chain.plan(None).session_id is None
        job.result = answer.result
        job.tokens = answer.result.usage.completion_tokens or job.tokens
        try:
            self.conclude(request, answer, live=live, show=job.show)
        except AnswerInterrupted:
            pass
        job.state = JobState.CANCELLED if answer.result.interrupted else JobState.DONE

    def keep_broken(self, exc: errors.StreamError, request: CellRequest) -> None:
        """A stream cut mid-answer: what arrived stays shown (the view said "cut off") and is
        kept in `_junis`."""
        self.state.chain.lose_sync()
        self.state.keep(ChatResult(exc.partial_text or "", exc.session_id, Usage(), None,
                                   agent=request.opts.agent))

    # -- conclude ---------------------------------------------------------------------------

    def conclude(self, request: CellRequest, answer: Answer, *, live: bool = True,
               show: Callable[..., Any] | None = None) -> None:
        """Everything after the answer: the chain, `_junis` and `--out`, the footer, the format.
        `live` False: the chain moved while the answer was coming (a background cell); `show`:
        where the footer goes (a background cell's own display)."""
        result, opts, cached = answer.result, request.opts, answer.cached
        self.state.chain.record(
            CellTurn(request.cell_id, request.answer.prompt, result.text, opts.agent,
                 result.session_id, result.usage, cached=cached, count=request.count),
            live=live and not cached and not result.interrupted)
        self.state.keep(result, opts.out if opts.format != "json" else None)
        stopped = "cancelled" if request.answer.origin is Origin.BACKGROUND else "interrupted"
        self._footer(result, request.mode, "cached" if cached else
                     stopped if result.interrupted else None, show,
                     stamp(result, cache_key=request.answer.cache_key, cached=cached),
                     _context_warning(result.usage.prompt_tokens, opts.warn_prompt_tokens),
                     request.cuts)
        if result.interrupted:
            raise AnswerInterrupted
        self._post(result, opts)

    def _footer(self, result: ChatResult, mode: str, note: str | None,
                show: Callable[..., Any] | None, provenance: dict[str, Any],
                warning: str | None, cuts: tuple[Cut, ...]) -> None:
        from .render import Footer
        footer = Footer(result.session_id, result.usage, agent=result.agent, note=note,
                        provenance=provenance, warning=warning, cuts=cuts)
        if mode == "terminal":
            print("\n" + repr(footer), flush=True)
        else:
            (show or self.state.show)(footer, metadata=footer.metadata())

    def _post(self, result: ChatResult, opts: CellOptions) -> None:
        from .fences import first_code_block, parse_json_answer
        if opts.format == "code":
            block = first_code_block(result.text)
            if block is None:
                say("the answer has no code block, so no new cell was made.")
            else:
                self.state.shell.set_next_input(block[1], replace=False)
        elif opts.format == "json":
            try:
                value = parse_json_answer(result.text)
            except ValueError as exc:
                say(f"the answer is not JSON ({exc}); it is shown above as text and kept in "
                    "_junis.")
                return
            if opts.out:
                self.state.shell.user_ns[opts.out] = value
            self.state.show(value)


def _context_warning(prompt_tokens: int, limit: int) -> str | None:
    """A line for an answer whose prompt carried more than `limit` tokens: a later cell carries
    the whole conversation (a table sent earlier too), and the cost grows with it unsaid."""
    if not limit or prompt_tokens <= limit:
        return None
    return (f"this prompt carried {prompt_tokens:,} tokens (over {limit:,}, "
            "JunisMagics.warn_prompt_tokens): the conversation so far goes with each cell; "
            "--new starts afresh")
