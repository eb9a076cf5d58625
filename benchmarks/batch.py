"""Many prompts at bounded concurrency: how close `map` and `ask_many` come to the ideal wall time.

Every answer takes 0.1 s on the server (`[[delay=...]]`), so 500 prompts 20 at a time cannot take
less than 500 / 20 x 0.1 = 2.5 s; the figure is the measured wall time over that ideal. The stock
async SDK and a plain httpx.AsyncClient, each behind a semaphore of the same size, run beside
them: what any client on this machine and this emulator achieves.
"""
from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from typing import Any, Awaitable, Callable

from junis_jupyter import AsyncJunisClient

from . import _baselines
from ._context import Context
from ._report import Figure
from ._stats import Spread, interleave

NAME = "batch"
CONCURRENCY = 20
TARGET = 1.15


def prompts(count: int, delay: float) -> list[str]:
    return [f"[[chunks=1]][[delay={delay}]] Question {i}: what is {i} squared?"
            for i in range(count)]


def wall(run: Callable[[], None]) -> Callable[[], float]:
    def measure() -> float:
        started = time.perf_counter()
        run()
        return time.perf_counter() - started
    return measure


def with_map(ctx: Context, batch: list[str]) -> Callable[[], None]:
    async def go() -> list[Any]:
        async with AsyncJunisClient(api_key=ctx.key, base_url=ctx.url) as client:
            return await client.map(batch, concurrency=CONCURRENCY)

    def run() -> None:
        failed = [r for r in asyncio.run(go()) if isinstance(r, BaseException)]
        if failed:
            raise RuntimeError(f"map: {len(failed)} of {len(batch)} failed, first: {failed[0]!r}")
    return run


def with_ask_many(batch: list[str]) -> Callable[[], None]:
    def run() -> None:
        from junis_jupyter import ask_many
        frame = ask_many(batch, concurrency=CONCURRENCY, progress=False)
        failed = frame["error"].notna().sum()
        if failed or len(frame) != len(batch):
            raise RuntimeError(f"ask_many: {failed} of {len(batch)} failed "
                               f"({len(frame)} rows), first: {frame['error'].dropna().head(1).tolist()}")
    return run


def bounded(open_client: Callable[[], Any], ask: Callable[[Any, str], Awaitable[Any]],
            batch: list[str]) -> Callable[[], None]:
    """`ask(client, prompt)` for every prompt, at most CONCURRENCY at once behind a semaphore."""
    async def go() -> None:
        limit = asyncio.Semaphore(CONCURRENCY)
        async with open_client() as client:
            async def one(prompt: str) -> None:
                async with limit:
                    await ask(client, prompt)
            await asyncio.gather(*(one(p) for p in batch))
    return lambda: asyncio.run(go())


def with_sdk(ctx: Context, batch: list[str]) -> Callable[[], None]:
    return bounded(lambda: _baselines.sdk_async_client(ctx.url, ctx.key),
                   lambda sdk, prompt: sdk.chat.completions.create(
                       model=_baselines.MODEL, messages=_baselines.messages(prompt)),
                   batch)


def with_httpx(ctx: Context, batch: list[str]) -> Callable[[], None]:
    return bounded(lambda: _baselines.httpx_async_client(ctx.url, ctx.key),
                   _baselines.httpx_chat, batch)


def run(ctx: Context) -> list[Figure]:
    count, delay = (500, 0.1) if not ctx.quick else (60, 0.02)
    batch = prompts(count, delay)
    ideal = count / CONCURRENCY * delay
    with tempfile.TemporaryDirectory() as home, ctx.junis_env(home):
        samples = interleave({"map": wall(with_map(ctx, batch)),
                              "ask_many": wall(with_ask_many(batch)),
                              "openai": wall(with_sdk(ctx, batch)),
                              "httpx": wall(with_httpx(ctx, batch))}, ctx.repeat)
    figures = []
    for name, what, target in (
            ("map", "`AsyncJunisClient.map`", f"<= {TARGET}x"),
            ("ask_many", "`ask_many`", f"<= {TARGET}x"),
            ("openai", "AsyncOpenAI + semaphore, for comparison", ""),
            ("httpx", "plain httpx.AsyncClient + semaphore, for comparison", "")):
        over = Spread.of([s / ideal for s in samples[name]])
        figures.append(Figure(
            NAME, f"{what}: {count} prompts, concurrency {CONCURRENCY}, {delay} s each",
            f"{statistics.median(samples[name]):.2f} s", f"{ideal:.2f} s (ideal)",
            over.format(unit="x"), target, over.median <= TARGET if target else None))
    return figures
