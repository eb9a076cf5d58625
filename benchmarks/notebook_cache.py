"""Run All of the quickstart notebook from a warm answer cache, against the same Run All asking.

Each sample is a fresh kernel executing notebooks/quickstart.ipynb (nbclient) against the
benchmark emulator: `JUNIS_CACHE=refresh` asks every `%%junis` cell (and so keeps the cache
warm), `JUNIS_CACHE=use` answers them from the cache. Requests are counted by the emulator; the
quickstart's `%junis history` and `%junis agents` are line commands, which always ask.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import httpx

from ._context import Context
from ._report import Figure
from ._stats import interleave, ratios

NAME = "notebook cache"
QUICKSTART = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"


def _requests(ctx: Context) -> int:
    return httpx.get(f"{ctx.url}/_emulator/stats", timeout=10).json()["requests"]


def run_all(ctx: Context, home: str, mode: str, counted: list[int],
            cells_only: bool = False) -> Callable[[], float]:
    import nbformat
    from nbclient import NotebookClient

    env = {**ctx.child_env(), "JUNIS_HOME": home, "JUNIS_CACHE": mode,
           "JUNIS_CACHE_PATH": os.path.join(home, "bench.junis-cache.sqlite")}

    def measure() -> float:
        nb = nbformat.read(QUICKSTART, as_version=4)
        before = _requests(ctx)
        started = time.perf_counter()
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       extra_arguments=["--IPKernelApp.log_level=ERROR"],
                       resources={"metadata": {"path": str(QUICKSTART.parent)}}).execute(env=env)
        counted.append(_requests(ctx) - before)
        return _cells_seconds(nb) if cells_only else time.perf_counter() - started
    return measure


def _cells_seconds(nb: object) -> float:
    """From the first cell's start to the last cell's reply (nbclient's timing metadata): the
    Run All itself, without the kernel's start."""
    from datetime import datetime
    times = [c.metadata["execution"] for c in nb.cells if c.cell_type == "code"]  # type: ignore[attr-defined]
    start = datetime.fromisoformat(times[0]["iopub.execute_input"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(times[-1]["shell.execute_reply"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def run(ctx: Context) -> list[Figure]:
    import nbformat
    counted: dict[str, list[int]] = {"asked": [], "cached": [], "asked cells": [], "cached cells": []}
    with tempfile.TemporaryDirectory() as home:
        run_all(ctx, home, "refresh", [])()          # warm the cache once, outside the figures
        samples = interleave({
            "asked": run_all(ctx, home, "refresh", counted["asked"]),
            "cached": run_all(ctx, home, "use", counted["cached"]),
            "asked cells": run_all(ctx, home, "refresh", counted["asked cells"], cells_only=True),
            "cached cells": run_all(ctx, home, "use", counted["cached cells"], cells_only=True),
        }, 1 if ctx.quick else max(2, ctx.repeat // 2))
    wall = {k: statistics.median(v) for k, v in samples.items()}
    requests = {k: statistics.median(v) for k, v in counted.items()}
    answers = requests["asked"] - requests["cached"]
    cells = sum(c.source.startswith("%%junis")
                for c in nbformat.read(QUICKSTART, as_version=4).cells if c.cell_type == "code")
    return [
        Figure(NAME, "Run All of quickstart.ipynb, kernel start included: wall time, warm cache "
               "vs asking", f"{wall['cached']:.2f} s", f"{wall['asked']:.2f} s (asking)",
               ratios(samples["cached"], samples["asked"]).format(unit="x"), "", None),
        Figure(NAME, "the same Run All from its first cell to its last (no kernel start)",
               f"{wall['cached cells']:.2f} s", f"{wall['asked cells']:.2f} s (asking)",
               ratios(samples["cached cells"], samples["asked cells"]).format(unit="x"), "", None),
        Figure(NAME, "requests of that Run All (the %junis history and agents commands always "
               "ask)", f"{requests['cached']:.0f}", f"{requests['asked']:.0f} (asking)",
               f"{answers:.0f} fewer ({cells} %%junis cells)", "none for %%junis cells",
               answers == cells),
    ]
