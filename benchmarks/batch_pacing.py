"""A batch larger than the key's rate limit: does `ask_many` pace itself from the headers?

300 prompts against an emulator (its own process) whose key allows 200 requests a minute, 20 in
flight, answers instant: the limit, not the answers, sets the pace. The ideal is calls / limit
(300 / 200 = 1.5 min); the figures are the wall time over it and the 429s the server sent (goal:
at most 1.05x, zero 429s). The emulator's window is a fixed minute from the key's first
request, so the fastest a 429-free run can be is one minute (200 calls spread over the first
window, the last 100 at once when the second opens): a ratio near 0.67 is that floor, not a
miscount (measured: 61.2 s, 0.68x, zero 429s). One run (each needs a fresh key's
window and a minute): `--repeat` does not apply.
"""
from __future__ import annotations

import tempfile
import time

from ._context import Context
from ._emulator import emulator
from ._report import Figure

NAME = "batch_pacing"
TARGET = 1.05


def run(ctx: Context) -> list[Figure]:
    # quick: a batch that fits its window (the path runs; pacing itself is not exercised)
    count, rpm, concurrency = (300, 200, 20) if not ctx.quick else (20, 600, 5)
    prompts = [f"[[chunks=1]] Question {i}: what is {i} squared?" for i in range(count)]
    ideal = 60.0 * count / rpm
    from junis_jupyter import JunisClient, ask_many
    with emulator(rpm=rpm, concurrency=concurrency) as server, \
            tempfile.TemporaryDirectory() as home, \
            Context(server.url, server.key, ctx.quick, 1).junis_env(home):
        with JunisClient() as client:
            started = time.perf_counter()
            frame = ask_many(prompts, concurrency=concurrency, client=client, progress=False)
            wall = time.perf_counter() - started
        by_status = server.stats()["by_status"]
    limited = int(by_status.get("429", by_status.get(429, 0)))
    failed = int(frame["error"].notna().sum())
    if failed:
        raise RuntimeError(f"{failed} of {count} rows failed: "
                           f"{frame['error'].dropna().head(1).tolist()}")
    ratio = wall / ideal
    what = f"`ask_many`: {count} prompts at {rpm} requests/min, concurrency {concurrency}"
    return [Figure(NAME, f"{what}: wall time over calls / limit", f"{wall:.1f} s",
                   f"{ideal:.1f} s (ideal)", f"{ratio:.2f}x", f"<= {TARGET}x", ratio <= TARGET),
            Figure(NAME, f"{what}: 429s the server sent", f"{limited}", "", f"{limited}",
                   "0", limited == 0)]
