"""`make demo`: run the example notebooks against a local emulator and leave readable HTML.

Starts the emulator on a free loopback port in its own process, executes every notebook with a
real kernel (the kernel gets the emulator's URL and key through its environment, and a throwaway
JUNIS_HOME so the user's usage ledger is untouched), writes the executed notebook and an HTML
export of each, prints a summary, and exits non-zero if any notebook failed. Answers go into
an answer cache (`JUNIS_CACHE=use`), and the quickstart then runs a second time from it: its
summary line says how many answers came from the cache and what that saved.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .config import scrub

__all__ = ["main", "run_notebook", "NotebookRun"]

DEFAULT_NOTEBOOKS = "notebooks"   # `make demo` runs from the repository root


@dataclass
class NotebookRun:
    name: str
    cells: int
    answers: int          # %%junis answers shown in the notebook
    cached: int           # of those, answers replayed from the answer cache
    cached_tokens: list[int]  # the tokens each of those took when it was first asked
    calls: int            # requests the emulator served the notebook (answers, listings, batches)
    tokens: int | None    # tokens of the calls the demo's usage ledger recorded; None when the
                          # notebook kept a ledger of its own (some of its calls are not there)
    seconds: float
    errors: list[str]
    ipynb: Path
    html: Path

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def cached_credits(self) -> int:
        """What the cached answers would have cost again, at the emulator's rate."""
        from .emulator.completions import cost
        return sum(cost(t) for t in self.cached_tokens)


def _expected_error(cell: Any) -> bool:
    """A cell tagged `raises-exception` (nbval's tag) fails on purpose, to show `%junis explain`."""
    return "raises-exception" in cell.get("metadata", {}).get("tags", [])


def _count(nb: Any) -> tuple[int, int, list[int], list[str]]:
    """(answers, cached answers, their tokens, error lines) read from the notebook's outputs."""
    answers = cached = 0
    cached_tokens: list[int] = []
    problems = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            footer = out.get("metadata", {}).get("junis")
            if footer:
                answers += 1
                if footer.get("note") == "cached":
                    cached += 1
                    cached_tokens.append(int(footer.get("total_tokens") or 0))
            if out.get("output_type") == "error" and not _expected_error(cell):
                problems.append(f"cell {index}: {out.get('ename')}: {out.get('evalue')}")
            elif out.get("output_type") == "stream" and out.get("name") == "stderr" \
                    and "Junis:" in out.get("text", ""):
                problems.append(f"cell {index}: {out['text'].strip().splitlines()[0]}")
    return answers, cached, cached_tokens, problems


def _ledger_totals(env: dict[str, str], since: datetime) -> tuple[int, int]:
    """(calls, tokens) the kernel made to the API, from the usage ledger in the demo's JUNIS_HOME
    since `since` (answers replayed from the cache are rows too, but no call)."""
    home = env.get("JUNIS_HOME")
    if not home:
        return 0, 0
    from .data.ledger import Ledger
    rows = [r for r in Ledger(Path(home) / "usage.sqlite3").rows(since=since)
            if r["error_code"] != "cached"]
    return len(rows), sum(int(r["total_tokens"] or 0) for r in rows)


