"""Peak memory while a long answer (10 MB) streams through `%%junis`, in a fresh process each time.

Each child warms up on a small answer, then resets the kernel's peak-RSS mark
(`/proc/self/clear_refs`) and streams the long answer; the figure is peak RSS minus RSS before,
so it counts everything the answer made the process hold at once (chunks, joined text, markdown
parse trees, display payloads), not just what tracemalloc sees. Linux only, like the machines
this runs on.

The yardstick is the answer as Python holds it (`sys.getsizeof` of the text): one copy is 1x.
The emulator's answers contain typographic quotes, so Python stores them at 2 bytes a character
and one copy of a 10,000,000-character answer is 20 MB; the row also gives bytes per character.
"""
from __future__ import annotations

import gc
import io
import json
import os
import statistics
import sys
import tempfile
from typing import Callable

from ._context import Context, child_json
from ._report import Figure
from ._stats import Spread, interleave

NAME = "long answer memory"
FULL_SIZE = 10_000_000     # characters, as the issue asks (the emulator allows up to 64M)
MODES = ("magic", "client", "httpx")


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
        fh.write("5")


def _reader(mode: str) -> Callable[[str], str]:
    """How a user of each would read a whole answer; returns the answer's text."""
    if mode == "magic":
        from ._shell import ask, notebook_shell
        shell, _ = notebook_shell()
        return lambda prompt: ask(shell, f"%%junis --new\n{prompt}").text
    if mode == "client":
        from junis_jupyter import JunisClient
        client = JunisClient()

        def read_client(prompt: str) -> str:
            with client.stream(prompt) as stream:
                for _ in stream:
                    pass
            return stream.result.text
        return read_client
    from . import _baselines
    loop = _baselines.httpx_client(os.environ["JUNIS_BASE_URL"], os.environ["JUNIS_API_KEY"])

    def read_httpx(prompt: str) -> str:
        out = io.StringIO()   # the leanest way to keep the text: what is possible at all
        for delta in _baselines.httpx_deltas(loop, prompt):
            out.write(delta)
        return out.getvalue()
    return read_httpx


def child(mode: str, size: int) -> dict[str, int]:
    read = _reader(mode)
    read("[[size=5000]] Warm up.")
    gc.collect()
    before = _status_kb("VmRSS")
    _reset_peak()
    text = read(f"[[size={size}]] A very long answer, please.")
    peak = (_status_kb("VmHWM") - before) * 1024
    return {"peak_bytes": peak, "chars": len(text), "text_bytes": sys.getsizeof(text)}


def in_child(ctx: Context, mode: str, size: int, home: str,
             text_bytes: list[int]) -> Callable[[], float]:
    def measure() -> float:
        env = {**ctx.child_env(), "JUNIS_HOME": home,
               "IPYTHONDIR": os.path.join(home, "ipython")}
        found = child_json(["-m", "benchmarks.long_answer", mode, str(size)], env, mode,
                           timeout=600)
        if found["chars"] != size:
            raise RuntimeError(f"the {mode} child read {found['chars']} of {size} characters")
        text_bytes.append(found["text_bytes"])
        return found["peak_bytes"]
    return measure


def run(ctx: Context) -> list[Figure]:
    size = ctx.size(FULL_SIZE, 200_000)
    rounds = max(1, ctx.repeat // 2)
    text_bytes: list[int] = []
    with tempfile.TemporaryDirectory() as home:
        peaks = interleave({mode: in_child(ctx, mode, size, home, text_bytes) for mode in MODES},
                           rounds)
    one_copy = max(text_bytes)
    answer = f"{size / 1e6:g}M-character answer ({one_copy / 1e6:.1f} MB as a str)"
    figures = []
    for mode, what, target in (("magic", "peak memory of `%%junis`", "<= 3x the answer"),
                               ("client", "JunisClient.stream alone, for comparison", ""),
                               ("httpx", "minimal httpx loop into a StringIO, for comparison", "")):
        copies = Spread.of([p / one_copy for p in peaks[mode]])
        peak = statistics.median(peaks[mode])
        figures.append(Figure(NAME, f"{what}, {answer}",
                              f"{peak / 1e6:.1f} MB ({peak / size:.0f} bytes/char)",
                              f"{one_copy / 1e6:.1f} MB (the answer)", copies.format(unit="x"),
                              target, copies.median <= 3 if target else None))
    return figures


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], int(sys.argv[2]))))
