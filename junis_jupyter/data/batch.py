"""`ask_many`: one question per item (or per DataFrame row), a few at a time, as a DataFrame.

Calls run on the pool's worker threads (`client.pool.run_threads`) over one blocking client, so it
works the same in a script and in a notebook cell (which already runs on the kernel's event loop:
no nested loop needed). A rate limit pauses every worker until the server's `Retry-After` has
passed, then the row is tried again (a bounded number of times); any other error is that row's
`error`, not the batch's.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..advice import Surface, advise
from ..client.pool import UNFINISHED, run_threads
from ..errors import ConfigurationError, JunisError
from .default_client import sync_client
from .progress import progress_bar

if TYPE_CHECKING:
    import pandas as pd

    from ..client.sync import JunisClient
    from ..client.types import Agent

__all__ = ["ask_many", "render_prompts"]

_INTERRUPTED = "interrupted: the batch was stopped before this row finished"


@dataclass
class _Row:
    answer: str | None = None
    session_id: str | None = None
    tokens: int | None = None
    latency: float | None = None
    error: str | None = None


def _row(outcome: Any) -> _Row:
    if outcome is UNFINISHED:
        return _Row(error=_INTERRUPTED)
    if isinstance(outcome, JunisError):
        return _Row(error=advise(outcome, Surface.BATCH))
    return outcome


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
    from .schemas import build
    if concurrency < 1:
        raise ConfigurationError("concurrency must be at least 1.")
    if rate_limit_retries < 0:
        raise ConfigurationError("rate_limit_retries must be 0 or more.")
    with sync_client(client, "ask_many") as c:
        if isinstance(agent, str):
            agent = c.resolve_agent(agent)     # once, and an unknown name fails here
        kwargs = {**chat_kwargs, "agent": agent}

        def ask(prompt: str) -> _Row:
            started = time.perf_counter()
            result = c.chat(prompt, **kwargs)
            latency = result.latency_s if result.latency_s is not None \
                else time.perf_counter() - started
            return _Row(result.text, result.session_id, result.usage.total_tokens, latency)

        with progress_bar(len(prompts), "ask_many", "row", progress) as bar:
            done = run_threads(ask, prompts, concurrency=concurrency,
                               rate_limit_retries=rate_limit_retries, progress=bar,
                               name="junis-ask-many")
    rows = [_row(outcome) for outcome in done.outcomes]
    if done.interrupted is not None:
        finished = sum(r.error != _INTERRUPTED for r in rows)
        warnings.warn(f"ask_many stopped: {finished} of {len(prompts)} rows done; the others "
                      "have error 'interrupted'.", RuntimeWarning, stacklevel=3)
    return build("batch", {
        "input": list(prompts), "answer": [r.answer for r in rows],
        "session_id": [r.session_id for r in rows], "tokens": [r.tokens for r in rows],
        "latency": [r.latency for r in rows], "error": [r.error for r in rows],
    }, index=index)
