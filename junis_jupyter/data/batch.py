"""`ask_many`: one question per item (or per DataFrame row), a few at a time, as a DataFrame.

Calls run on the pool's worker threads (`client.pool.run_threads`) over one blocking client, so it
works the same in a script and in a notebook cell (which already runs on the kernel's event loop:
no nested loop needed). A rate limit pauses every worker until the server's `Retry-After` has
passed, then the row is tried again (a bounded number of times); any other error is that row's
`error`, not the batch's. The pool also paces the calls from the rate-limit headers, so a batch
larger than the key's window is spread over it rather than meeting 429s.

`checkpoint=PATH` writes each row to a SQLite file as it arrives (`checkpoint.py`); the same call
again asks only the rows not yet answered. A checkpoint that stops saving mid-batch (a full disk)
is one warning, and the batch still returns every row: answers paid for are never lost to a
file. `dry_run=True` returns an `Estimate` and makes no request (`estimate.py`).

Everything that can be refused is refused before the first request, in one line: a bad
`concurrency`, `rate_limit_retries` or `max_prompt_chars`, a row whose prompt is over
`max_prompt_chars` (the magic's cap: then no row is sent), a checkpoint of another batch, or
one that cannot be written while rows are left to ask.

`run` is the batch's core, callable from any thread: a background job passes `stop` (a
threading.Event it sets to cancel), `on_row` for its own progress and `progress=False`.
"""
from __future__ import annotations

import numbers
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..advice import Surface, advise
from ..client.pool import UNFINISHED, Pacer, Stopped, run_threads
from ..errors import ConfigurationError, JunisError
from .cache import CacheMode, answer_key, batch_cache
from .checkpoint import Checkpoint, Recorded
from .default_client import checked_sync
from .estimate import Estimate, estimate
from .pipeline import AnswerPipeline, AnswerRequest, NullView, Origin
from .place import Place
from .place import current as current_place
from .progress import row_bar
from .prompt import MAX_PROMPT_CHARS, check_prompt
from .text import storable

if TYPE_CHECKING:
    import pandas as pd

    from ..client.sync import JunisClient
    from ..client.types import Agent
    from .background import BatchJob

__all__ = ["ask_many", "prepare", "render_prompts", "run"]

OnRow = Callable[[int, int, int], None]     # (rows done, rows in all, rows failed)

_INTERRUPTED = "interrupted: the batch was stopped before this row finished"


@dataclass
class _Row:
    answer: str | None = None
    session_id: str | None = None
    tokens: int | None = None
    latency: float | None = None
    error: str | None = None
    rate_limit: Any = None          # the headers that came with the answer: the pool paces on it


def _row(outcome: Any) -> _Row:
    if outcome is UNFINISHED:
        return _Row(error=_INTERRUPTED)
    if isinstance(outcome, JunisError):
        return _Row(error=storable(advise(outcome, Surface.BATCH)))
    return outcome


