"""What a streamed `%%junis` answer sends the frontend: the bytes of every display message, over
the bytes of what the cell finally shows, and display messages a second.

A real InteractiveShell with a publisher that counts (benchmarks/_shell.py), against the
benchmark emulator pacing its chunks (`[[delay=S]]`), so the magic's updates happen as they
would in a notebook. Before issue 15 every update resent the whole answer so far (75x for a
20,000-character answer, 122x for 60,000 at this pace); now finished blocks settle into outputs
of their own and only the block still being written is resent.
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
            for size in sizes:
                pieces = size / 4.5                      # the responder's pieces: 3-6 characters
                prompt = f"[[size={size}]] [[delay={seconds / pieces:.5f}]] Explain the trend."
                publisher.reset()
                started = time.perf_counter()
                answer = ask(shell, f"%%junis --new\n{prompt}")
                took = time.perf_counter() - started
                final = sum(publisher.final_bytes.values())
                ratio = publisher.sent_bytes / final
                rate = publisher.answer_updates() / took
                figures += [
                    Figure(NAME, f"{len(answer.text):,}-character answer over {took:.1f} s: bytes "
                                 f"sent to the frontend / the final display ({final / 1000:.0f} kB)",
                           f"{ratio:.2f}x", "75x (20k) / 122x (60k) before", f"{ratio:.2f}x",
                           f"<= {TARGET:.0f}x", ratio <= TARGET),
                    Figure(NAME, f"{len(answer.text):,}-character answer: display messages a "
                                 "second (every output of the answer)",
                           f"{rate:.1f} /s", "", f"{rate:.1f} /s", f"<= {MAX_RATE:.0f} /s",
                           rate <= MAX_RATE),
                ]
        finally:
            shell.run_line_magic("unload_ext", "junis_jupyter")
    return figures
