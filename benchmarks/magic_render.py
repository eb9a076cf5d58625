"""`%%junis` in a notebook-like shell: what rendering costs on top of the stream, and how often
the frontend is asked to redraw.

CPU: the magic's cell against the bare client reading the same answer, interleaved; the cell
also runs with the renderer it had before (markdown-it-py and its own allow-list,
`benchmarks/_markdown_it.py`) swapped in, in the same rounds, when markdown-it-py is installed.
Rate: a slowed answer (a few seconds long) counting the answer handle's display updates.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from junis_jupyter import JunisClient

from ._context import Context
from ._report import Figure
from ._shell import RecordingPublisher, ask, notebook_shell
from ._stats import Spread, interleave, ratios

NAME = "magic render"
MAX_RATE = 16.0
MAX_CPU = 1.2       # issue 16: `%%junis` CPU at most 1.2x the bare client stream (was 1.5x)
# The bench answer (the emulator's scripted one, 20,000 chunks) holds this many Python blocks, 18%
# of its 80,000 characters: colouring them is Pygments' lexing, about 1.2 us a character of code.
CODE_BLOCKS = 197


def markdown_it_renderer() -> Callable[[str], str] | None:
    """The renderer before cmark-gfm + nh3, or None without markdown-it-py."""
    try:
        from ._markdown_it import render_markdown
    except ImportError:
        return None
    return render_markdown


@contextmanager
def renderer(render: Callable[[str], str] | None) -> Iterator[None]:
    """`render` in place of the package's `render_markdown` (looked up at each render) meanwhile."""
    if render is None:
        yield
        return
    from junis_jupyter.notebook import markdown
    saved = markdown.render_markdown
    markdown.render_markdown = render     # type: ignore[assignment]
    try:
        yield
    finally:
        markdown.render_markdown = saved  # type: ignore[assignment]


def magic_cpu(shell: Any, prompt: str, expected: int,
              render: Callable[[str], str] | None = None,
              highlight: bool = True) -> Callable[[], float]:
    def measure() -> float:
        shell.run_line_magic("config", f"JunisMagics.highlight = {highlight}")
        with renderer(render):
            started = time.process_time()
            answer = ask(shell, f"%%junis --new\n{prompt}")
            spent = time.process_time() - started
        shell.run_line_magic("config", "JunisMagics.highlight = True")
        if len(answer.text) != expected:
            raise RuntimeError(f"the magic's answer has {len(answer.text)} of {expected} characters")
        return spent
    return measure


def client_cpu(client: JunisClient, prompt: str, expected: int) -> Callable[[], float]:
    def measure() -> float:
        started = time.process_time()
        text = "".join(chunk.text for chunk in client.stream(prompt))
        spent = time.process_time() - started
        if len(text) != expected:
            raise RuntimeError(f"the client's answer has {len(text)} of {expected} characters")
        return spent
    return measure


def update_rate(shell: Any, publisher: RecordingPublisher, prompt: str) -> Callable[[], float]:
    """Answer-handle publishes per second of stream (the first display counts too)."""
    def measure() -> float:
        publisher.reset()
        started = time.perf_counter()
        ask(shell, f"%%junis --new\n{prompt}")
        return publisher.answer_updates() / (time.perf_counter() - started)
    return measure


def run(ctx: Context) -> list[Figure]:
    chunks = ctx.size(20_000, 300)
    prompt = f"[[chunks={chunks}]] Render this long answer."
    slow_chunks, delay = (1_000, 0.002) if not ctx.quick else (60, 0.005)
    slow = f"[[chunks={slow_chunks}]][[delay={delay}]] Render this slowly."
    with tempfile.TemporaryDirectory() as home, ctx.junis_env(home):
        shell, publisher = notebook_shell()
        with JunisClient(api_key=ctx.key, base_url=ctx.url) as client:
            expected = len("".join(chunk.text for chunk in client.stream(prompt)))
            ask(shell, f"%%junis --new\n{prompt}")      # warm: the magic's client, imports
            contenders = {"magic": magic_cpu(shell, prompt, expected),
                          "plain": magic_cpu(shell, prompt, expected, highlight=False),
                          "client": client_cpu(client, prompt, expected)}
            before = markdown_it_renderer()
            if before is not None:
                contenders["markdown-it"] = magic_cpu(shell, prompt, expected, before)
            samples = interleave(contenders, ctx.repeat)
        rates = interleave({"rate": update_rate(shell, publisher, slow)}, ctx.repeat)["rate"]
        shell.run_line_magic("unload_ext", "junis_jupyter")
    cpu = ratios(samples["magic"], samples["client"])
    plain = ratios(samples["plain"], samples["client"])
    rate = Spread.of(rates)
    stream_s = slow_chunks * delay
    client_ms = f"{statistics.median(samples['client']) * 1e3:.0f} ms (JunisClient.stream)"
    figures = [
        Figure(NAME, f"CPU of `%%junis` (cmark-gfm + nh3), {chunks:,} chunks, vs bare client "
               "stream, code not coloured (`JunisMagics.highlight = False`)",
               f"{statistics.median(samples['plain']) * 1e3:.0f} ms", client_ms,
               plain.format(unit="x"), f"<= {MAX_CPU}x", plain.median <= MAX_CPU),
        Figure(NAME, f"the same with its {CODE_BLOCKS} code blocks coloured (Pygments; the "
               "default since issue 22)", f"{statistics.median(samples['magic']) * 1e3:.0f} ms",
               client_ms, cpu.format(unit="x"), "", None),
    ]
    if "markdown-it" in samples:
        before_cpu = ratios(samples["markdown-it"], samples["client"])
        figures.append(Figure(
            NAME, "the same cell with the markdown-it-py renderer it had before, for comparison",
            f"{statistics.median(samples['markdown-it']) * 1e3:.0f} ms", client_ms,
            before_cpu.format(unit="x"), "", None))
    return figures + [
        Figure(NAME, f"display updates per second of stream (~{stream_s:.1f} s answer)",
               f"{rate.median:.1f} /s", "", rate.format("{:.1f}", " /s"), f"<= {MAX_RATE:.0f} /s, every round",
               rate.high <= MAX_RATE),
    ]