def _count(name: str, value: Any, least: int) -> int:
    """`value` as a whole number of at least `least`, or one ConfigurationError naming the
    option (nan, inf, 2.5, True and "5" are refused: nan once made a batch wait forever)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigurationError(f"ask_many: {name} must be a whole number of at least "
                                 f"{least}, not {value!r}.")
    if value < least:
        raise ConfigurationError(f"ask_many: {name} must be at least {least}, not {value}.")
    return int(value)


def _check_prompts(prompts: Sequence[str], index: Any, limit: int) -> None:
    """Refuse the batch, before anything is sent, when any row's prompt is over `limit`: one
    line naming the first such rows (by index label when the items had an index), the first's
    length and the parameter."""
    over = [i for i, p in enumerate(prompts) if len(p) > limit]
    if not over:
        return
    labels = [str(x) if isinstance(x, numbers.Integral) else repr(x) for x in index] \
        if index is not None else [str(i) for i in range(len(prompts))]
    if len(over) == 1:
        which, them = "", "it"
    else:
        named = ", ".join(labels[i] for i in over[:5])
        more = f" and {len(over) - 5:,} more" if len(over) > 5 else ""
        which, them = f"rows {named}{more} are over it; ", "them"
    check_prompt(prompts[over[0]], limit, "ask_many(max_prompt_chars=...)",
                 f"{which}nothing was sent: shorten {them}, or pass a larger max_prompt_chars.",
                 what=f"the prompt of row {labels[over[0]]}")


def render_prompts(items: Sequence[Any], template: str | None) -> list[str]:
    """The prompt of each item: `template.format_map(row)` for rows (mappings), else
    `template.format(item, input=item)` (so `{}` or `{input}`); the item itself without template."""
    prompts = []
    for item in items:
        if template is None:
            if not isinstance(item, str):
                raise ConfigurationError(
                    f"ask_many got a {type(item).__name__} item and no template: pass "
                    "template='... {column} ...' for rows, or strings.")
            prompts.append(item)
            continue
        try:
            if isinstance(item, Mapping):
                prompts.append(template.format_map({str(k): v for k, v in item.items()}))
            else:
                prompts.append(template.format(item, input=item))
        except KeyError as exc:
            names = ", ".join(map(str, item)) if isinstance(item, Mapping) else "input"
            raise ConfigurationError(
                f"the template names {{{exc.args[0]}}}, which is not one of: {names}. "
                "Write literal braces as {{ and }}.") from None
        except (IndexError, ValueError) as exc:
            raise ConfigurationError(f"bad template {template!r}: {exc}") from None
    return prompts


def prepare(items: Iterable[Any], template: str | None) -> tuple[list[Any], list[str], Any]:
    """(values, prompts, index) of `ask_many`'s items: a DataFrame's rows as mappings, the
    rendered prompts, and the Series' or DataFrame's index (None for other iterables)."""
    import pandas as pd
    index = items.index if isinstance(items, (pd.Series, pd.DataFrame)) else None
    values = items.to_dict("records") if isinstance(items, pd.DataFrame) else list(items)
    return values, render_prompts(values, template), index


def ask_many(items: Iterable[Any], agent: str | Agent | None = None, concurrency: int = 5,
             template: str | None = None, client: JunisClient | None = None, *,
             rate_limit_retries: int = 8, progress: bool | None = None,
             checkpoint: str | os.PathLike[str] | None = None, dry_run: bool = False,
             model: str | None = None, extra_body: dict[str, Any] | None = None,
             background: bool = False, max_prompt_chars: int = MAX_PROMPT_CHARS,
             cache: str | None = None, **chat_kwargs: Any) -> pd.DataFrame | Estimate | BatchJob:
    """Ask one question per item; a DataFrame (input, answer, session_id, tokens, latency, error)
    in input order (a Series or DataFrame keeps its index; a DataFrame's rows fill the template's
    `{column}`s). Each question starts its own session.

    `concurrency` is how many calls are in flight (Basic plan: 5, Pro: 20). A rate-limited row
    waits for `Retry-After` and is tried again up to `rate_limit_retries` times. A failed row has
    its `error` set and the others carry on. Stopping the cell returns the rows done so far (the
    rest marked interrupted) with a warning.

    `checkpoint=PATH` records each row in a SQLite file as it arrives; running the same call
    again asks only the rows not yet answered (failed rows are asked again) and returns them
    all. A checkpoint of other prompts or options is refused. `dry_run=True` returns an
    `Estimate` (rows, prompt tokens, time at the rate limit) and makes no request. `model` and
    `extra_body` go to every `chat` call, as do other keyword arguments (temperature, ...).
    `background=True` returns a `BatchJob` at once and asks in a worker thread (`%junis jobs`
    lists it; `job.wait()` gives the frame; `job.stop()` or `%junis cancel` stops it).
    `max_prompt_chars` caps each row's prompt as the magic caps a cell's (100,000 characters):
    a row over it refuses the whole batch before anything is sent, naming the rows.
    `cache` is the answer cache's mode for the rows, as the magic's: off, use (a row answered
    before is not asked again), replay (no request at all; a row never answered is an error) or
    refresh. Default: the magic's `JunisMagics.cache` and its file when the extension is loaded,
    else $JUNIS_CACHE (else off).
    """
    values, prompts, index = prepare(items, template)
    return run(values, prompts, index=index, agent=agent, concurrency=concurrency, client=client,
               rate_limit_retries=rate_limit_retries, progress=progress, chat_kwargs=chat_kwargs,
               checkpoint=checkpoint, dry_run=dry_run, model=model, extra_body=extra_body,
               background=background, max_prompt_chars=max_prompt_chars, cache=cache)


def _pipeline(mode: str | None) -> AnswerPipeline:
    """The rows' answer path: the cache in `mode`, or (None) the batch default's."""
    default_mode, path = batch_cache()
    try:
        chosen = default_mode if mode is None else CacheMode(mode)
    except ValueError:
        modes = ", ".join(m.value for m in CacheMode)
        raise ConfigurationError(f"ask_many: cache must be one of {modes}, not {mode!r}.") \
            from None
    from .cache import AnswerCache
    return AnswerPipeline(None if chosen is CacheMode.OFF else AnswerCache(path), chosen,
                          subject="this row",
                          replay_hint="run the batch once with cache='use'")


def _agent_key(agent: Any) -> Any:
    return agent if agent is None or isinstance(agent, str) else getattr(agent, "id", repr(agent))


def run(items: Sequence[Any], prompts: Sequence[str], *, index: Any, agent: str | Agent | None,
        concurrency: int, client: JunisClient | None, rate_limit_retries: int,
        progress: bool | None, chat_kwargs: dict[str, Any],
        checkpoint: str | os.PathLike[str] | None = None, dry_run: bool = False,
        model: str | None = None, extra_body: dict[str, Any] | None = None,
        stop: threading.Event | None = None, on_row: OnRow | None = None,
        pacer: Pacer | None = None, background: bool = False,
        max_prompt_chars: int = MAX_PROMPT_CHARS,
        cache: str | None = None, name: str = "ask_many",
        place: Place | None = None) -> pd.DataFrame | Estimate | BatchJob:
    """The batch itself, for prompts already rendered (shared with the DataFrame accessor).

    Callable from any thread. `stop`: set it to cancel (calls in flight finish, the rest are
    marked interrupted, recorded rows stay in the checkpoint). `on_row(done, total, failed)` is
    called on the calling thread as each row finishes. `pacer`: share one to pace several
    batches on one key together (each batch has its own otherwise). `background`: the same
    batch in a worker thread, returned at once as a `BatchJob` (data/background.py).
    `max_prompt_chars`: the longest prompt a row may send (any row over it refuses the batch).
    `cache`: the answer cache's mode (see `ask_many`). `name`: the call the user made, which
    the progress bar shows (`df.junis.ask` for the accessor). `place`: the notebook and cell the
    batch was started from (default: as the extension says, read on the calling thread)."""
    from .schemas import build
    pipeline = _pipeline(cache)
    place = current_place() if place is None else place
    concurrency = _count("concurrency", concurrency, 1)
    rate_limit_retries = _count("rate_limit_retries", rate_limit_retries, 0)
    _check_prompts(prompts, index, _count("max_prompt_chars", max_prompt_chars, 1))
    if background:
        if dry_run:
            raise ConfigurationError("a dry run makes no request: it has nothing to run in the "
                                     "background (leave out background=True).")
        from . import background as jobs
        return jobs.start(lambda stop, on_row: run(
            items, prompts, index=index, agent=agent, concurrency=concurrency, client=client,
            rate_limit_retries=rate_limit_retries, progress=False, chat_kwargs=chat_kwargs,
            checkpoint=checkpoint, model=model, extra_body=extra_body, stop=stop, on_row=on_row,
            pacer=pacer, max_prompt_chars=max_prompt_chars, cache=pipeline.mode.value,
            name=name, place=place), total=len(prompts), agent=agent, progress=progress, name=name)
    extras = {k: v for k, v in (("model", model), ("extra_body", extra_body)) if v is not None}
    kwargs = {**chat_kwargs, **extras}
    options = {**kwargs, "agent": _agent_key(agent)}
    n = len(prompts)
    store = Checkpoint.open(checkpoint, prompts, options, create=not dry_run) \
        if checkpoint is not None else None
    try:
        done = store.done() if store is not None else {}
        rows: list[_Row | None] = [None] * n
        for position, got in done.items():
            rows[position] = _Row(got.answer, got.session_id, got.tokens, got.latency)
        todo = [i for i in range(n) if rows[i] is None]
        if store is not None and store.read_only is not None and todo and not dry_run:
            raise ConfigurationError(
                f"checkpoint {store.path} cannot be written ({store.read_only}): it holds "
                f"{n - len(todo):,} of the {n:,} rows, and the other {len(todo):,} would not be "
                "saved. Nothing was sent: copy it to a folder you can write to and pass the "
                "copy.")
        if dry_run:
            return estimate([prompts[i] for i in todo], rows=n, system=kwargs.get("system"),
                            rate_limit=getattr(client, "rate_limit", None))
        interrupted = _ask(todo, prompts, rows, store, agent=agent, kwargs=kwargs,
                           concurrency=concurrency, client=client,
                           rate_limit_retries=rate_limit_retries, progress=progress, stop=stop,
                           on_row=on_row, pacer=pacer, already=n - len(todo),
                           pipeline=pipeline, name=name, place=place)
    finally:
        if store is not None:
            store.close()
    final = [r if r is not None else _Row(error=_INTERRUPTED) for r in rows]
    if interrupted is not None and not isinstance(interrupted, Stopped):
        finished = sum(r.error != _INTERRUPTED for r in final)
        again = (" Run it again with the same checkpoint to ask only the rest."
                 if checkpoint is not None else "")
        warnings.warn(f"ask_many stopped: {finished} of {n} rows done; the others "
                      f"have error 'interrupted'.{again}", RuntimeWarning, stacklevel=3)
    return build("batch", {
        "input": list(prompts), "answer": [r.answer for r in final],
        "session_id": [r.session_id for r in final], "tokens": [r.tokens for r in final],
        "latency": [r.latency for r in final], "error": [r.error for r in final],
    }, index=index)


class _Rows:
    """How one row is asked: through the answer pipeline (its cache, then the service, whole),
    on a client made at the first row the cache cannot answer (a batch replayed from the cache
    needs no key and makes no request), the agent's name resolved once."""

    def __init__(self, client: JunisClient | None, agent: Any, kwargs: dict[str, Any],
                 pipeline: AnswerPipeline, place: Place) -> None:
        self._given = client
        self._place = place
        self._agent = agent
        self._kwargs = kwargs
        self._pipeline = pipeline
        self._lock = threading.Lock()
        self._client: JunisClient | None = None
        self._owned: JunisClient | None = None

    def client(self) -> JunisClient:
        with self._lock:
            if self._client is None:
                if self._given is None:
                    from ..client.sync import JunisClient
                    self._owned = JunisClient()
                    client = self._owned
                else:
                    client = checked_sync(self._given, "ask_many")
                if isinstance(self._agent, str):
                    self._agent = client.resolve_agent(self._agent)   # an unknown name fails here
                    if self._agent.is_active is False:
                        warnings.warn(f"ask_many: the agent {self._agent.name} is inactive "
                                      "(is_active False in frames.agents()); asking it anyway.",
                                      RuntimeWarning, stacklevel=2)
                self._client = client
            return self._client

    def request(self, prompt: str) -> AnswerRequest:
        kw = self._kwargs
        return AnswerRequest(
            prompt, agent=self._agent, session_id=kw.get("session_id"), system=kw.get("system"),
            temperature=kw.get("temperature"), max_tokens=kw.get("max_tokens"),
            model=kw.get("model"), extra_body=kw.get("extra_body"), stream=False,
            origin=Origin.BATCH, notebook=self._place[0], cell_id=self._place[1],
            cache_key="" if self._pipeline.cache is None else answer_key(
                _agent_key(self._agent), (), prompt, {**kw, "surface": "batch"}))

    def ask(self, prompt: str) -> _Row:
        started = time.perf_counter()
        result = self._pipeline.ask(self.client, self.request(prompt), NullView()).result
        latency = result.latency_s if result.latency_s is not None \
            else time.perf_counter() - started
        return _Row(storable(result.text), storable(result.session_id),
                    result.usage.total_tokens, latency, rate_limit=result.rate_limit)

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()


