"""Client CPU per chunk for a long streamed answer: the cost of reading a stream, nothing else.

`time.process_time` counts only this process (the emulator runs in another), so waiting on the
socket is free and what remains is parsing, decoding and building deltas.
"""
from __future__ import annotations

import time
from typing import Callable

from ._contenders import Deltas, Streamers
from ._context import Context
from ._report import Figure
from ._stats import Spread, interleave, ratios

NAME = "stream decode"


def cpu_per_chunk(deltas: Deltas, prompt: str, chunks: int, expected: int) -> Callable[[], float]:
    def measure() -> float:
        started = time.process_time()
        parts = []
        for delta in deltas(prompt):
            parts.append(delta)
        text = "".join(parts)
        spent = time.process_time() - started
        if len(text) != expected:
            raise RuntimeError(f"a stream ended early: {len(text)} of {expected} characters")
        return spent / chunks
    return measure


def warm_up(streamers: Streamers, prompt: str) -> int:
    """One untimed stream each (connections open, code paths hot); all must read the same text."""
    texts = {name: "".join(deltas(prompt)) for name, deltas in streamers.deltas.items()}
    if len(set(texts.values())) != 1:
        raise RuntimeError(f"the contenders read different answers: "
                           f"{ {name: len(t) for name, t in texts.items()} }")
    return len(texts["httpx"])


def run(ctx: Context) -> list[Figure]:
    chunks = ctx.size(20_000, 300)
    prompt = f"[[chunks={chunks}]] Tell me everything about streaming."
    with Streamers(ctx) as streamers:
        expected = warm_up(streamers, prompt)
        samples = interleave({name: cpu_per_chunk(d, prompt, chunks, expected)
                              for name, d in streamers.deltas.items()}, ctx.repeat)
    us = {name: Spread.of(values).median * 1e6 for name, values in samples.items()}
    vs_sdk = ratios(samples["junis"], samples["openai"])
    vs_httpx = ratios(samples["junis"], samples["httpx"])
    ours = f"{us['junis']:.1f} us/chunk"
    return [
        Figure(NAME, f"client CPU per chunk, {chunks:,} chunks, vs OpenAI SDK", ours,
               f"{us['openai']:.1f} us/chunk", vs_sdk.format(unit="x"), "<= 0.1x",
               vs_sdk.median <= 0.1),
        Figure(NAME, f"client CPU per chunk, {chunks:,} chunks, vs minimal httpx loop", ours,
               f"{us['httpx']:.1f} us/chunk", vs_httpx.format(unit="x"), "<= 2x",
               vs_httpx.median <= 2.0),
    ]
