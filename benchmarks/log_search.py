"""Searching the transcript log: `frames.log(q=...)` over 100,000 logged turns.

The log (data/transcript.py) is filled once, in one transaction, with turns of a realistic size
(a prompt of about 120 characters, an answer of about 900) made from a fixed vocabulary by a
seeded generator, so every run searches the same text. Three searches are timed, each a fresh
`Transcript` read into the log frame, as `%junis log` does:

- a rare word (1 turn in 1,000: about 100 hits), the whole frame;
- a common word (every other turn), the newest 50 (what `%junis log -q WORD` shows);
- a quoted phrase.

Beside them, the same rare word by a plain scan of every turn (what a Python without FTS5 does):
how much the index saves. The target is the issue's: well under a second for the rare word.
"""
from __future__ import annotations

import random
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from junis_jupyter.client.types import Usage
from junis_jupyter.data import transcript
from junis_jupyter.data.transcript import LogEntry, Transcript

from ._context import Context
from ._report import Figure
from ._stats import Spread, interleave, ratios

NAME = "log search"
TARGET_S = 0.25       # "well under a second" for a search of 100,000 turns
_WORDS = ("sales region quarter growth forecast table column chart trend revenue customer "
          "segment price margin cost summary report week month product market share data "
          "model metric average median total count rate change previous next first last").split()


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)).capitalize() + "."


def turns(n: int, seed: int = 23) -> list[LogEntry]:
    """`n` turns: "churn" in 1 of 1,000, "revenue" (in _WORDS) nearly everywhere."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    out = []
    for i in range(n):
        prompt = _text(rng, 18)
        if i % 1000 == 7:
            prompt = "Why did churn rise? " + prompt
        out.append(LogEntry(
            at=start + timedelta(seconds=30 * i), prompt=prompt, answer=_text(rng, 140),
            origin="cell", notebook=f"reports/q{i % 4 + 1}.ipynb", cell_id=f"cell-{i % 50}",
            agent=("Analyst", "Research", "Writer")[i % 3], session_id=f"session-{i // 5}",
            usage=Usage(400, 200, 600), latency_s=1.5))
    return out


def _timed(search: object) -> float:
    started = time.perf_counter()
    search()            # type: ignore[operator]
    return time.perf_counter() - started


def run(ctx: Context) -> list[Figure]:
    n = ctx.size(100_000, 2_000)
    with tempfile.TemporaryDirectory() as home:
        path = Path(home) / "transcript.sqlite3"
        made = turns(n)
        started = time.perf_counter()
        Transcript(path).record_many(made)
        fill_s = time.perf_counter() - started
        # the first search indexes every turn written since the last one (transcript.py)
        started = time.perf_counter()
        hits = len(Transcript(path).frame(q="churn"))
        index_s = time.perf_counter() - started
        size_mb = sum(p.stat().st_size for p in Path(home).iterdir()) / 1e6

        def plain() -> float:
            original = transcript._index
            transcript._index = lambda conn: False      # a Python without FTS5
            try:
                scan = Transcript(path)
                return _timed(lambda: scan.frame(q="churn"))
            finally:
                transcript._index = original

        samples = interleave({
            "rare": lambda: _timed(lambda: Transcript(path).frame(q="churn")),
            "common": lambda: _timed(lambda: Transcript(path).frame(q="Revenue", limit=50)),
            "phrase": lambda: _timed(lambda: Transcript(path).frame(q='"churn rise"')),
            "scan": plain,
        }, max(3, ctx.repeat))
    ms = {k: Spread.of(v).scaled(1000) for k, v in samples.items()}
    rare = Spread.of(samples["rare"])
    return [
        Figure(NAME, f"frames.log(q=rare word) over {n:,} logged turns ({hits} hits), FTS5",
               ms["rare"].format("{:.1f}", " ms"), ms["scan"].format("{:.0f}", " ms (scan)"),
               ratios(samples["scan"], samples["rare"]).format("{:.0f}", "x faster"),
               f"< {TARGET_S * 1000:.0f} ms", rare.median < TARGET_S),
        Figure(NAME, f"frames.log(q=common word, limit=50) over {n:,} turns (%junis log -q)",
               f"{ms['common'].median:.1f} ms", "", ms["common"].format("{:.1f}", " ms"),
               f"< {TARGET_S * 1000:.0f} ms", Spread.of(samples["common"]).median < TARGET_S),
        Figure(NAME, f"frames.log(q='\"quoted phrase\"') over {n:,} turns",
               f"{ms['phrase'].median:.1f} ms", "", ms["phrase"].format("{:.1f}", " ms"), "",
               None),
        Figure(NAME, f"writing {n:,} turns in one transaction (record_many)",
               f"{fill_s:.1f} s", f"{size_mb:.0f} MB on disk", f"{n / fill_s:,.0f} turns/s", "",
               None),
        Figure(NAME, f"the first search after them, which indexes all {n:,} (a search indexes "
               "what was written since the last one)", f"{index_s:.1f} s", "",
               f"{n / index_s:,.0f} turns/s", "", None),
    ]
