"""Load: thousands of calls, nothing lost (run by `make soak`, which sets JUNIS_SOAK=1).

- 2,000 chats through `AsyncJunisClient.map` against an emulator process with a Pro plan whose
  per-minute limit is lowered to 700, so every minute ends in 429s: each call must still end with
  its own answer (the client waits out Retry-After), the emulator must never see more requests at
  once than the plan's cap of 20, and the usage ledger must hold 2,000 rows.
- Four processes writing the same ledger file at once, 1,000 calls each: 4,000 rows.

Only 127.0.0.1 is ever talked to; every loop is bounded in count, and each test in time.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from junis_jupyter.client import RetryPolicy
from junis_jupyter.client.aio import AsyncJunisClient
from junis_jupyter.emulator.process import start_emulator_process
from junis_jupyter.emulator.responder import answer_text
from junis_jupyter.data.ledger import Ledger

pytestmark = [
    pytest.mark.soak,
    pytest.mark.skipif(os.environ.get("JUNIS_SOAK") != "1",
                       reason="load tests run with `make soak` (JUNIS_SOAK=1)"),
]

CALLS = 2_000
RPM = 700                 # 2,000 calls need three one-minute windows: the pool paces them
PRO_CONCURRENCY = 20
PROCESSES, PER_PROCESS = 4, 1_000


@pytest.mark.timeout(480)
def test_two_thousand_calls_through_map_under_a_rate_limit(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "usage.sqlite3")
    prompts = [f"Load item {i}: what is {i} squared?" for i in range(CALLS)]
    with start_emulator_process(plan="pro", rpm=RPM) as emulator:
        async def run() -> list[Any]:
            # The pool spreads the calls over the windows (rate-limit headers); a 429 that still
            # came would be retried, honouring Retry-After (at most 60 s).
            async with AsyncJunisClient(emulator.key, emulator.url, max_retries=6,
                                        retry_policy=RetryPolicy(max_retries=6, max_wait=61),
                                        observers=[ledger.record]) as client:
                return await client.map(prompts, concurrency=PRO_CONCURRENCY)

        results = asyncio.run(run())
        stats = emulator.stats()

    failures = [r for r in results if not hasattr(r, "text")]
    assert failures == [], failures[:3]
    assert [r.text for r in results] == [answer_text(p)[0] for p in prompts]   # each its own answer
    assert stats["by_status"].get("429", 0) == 0, stats         # paced to the window: no 429
    assert stats["by_status"].get("200") == CALLS
    assert 0 < stats["max_concurrent"] <= PRO_CONCURRENCY, stats
    rows = ledger.rows()
    assert len(rows) == CALLS and ledger.pending == 0
    assert all(r["status"] == 200 and r["error_code"] is None for r in rows)
    assert len({r["session_id"] for r in rows}) == CALLS
    assert sum(r["attempts"] for r in rows) == CALLS + stats["by_status"].get("429", 0)
    _figures(calls=CALLS, rows=len(rows), rate_limited=stats["by_status"].get("429", 0),
             max_concurrent=stats["max_concurrent"])


_WRITER = textwrap.dedent("""
    import sys
    from junis_jupyter.client.sync import JunisClient
    from junis_jupyter.data.ledger import Ledger
    url, key, path, n, tag = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    ledger = Ledger(path)
    with JunisClient(key, url, observers=[ledger.record]) as client:
        for i in range(n):
            client.chat(f"writer {tag} call {i}")
    print("pending", ledger.pending, flush=True)
""")


@pytest.mark.timeout(480)
def test_four_processes_write_one_ledger(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    with start_emulator_process(plan="pro", rpm=1_000_000) as emulator:
        before = emulator.stats()["requests"]
        writers = [subprocess.Popen([sys.executable, "-c", _WRITER, emulator.url, emulator.key,
                                     str(path), str(PER_PROCESS), str(n)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for n in range(PROCESSES)]
        outputs = []
        try:
            for writer in writers:
                out, err = writer.communicate(timeout=420)
                outputs.append((writer.returncode, out, err))
        finally:
            for writer in writers:
                if writer.poll() is None:
                    writer.kill()
                    writer.wait()
        served = emulator.stats()["requests"] - before
    for code, out, err in outputs:
        assert code == 0 and out.strip() == "pending 0", (code, out, err[-2000:])
        assert "Warning" not in err, err[-2000:]
    rows = Ledger(path).rows()
    assert served == PROCESSES * PER_PROCESS
    assert len(rows) == PROCESSES * PER_PROCESS
    assert len({r["request_id"] for r in rows}) == len(rows)       # no row twice, none lost
    assert all(r["status"] == 200 for r in rows)
    _figures(processes=PROCESSES, rows=len(rows))


def _figures(**figures: Any) -> None:
    """Printed with -s (make soak shows them); docs/reliability.md quotes a run."""
    print("\nload figures: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
