"""Raw message records to the messages frame: `frames.messages_from_records` vs `pandas.json_normalize`.

The records look like a bulk export of `GET /sessions/{id}/messages` pages (each record tagged with
its session): alternating user and assistant turns, usage on assistant turns only. Both sides get
the same list; they run in turn (A B A B ...), each timed in CPU seconds of this process, and the
figure is the median of per-round ratios.
json_normalize only flattens (object columns, no dtypes), so the comparison favours it.

`python -m benchmarks.bench_frames [--n N] [--repeat R]`; `run(n, repeat) -> dict` for the runner.
"""
from __future__ import annotations

import argparse
import gc
import statistics
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pandas as pd

from junis_jupyter import frames

MESSAGES_PER_SESSION = 100


def make_records(n: int) -> list[dict[str, Any]]:
    """n message dicts shaped like the API's (ISO times with milliseconds, nested usage)."""
    start = datetime(2025, 1, 10, tzinfo=timezone.utc)
    records = []
    for i in range(n):
        assistant = i % 2 == 1
        session = i // MESSAGES_PER_SESSION
        created = (start + timedelta(seconds=i, milliseconds=i % 1000)).strftime(
            "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        records.append({
            "id": f"msg_{i:012x}",
            "role": "assistant" if assistant else "user",
            "content": f"Answer {i} about the quarter" if assistant else f"Question {i}?",
            "created_at": created,
            "agent_name": "Research" if assistant else None,
            "usage": {"prompt_tokens": 20 + i % 30, "completion_tokens": 50 + i % 70,
                      "total_tokens": 70 + i % 30 + i % 70} if assistant else None,
            "session_id": f"00000000-0000-4000-8000-{session:012x}",
        })
    return records


def _timed(fn: Callable[[], Any]) -> float:
    """CPU seconds of this process (all its threads): other load on the machine is not counted."""
    gc.collect()
    started = time.process_time()
    result = fn()
    elapsed = time.process_time() - started
    del result
    return elapsed


def run(n: int = 1_000_000, repeat: int = 5) -> dict[str, Any]:
    """Median CPU seconds of each side and the median speed-up (json_normalize time / ours)."""
    records = make_records(n)
    sample = records[:1000]
    check = frames.messages_from_records(sample)
    if len(check) != len(sample) or check["total_tokens"].isna().sum() != (len(sample) + 1) // 2:
        raise RuntimeError("messages_from_records gave a wrong frame on the benchmark records")
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(repeat):
        ours.append(_timed(lambda: frames.messages_from_records(records)))
        theirs.append(_timed(lambda: pd.json_normalize(records)))
    speedups = [t / o for o, t in zip(ours, theirs)]
    return {
        "n": n, "repeat": repeat,
        "messages_from_records_s": statistics.median(ours),
        "json_normalize_s": statistics.median(theirs),
        "speedup": statistics.median(speedups),
        "speedup_min": min(speedups), "speedup_max": max(speedups),
        "target_speedup": 3.0,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_frames", description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    r = run(args.n, args.repeat)
    print(f"{r['n']:,} message records, {r['repeat']} interleaved rounds (median CPU seconds):")
    print(f"  frames.messages_from_records  {r['messages_from_records_s']:.3f} s")
    print(f"  pandas.json_normalize         {r['json_normalize_s']:.3f} s")
    print(f"  speed-up {r['speedup']:.2f}x ({r['speedup_min']:.2f}-{r['speedup_max']:.2f}), "
          f"target >= {r['target_speedup']:.0f}x")


if __name__ == "__main__":
    main()
