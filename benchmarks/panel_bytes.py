"""The chat panel streaming a long answer: the bytes of every widget message it sends, against
the answer's own HTML, and how many widget messages a second.

The panel runs without a frontend against the benchmark emulator; widgets get their comm from
`comm.create_comm`, swapped here for one that records each message as the JSON the kernel would
serialise (message type, comm id, data: the envelope Jupyter adds is left out, as it is the same
whatever the panel does). "final" is the answer's HTML as the page ends up holding it. The
baseline is what the panel did before (issue 15): the whole answer's HTML re-sent at each redraw,
summed over the redraws this run made. The ratio grows with the number of redraws (each re-sends
the block still being written), so a slow stream is shown too.
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


class _Wire:
    def __init__(self) -> None:
        self.messages: list[tuple[float, str, int]] = []   # (time, kind, bytes)

    def install(self) -> Any:
        import comm
        from comm.base_comm import BaseComm
        wire = self

        class Recording(BaseComm):
            def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None,
                            buffers: Any = None, **keys: Any) -> None:
                raw = json.dumps({"msg_type": msg_type, "comm_id": self.comm_id, "data": data},
                                 default=str, ensure_ascii=False)
                wire.messages.append((time.perf_counter(), msg_type, len(raw.encode("utf-8"))))

        saved = comm.create_comm
        comm.create_comm = lambda *a, **k: Recording(*a, **k)
        return lambda: setattr(comm, "create_comm", saved)


async def _one(ctx: Context, size: int, chunks: int, delay: float) -> dict[str, float]:
    from junis_jupyter.client.aio import AsyncJunisClient
    from junis_jupyter.notebook.panel import ChatPanel
    from junis_jupyter.notebook.panel.html import answer_html

    wire = _Wire()
    restore = wire.install()
    client = AsyncJunisClient(api_key=ctx.key, base_url=ctx.url)
    try:
        panel = ChatPanel(client=client)
        await panel.wait()
        redraws: list[int] = []           # the answer's length at each redraw
        panel.live.observe(lambda ch: redraws.append(len(panel.conversation.live.answer.text()))
                           if panel.conversation.live is not None else None, names="value")
        wire.messages.clear()
        started = time.perf_counter()
        await panel.send_async(f"Tides [[size={size}]] [[chunks={chunks}]] [[delay={delay}]]")
        seconds = time.perf_counter() - started
        text = panel.turns[-1].text()
        final = len(panel._views[-1].answer.html().encode("utf-8"))
        sent = sum(b for _, _, b in wire.messages)
        before = sum(len(answer_html(text[:n]).encode("utf-8")) for n in redraws) + final
        times = [t for t, _, _ in wire.messages]
        peak = max((sum(1 for t in times if s <= t < s + 1.0) for s in times), default=0)
        await panel.aclose()
    finally:
        await client.aclose()
        restore()
    return {"ratio": sent / final, "before": before / final, "sent": sent, "final": final,
            "messages": len(times), "seconds": seconds, "rate": len(times) / seconds,
            "peak": peak}


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
                      f"bytes sent / the answer's HTML ({got['final'] / 1000:.0f} kB)",
                f"{got['ratio']:.2f}x", f"{got['before']:.1f}x (whole answer each redraw)",
                f"{got['before'] / got['ratio']:.0f}x fewer bytes", f"<= {TARGET:.0f}x",
                got["ratio"] <= TARGET))
            figures.append(Figure(
                NAME, f"{size:,}-character answer, {pace} stream: widget messages a second "
                      "(mean; peak in any 1 s)",
                f"{got['rate']:.0f}/s (peak {got['peak']:.0f})", "", f"{got['messages']:.0f} messages",
                "", None))
    return figures
