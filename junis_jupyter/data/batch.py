"""`ask_many`: one question per item (or per DataFrame row), a few at a time, as a DataFrame.

Calls run on a pool of worker threads over one blocking client, so it works the same in a script
and in a notebook cell (which already runs on the kernel's event loop: no nested loop needed).
A rate limit pauses every worker until the server's `Retry-After` has passed, then the row is tried
again (a bounded number of times); any other error is that row's `error`, not the batch's.
"""
from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..advice import Surface, advise
from ..errors import ConfigurationError, JunisError, RateLimitError

if TYPE_CHECKING:
    import pandas as pd

    from ..client.sync import JunisClient
    from ..client.types import Agent, ChatResult

__all__ = ["ask_many", "render_prompts"]

_PROGRESS_OVER = 5
_DEFAULT_WAIT = 1.0      # seconds, when a 429 names no Retry-After
_MAX_WAIT = 120.0
_INTERRUPTED = "interrupted: the batch was stopped before this row finished"


class _Gate:
    """Shared by the workers: when one meets a rate limit, all wait until it has passed."""

    def __init__(self, stop: threading.Event) -> None:
        self._lock = threading.Lock()
        self._resume_at = 0.0
        self._stop = stop

    def pause(self, seconds: float | None) -> None:
        wait = min(_MAX_WAIT, seconds if seconds and seconds > 0 else _DEFAULT_WAIT)
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + wait)

    def wait(self) -> bool:
        """Sleep until the pause is over; False if the batch was stopped meanwhile."""
        while not self._stop.is_set():
            with self._lock:
                left = self._resume_at - time.monotonic()
            if left <= 0:
                return True
            self._stop.wait(left)
        return False


@dataclass
class _Row:
    answer: str | None = None
    session_id: str | None = None
    tokens: int | None = None
    latency: float | None = None
    error: str | None = None


def _ask(client: JunisClient, prompt: str, gate: _Gate, retries: int,
         chat_kwargs: dict[str, Any]) -> _Row:
    rate_limited = 0
    while gate.wait():
        started = time.perf_counter()
        try:
            result: ChatResult = client.chat(prompt, **chat_kwargs)
        except RateLimitError as exc:
            if rate_limited == retries:
                return _Row(error=advise(exc, Surface.BATCH))
            rate_limited += 1
            gate.pause(exc.retry_after)
        except JunisError as exc:
            return _Row(error=advise(exc, Surface.BATCH))
        else:
            latency = result.latency_s if result.latency_s is not None \
                else time.perf_counter() - started
            return _Row(result.text, result.session_id, result.usage.total_tokens, latency)
    return _Row(error=_INTERRUPTED)


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


def ask_many(items: Iterable[Any], agent: str | Agent | None = None, concurrency: int = 5,
             template: str | None = None, client: JunisClient | None = None, *,
             rate_limit_retries: int = 8, progress: bool | None = None,
             **chat_kwargs: Any) -> pd.DataFrame:
    """Ask one question per item; a DataFrame (input, answer, session_id, tokens, latency, error)
    in input order (a Series or DataFrame keeps its index; a DataFrame's rows fill the template's
    `{column}`s). Each question starts its own session.

    `concurrency` is how many calls are in flight (Basic plan: 5, Pro: 20). A rate-limited row
    waits for `Retry-After` and is tried again up to `rate_limit_retries` times. A failed row has
    its `error` set and the others carry on. Stopping the cell returns the rows done so far (the
    rest marked interrupted) with a warning.
    """
    import pandas as pd
    index = items.index if isinstance(items, (pd.Series, pd.DataFrame)) else None
    values = items.to_dict("records") if isinstance(items, pd.DataFrame) else list(items)
    return run(values, render_prompts(values, template), index=index, agent=agent,
               concurrency=concurrency, client=client, rate_limit_retries=rate_limit_retries,
               progress=progress, chat_kwargs=chat_kwargs)


def run(items: Sequence[Any], prompts: Sequence[str], *, index: Any, agent: str | Agent | None,
        concurrency: int, client: JunisClient | None, rate_limit_retries: int,
        progress: bool | None, chat_kwargs: dict[str, Any]) -> pd.DataFrame:
    """The batch itself, for prompts already rendered (shared with the DataFrame accessor)."""
    from . import frames
    if concurrency < 1:
        raise ConfigurationError("concurrency must be at least 1.")
    if rate_limit_retries < 0:
        raise ConfigurationError("rate_limit_retries must be 0 or more.")
    with frames.sync_client(client, "ask_many") as c:
        if isinstance(agent, str):
            agent = c.resolve_agent(agent)     # once, and an unknown name fails here
        rows = _run_rows(c, prompts, agent, concurrency, rate_limit_retries, progress,
                         chat_kwargs)
    return frames.build("batch", {
        "input": list(prompts), "answer": [r.answer for r in rows],
        "session_id": [r.session_id for r in rows], "tokens": [r.tokens for r in rows],
        "latency": [r.latency for r in rows], "error": [r.error for r in rows],
    }, index=index)


def _run_rows(client: JunisClient, prompts: Sequence[str], agent: Agent | None,
              concurrency: int, retries: int, progress: bool | None,
              chat_kwargs: dict[str, Any]) -> list[_Row]:
    from tqdm.auto import tqdm
    rows: list[_Row | None] = [None] * len(prompts)
    if not prompts:
        return []
    stop = threading.Event()
    gate = _Gate(stop)
    kwargs = {**chat_kwargs, "agent": agent}
    show = len(prompts) > _PROGRESS_OVER if progress is None else progress
    pool = ThreadPoolExecutor(max_workers=min(concurrency, len(prompts)),
                              thread_name_prefix="junis-ask-many")
    futures: dict[Future[_Row], int] = {
        pool.submit(_ask, client, p, gate, retries, kwargs): i for i, p in enumerate(prompts)}
    bar = tqdm(total=len(prompts), desc="ask_many", unit="row", disable=not show)
    try:
        for future in as_completed(futures):
            rows[futures[future]] = future.result()
            bar.update(1)
    except KeyboardInterrupt:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)     # calls in flight finish
        for future, i in futures.items():
            if rows[i] is None and future.done() and not future.cancelled():
                rows[i] = future.result()
        done = sum(r is not None and r.error != _INTERRUPTED for r in rows)
        warnings.warn(f"ask_many stopped: {done} of {len(prompts)} rows done; the others have "
                      "error 'interrupted'.", RuntimeWarning, stacklevel=4)
    except BaseException:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        bar.close()
        pool.shutdown(wait=True)
    return [r if r is not None else _Row(error=_INTERRUPTED) for r in rows]