def run_notebook(path: Path, out_dir: Path, env: dict[str, str], *, key: str,
                 served: Callable[[], int], timeout: int = 300,
                 name: str | None = None) -> NotebookRun:
    """Execute one notebook in a fresh kernel; write `<name>.ipynb` and `<name>.html` to out_dir."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    # the kernel listens on loopback only: its "TCP without encryption" warning is noise here
    client = NotebookClient(nb, timeout=timeout, allow_errors=True,
                            extra_arguments=["--IPKernelApp.log_level=ERROR"],
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.monotonic()
    started_at = datetime.now(timezone.utc)
    before = served()
    errors: list[str] = []
    try:
        client.execute(env=env)
    except Exception as exc:  # noqa: BLE001 - a dead kernel or a timeout fails this notebook only
        errors.append(f"execution stopped: {type(exc).__name__}: {exc}")
    seconds = time.monotonic() - started
    answers, cached, cached_tokens, problems = _count(nb)
    calls = served() - before
    recorded, tokens = _ledger_totals(env, started_at)
    errors += problems
    text = nbformat.writes(nb)
    if key in text:      # a leak is a bug to report; the file written is masked all the same
        errors.append("the API key appeared in the outputs (masked in the files written)")
        nb = nbformat.reads(scrub(text, key), as_version=4)
        text = nbformat.writes(nb)
    name = name or path.stem
    ipynb = out_dir / (name + ".ipynb")
    html = out_dir / (name + ".html")
    ipynb.write_text(text, encoding="utf-8")
    body, _ = HTMLExporter().from_notebook_node(nb)
    html.write_text(scrub(body, key), encoding="utf-8")
    code_cells = sum(1 for c in nb.cells if c.cell_type == "code")
    return NotebookRun(name, code_cells, answers, cached, cached_tokens, calls,
                       tokens if recorded >= calls else None, seconds, errors, ipynb, html)


def _report(run: NotebookRun) -> None:
    status = "ok" if run.ok else f"FAILED ({len(run.errors)})"
    tokens = f"{run.tokens:>6}" if run.tokens is not None else "     -"
    print(f"  {run.name:<24} {run.cells:>3} cells {run.answers:>3} answers "
          f"{run.calls:>4} API calls {tokens} tokens {run.seconds:>6.1f} s  {status}",
          flush=True)
    if run.tokens is None:
        print("      its calls' tokens are in a usage ledger of its own (it sets JUNIS_HOME), "
              "not the demo's", flush=True)
    if run.cached:
        print(f"      {run.cached} of {run.answers} answers came from the answer cache: no request "
              f"and no credits for them ({sum(run.cached_tokens):,} tokens, about "
              f"{run.cached_credits} credits saved at the emulator's rate)", flush=True)
    for line in run.errors:
        print(f"      {line}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="junis-jupyter demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="build/demo", help="where the executed notebooks go")
    parser.add_argument("--notebooks", default=DEFAULT_NOTEBOOKS,
                        help="a folder of .ipynb files, or one notebook")
    parser.add_argument("--timeout", type=int, default=300, help="seconds allowed per cell")
    parser.add_argument("--token-delay", type=float, default=0.005,
                        help="the emulator's pause between streamed chunks, in seconds")
    args = parser.parse_args(argv)

    source = Path(args.notebooks)
    notebooks = [source] if source.suffix == ".ipynb" else sorted(source.glob("*.ipynb"))
    if not notebooks:
        print(f"demo: no notebooks found in {source}", file=sys.stderr)
        return 2
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    from .emulator.process import start_emulator_process

    runs: list[NotebookRun] = []
    with tempfile.TemporaryDirectory(prefix="junis-demo-home-") as home, \
            start_emulator_process(token_delay=args.token_delay) as emulator:
        print(f"demo: emulator at {emulator.url}; running {len(notebooks)} notebook(s)", flush=True)

        def served() -> int:
            return int(emulator.stats()["requests"])

        env = {**os.environ, "JUNIS_BASE_URL": emulator.url, "JUNIS_API_KEY": emulator.key,
               "JUNIS_HOME": home, "JUNIS_CACHE": "use",
               "JUNIS_CACHE_PATH": str(Path(home) / "demo.junis-cache.sqlite")}
        for path in notebooks:
            runs.append(run_notebook(path, out_dir, env, key=emulator.key, served=served,
                                     timeout=args.timeout))
            _report(runs[-1])
        again = next((p for p in notebooks if p.stem == "quickstart"), notebooks[0])
        runs.append(run_notebook(again, out_dir, env, key=emulator.key, served=served,
                                 timeout=args.timeout, name=f"{again.stem}-from-cache"))
        _report(runs[-1])
    failed = [r for r in runs if not r.ok]
    print(f"demo: executed notebooks and HTML in {out_dir.resolve()}")
    for run in runs:
        print(f"  {run.html}")
    print(f"demo: {len(runs) - len(failed)} of {len(runs)} notebooks ran cleanly")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
