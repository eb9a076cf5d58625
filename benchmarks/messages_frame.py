"""1,000,000 message records to the messages frame, beside `pandas.json_normalize`.

The measuring itself is `benchmarks/bench_frames.py` (the frames engineer's, interleaved the same
way); this only puts its figure into the table.
"""
from __future__ import annotations

from . import bench_frames
from ._context import Context
from ._report import Figure

NAME = "frames"


def run(ctx: Context) -> list[Figure]:
    found = bench_frames.run(n=ctx.size(1_000_000, 2_000), repeat=ctx.repeat)
    target = found["target_speedup"]
    return [Figure(
        NAME, f"{found['n']:,} message records to the messages frame, vs pandas.json_normalize",
        f"{found['messages_from_records_s']:.2f} s",
        f"{found['json_normalize_s']:.2f} s (json_normalize)",
        f"{found['speedup']:.2f}x faster ({found['speedup_min']:.2f}-{found['speedup_max']:.2f})",
        f">= {target:.0f}x faster", found["speedup"] >= target)]
