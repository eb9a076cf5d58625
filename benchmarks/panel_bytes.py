"""The chat panel streaming a long answer: the bytes of every widget message it sends, against
the answer's own HTML, and how many widget messages a second.

The panel runs without a frontend against the benchmark emulator; widgets get their comm from
`comm.create_comm`, swapped here for one that records each message as the JSON the kernel would
serialise (message type, comm id, data: the envelope Jupyter adds is left out, as it is the same
whatever the panel does). "final" is the answer's HTML as the page ends up holding it, weighed
the same way: as one widget message carrying it (so JSON's escaping counts on both sides, and
every widget the panel opens counts against it). The baseline is what the panel did before
issue 15: that message re-sent at each redraw, summed over the redraws this run made. A slow
stream is shown too: it is where redraws re-send the block still being written most often.
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from ._context import Context
from ._report import Figure

NAME = "panel bytes"
TARGET = 2.0          # issue 15: bytes sent at most twice the answer's own
PACES = {"fast": (200, 0.01), "slow": (1000, 0.01)}   # [[chunks=N]] [[delay=S]]: ~2.4 s, ~11 s
MAX_RATE = 16.0       # widget messages a second, as the magic's display messages


def one_message(html: str) -> int:
    """The bytes of one widget message carrying `html` as its value: the final answer sent the
    cheapest way widgets can (so JSON's escaping counts on both sides of the ratio)."""
    return len(json.dumps({"msg_type": "comm_msg", "comm_id": "0" * 32, "data": {
        "method": "update", "state": {"value": html}, "buffer_paths": []}},
        ensure_ascii=False).encode("utf-8"))


class WidgetWire:
    """Every widget message the kernel would send the frontend (comm opens and state updates),
    as the JSON it serialises, and when: widgets get their comm from `comm.create_comm`, for which
    `create_comm` stands in. (No frontend runs, so this is the honest count of bytes.) The tests
    record through it too (tests/support/widgets.py)."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.times: list[float] = []

    def create_comm(self, *args: Any, **kwargs: Any) -> Any:
        from comm.base_comm import BaseComm
        wire = self

        class Recording(BaseComm):
            def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None,
                            buffers: Any = None, **keys: Any) -> None:
                wire.messages.append(json.dumps(
                    {"msg_type": msg_type, "comm_id": self.comm_id, "data": data},
                    default=str, ensure_ascii=False))
                wire.times.append(time.perf_counter())
        return Recording(*args, **kwargs)

    def install(self) -> Any:
        """Record from now on; returns what puts the real `create_comm` back."""
        import comm
        saved, comm.create_comm = comm.create_comm, self.create_comm
        return lambda: setattr(comm, "create_comm", saved)

    def clear(self) -> None:
        self.messages.clear()
        self.times.clear()

    @property
    def bytes(self) -> int:
        return sum(len(m.encode("utf-8")) for m in self.messages)


async def _one(ctx: Context, size: int, chunks: int, delay: float) -> dict[str, float]:
    from junis_jupyter.client.aio import AsyncJunisClient
    from junis_jupyter.notebook.panel import ChatPanel
    from junis_jupyter.notebook.panel.html import answer_html

    wire = WidgetWire()
    restore = wire.install()
    client = AsyncJunisClient(api_key=ctx.key, base_url=ctx.url)
    try:
        panel = ChatPanel(client=client)
        await panel.wait()
        # The answer's length at each turn of the redraw clock: where the panel before issue 15
        # re-sent the whole answer (it now may put a redraw off; that old panel did not).
        redraws: list[int] = []
        draw = panel.chat_feed.throttle.fn

        def clocked() -> bool:
            live = panel.conversation.live
            if live is not None and (not redraws or redraws[-1] != len(live.answer.text())):
                redraws.append(len(live.answer.text()))
            return draw()
        panel.chat_feed.throttle.fn = clocked
        wire.clear()
        started = time.perf_counter()
        await panel.send_async(f"Tides [[size={size}]] [[chunks={chunks}]] [[delay={delay}]]")
        seconds = time.perf_counter() - started
        text = panel.turns[-1].text()
        final = one_message(panel.chat_feed.views[-1].answer.html())
        sent = wire.bytes
        before = sum(one_message(answer_html(text[:n])) for n in redraws) + final
        # While it streams: from the first redraw of the block being written to its last (the
        # tail's last message empties it as the answer settles); the messages opening and
        # closing the exchange (buttons, the question, the last piece, the footer) apart.
        ids = [json.loads(m)["comm_id"] for m in wire.messages]
        tail = [t for t, i in zip(wire.times, ids) if i == panel.live.model_id][:-1]
        times = [t for t in wire.times if tail[0] <= t <= tail[-1]]
        window = max(tail[-1] - tail[0], 1e-9)
        peak = max((sum(1 for t in times if s <= t < s + 1.0) for s in times), default=0)
        rest = len(wire.messages) - len(times)
        await panel.aclose()
    finally:
        await client.aclose()
        restore()
    return {"ratio": sent / final, "before": before / final, "sent": sent, "final": final,
            "messages": len(times), "rest": rest, "seconds": seconds,
            "rate": len(times) / window, "peak": peak}


def run(ctx: Context) -> list[Figure]:
    figures = []
    sizes = (ctx.size(20_000, 2_000), ctx.size(60_000, 6_000))
    for pace, (chunks, delay) in PACES.items():
        if ctx.quick and pace == "slow":
            continue
        for size in sizes:
            runs = [asyncio.run(_one(ctx, size, chunks, delay)) for _ in range(1 if ctx.quick else 2)]
            got = max(runs, key=lambda r: r["ratio"])        # the worse of the rounds
            figures.append(Figure(
                NAME, f"{size:,}-character answer, {pace} stream ({got['seconds']:.1f} s): widget "
                      f"bytes sent / the answer's HTML as one widget value ({got['final'] / 1000:.0f} kB)",
                f"{got['ratio']:.2f}x", f"{got['before']:.1f}x (whole answer each redraw)",
                f"{got['before'] / got['ratio']:.0f}x fewer bytes", f"<= {TARGET:.0f}x",
                got["ratio"] <= TARGET))
            figures.append(Figure(
                NAME, f"{size:,}-character answer, {pace} stream: widget messages a second while "
                      "it streams (mean; peak in any 1 s)",
                f"{got['rate']:.1f}/s (peak {got['peak']:.0f})", "",
                f"{got['messages']:.0f} messages, {got['rest']:.0f} more to open and close it",
                f"<= {MAX_RATE:.0f}/s (mean)", got["rate"] <= MAX_RATE))
    return figures
