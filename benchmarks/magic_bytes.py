"""What a streamed `%%junis` answer sends the frontend: the bytes of every display message, over
the bytes of what the cell finally shows, and display messages a second.

A real InteractiveShell with a publisher that counts (benchmarks/_shell.py), against the
benchmark emulator pacing its chunks (`[[delay=S]]`), so the magic's updates happen as they
would in a notebook. Before issue 15 every update resent the whole answer so far (75x for a
20,000-character answer, 122x for 60,000 at this pace); now finished blocks settle into outputs
of their own, at most 40 of them (JupyterLab shows a cell's first 50), and re-sending the one
still being written is paid for by the answer's growth (notebook/budget.py). The same answers
with as many outputs as they like (`max_outputs`, where a frontend shows them all) are shown too.
"""
from __future__ import annotations

import tempfile
import time

from ._context import Context
from ._report import Figure
from ._shell import ask, notebook_shell

NAME = "magic bytes"
TARGET = 2.0            # issue 15: at most twice the final display
MAX_RATE = 16.0
SECONDS = 10.0          # each answer takes about this long to arrive


def run(ctx: Context) -> list[Figure]:
    sizes = (ctx.size(20_000, 2_000), ctx.size(60_000, 6_000))
    seconds = 1.0 if ctx.quick else SECONDS
    figures = []
    with tempfile.TemporaryDirectory() as home, ctx.junis_env(home):
        shell, publisher = notebook_shell()
        try:
            for size, most in [(size, most) for most in (None, 10**6) for size in sizes]:
                if most is not None:
                    shell.run_line_magic("config", f"JunisMagics.max_outputs = {most}")
                pieces = size / 4.5                      # the responder's pieces: 3-6 characters
                prompt = f"[[size={size}]] [[delay={seconds / pieces:.5f}]] Explain the trend."
                publisher.reset()
                started = time.perf_counter()
                answer = ask(shell, f"%%junis --new\n{prompt}")
                took = time.perf_counter() - started
                final = sum(publisher.final_bytes.values())
                ratio = publisher.sent_bytes / final
                rate = publisher.answer_updates() / took
                outputs = len(publisher.final_bytes)
                which = f"{outputs} outputs ({'as many as it likes' if most else 'at most 40'})"
                figures += [
                    Figure(NAME, f"{len(answer.text):,}-character answer over {took:.1f} s, "
                                 f"{which}: bytes sent to the frontend / the final display "
                                 f"({final / 1000:.0f} kB)",
                           f"{ratio:.2f}x", "75x (20k) / 122x (60k) before", f"{ratio:.2f}x",
                           f"<= {TARGET:.0f}x", ratio <= TARGET),
                    Figure(NAME, f"{len(answer.text):,}-character answer, {which}: display "
                                 "messages a second (every output of the answer)",
                           f"{rate:.1f} /s", "", f"{rate:.1f} /s", f"<= {MAX_RATE:.0f} /s",
                           rate <= MAX_RATE),
                ]
        finally:
            shell.run_line_magic("unload_ext", "junis_jupyter")
    return figures
