"""Time to first token: what the client adds, over plain httpx, before the first text is in hand.

A one-chunk answer on warm connections, so the figure is the client's own overhead (building the
request, reading the headers, decoding the first event), not the server's or the network's.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

from ._contenders import Deltas, Streamers
from ._context import Context
from ._report import Figure
from ._stats import differences, interleave

NAME = "time to first token"
PROMPT = "[[chunks=1]] Just one word, please."


def seconds_to_first(deltas: Deltas) -> Callable[[], float]:
    def measure() -> float:
        started = time.perf_counter()
        stream = deltas(PROMPT)
        for delta in stream:
            if delta:
                break
        else:
            raise RuntimeError("the answer had no text")
        spent = time.perf_counter() - started
        for _ in stream:    # drain: the connection goes back to the pool for the next round
            pass
        return spent
    return measure


def run(ctx: Context) -> list[Figure]:
    rounds = ctx.repeat * 10
    with Streamers(ctx) as streamers:
        for deltas in streamers.deltas.values():
            seconds_to_first(deltas)()
        samples = interleave({name: seconds_to_first(d) for name, d in streamers.deltas.items()},
                             rounds)
    ms = {name: statistics.median(values) * 1e3 for name, values in samples.items()}
    added = differences(samples["junis"], samples["httpx"])
    added_sdk = differences(samples["openai"], samples["httpx"])
    baseline = f"{ms['httpx']:.2f} ms (httpx)"
    return [
        Figure(NAME, f"added over plain httpx, one-chunk answer, {rounds} rounds",
               f"{ms['junis']:.2f} ms", baseline, added.scaled(1e3).format(unit=" ms"),
               "<= 1 ms added", added.median <= 1e-3),
        Figure(NAME, "OpenAI SDK, for comparison", f"{ms['openai']:.2f} ms (openai)", baseline,
               added_sdk.scaled(1e3).format(unit=" ms"), "", None),
    ]
