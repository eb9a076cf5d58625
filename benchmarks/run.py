"""`python -m benchmarks.run`: every benchmark against one emulator process, one table.

The table goes to stdout and (unless `--quick`) to benchmarks/RESULTS.md with the machine's details.
A benchmark that crashes is reported as such and makes the exit status 1; a missed target does not
(it is a figure, shown as such in the table).
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

from junis_jupyter.config import scrub

from ._context import Context
from ._emulator import emulator
from ._report import Figure, document, machine, table

BENCHMARKS = {   # name -> module with `run(ctx) -> list[Figure]`, in the order they run
    "stream_decode": "benchmarks.stream_decode",
    "first_token": "benchmarks.first_token",
    "magic_render": "benchmarks.magic_render",
    "long_answer": "benchmarks.long_answer",
    "batch": "benchmarks.batch",
    "batch_pacing": "benchmarks.batch_pacing",
    "frames": "benchmarks.messages_frame",
    "log_search": "benchmarks.log_search",
    "load_cost": "benchmarks.load_cost",
    "notebook_cache": "benchmarks.notebook_cache",
    "magic_bytes": "benchmarks.magic_bytes",
    "panel_bytes": "benchmarks.panel_bytes",
    "jupyter_ai": "benchmarks.jupyter_ai",
    "persona": "benchmarks.persona",
}
RESULTS = Path(__file__).with_name("RESULTS.md")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, to check the benchmarks still run (figures meaningless)")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), metavar="NAME",
                        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}")
    parser.add_argument("--repeat", type=int, default=None,
                        help="interleaved rounds per benchmark (default 5, or 2 with --quick)")
    parser.add_argument("--profile", action="store_true",
                        help="profile each benchmark with pyinstrument (its text goes to stderr; "
                             "the figures are then slower and only for finding where time goes)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"where to write the results (default {RESULTS}; none with --quick)")
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 2 if args.quick else 5
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.out is None and not args.quick:
        args.out = RESULTS
    return args


def run_one(name: str, ctx: Context, profile: bool = False) -> tuple[list[Figure], bool]:
    """The figures of one benchmark; a crash becomes one row saying so (the key scrubbed)."""
    started = time.perf_counter()
    print(f"[bench] {name} ...", file=sys.stderr, flush=True)
    try:
        module = importlib.import_module(BENCHMARKS[name])
        if profile:
            from pyinstrument import Profiler
            with Profiler() as profiler:
                figures = module.run(ctx)
            print(profiler.output_text(unicode=True, color=False), file=sys.stderr)
        else:
            figures = module.run(ctx)
        ok = True
    except Exception as exc:   # noqa: BLE001 - one broken benchmark must not hide the others
        print(scrub(traceback.format_exc(), ctx.key), file=sys.stderr)
        message = scrub(f"{type(exc).__name__}: {exc}", ctx.key).splitlines()[0]
        figures = [Figure(name, "crashed", "", "", message, "", False)]
        ok = False
    print(f"[bench] {name} done in {time.perf_counter() - started:.1f} s",
          file=sys.stderr, flush=True)
    return figures, ok


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [n for n in BENCHMARKS if not args.only or n in args.only]
    started = time.perf_counter()
    figures: list[Figure] = []
    all_ok = True
    with emulator() as server:
        ctx = Context(url=server.url, key=server.key, quick=args.quick, repeat=args.repeat)
        for name in names:
            found, ok = run_one(name, ctx, args.profile)
            figures += found
            all_ok &= ok
    seconds = time.perf_counter() - started
    print(table(figures))
    if args.out is not None:
        options = " ".join(["--quick"] * args.quick + ["--profile"] * args.profile
                           + [f"--repeat {args.repeat}"]
                           + [f"--only {n}" for n in args.only or []])
        args.out.write_text(document(figures, machine(), options, seconds), encoding="utf-8")
        print(f"\nwritten to {args.out} ({seconds:.0f} s)", file=sys.stderr)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