def _ask(todo: list[int], prompts: Sequence[str], rows: list[_Row | None],
         store: Checkpoint | None, *, agent: Any, kwargs: dict[str, Any], concurrency: int,
         client: JunisClient | None, rate_limit_retries: int, progress: bool | None,
         stop: threading.Event | None, on_row: OnRow | None, pacer: Pacer | None,
         already: int, pipeline: AnswerPipeline, name: str,
         place: Place) -> BaseException | None:
    """Ask the rows `todo`, filling `rows` (and the checkpoint) as each arrives; the interrupt
    that stopped it early, if one did."""
    if not todo:
        return None
    n = len(prompts)
    failed = 0
    asker = _Rows(client, agent, kwargs, pipeline, place)
    if client is not None:
        checked_sync(client, "ask_many")
    if pipeline.mode is CacheMode.OFF:
        asker.client()          # a name that is no agent fails the batch here, before any row
    try:
        if pacer is None:
            pacer = Pacer()
        pacer.seen(getattr(client, "rate_limit", None))   # the client's last response, if any

        with row_bar(n, already, name, progress) as bar:
            finished = already

            def arrived(i: int, outcome: Any) -> None:
                nonlocal failed, finished
                row = _row(outcome)
                position = todo[i]
                rows[position] = row
                if store is not None and store.stopped is None and not store.record(
                        position, Recorded(row.answer, row.session_id, row.tokens,
                                           row.latency, row.error)):
                    warnings.warn(
                        f"ask_many: checkpoint {store.path} stopped saving at row {position} "
                        f"({store.stopped}): the batch goes on and returns every row, but the "
                        "rows from here on are not in the file, so a re-run asks them again.",
                        RuntimeWarning, stacklevel=2)
                finished += 1
                failed += row.error is not None
                if bar is not None:
                    bar.row(row.error is not None)
                if on_row is not None:
                    on_row(finished, n, failed)

            done = run_threads(asker.ask, [prompts[i] for i in todo], concurrency=concurrency,
                               rate_limit_retries=rate_limit_retries, on_outcome=arrived,
                               pacer=pacer, stop=stop, name="junis-ask-many")
    finally:
        asker.close()
    return done.interrupted
