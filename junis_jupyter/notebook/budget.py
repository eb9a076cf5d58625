"""What a streaming answer may send the frontend: the bytes of its redraws, as a share of the
answer's own size, and (the panel's widgets) messages, at a steady rate. The cell's renderer
(`render.py`) and the panel's live answer (`panel/live.py`) both spend from one.

The redraws of the block being written are what can grow without bound (a long paragraph, a
slow stream: the same bytes sent again at every redraw), so their bytes are paid for by the
answer's growth: all of them together at most `SHARE` of the answer's HTML plus `HEADSTART`,
so the first lines show at full rate. Text never waits longer than `LONGEST_WAIT` for a redraw
the budget cannot pay for. Messages come out of a bucket refilled at `RATE` a second, holding at
most `burst` (starting with `START`); every widget message counts, a redraw's and a settled
piece's alike.
"""
from __future__ import annotations

__all__ = ["MESSAGE", "WireBudget"]

SHARE = 0.2           # of the answer's HTML, what redraws may send in all...
HEADSTART = 4_000     # ...plus this many bytes
LONGEST_WAIT = 1.0    # seconds text may wait for a redraw the bytes cannot pay for
RATE = 12.0           # widget messages a second, steadily...
START = 3.0           # ...this many to begin with, so a short answer is not one burst
MESSAGE = 150         # wire bytes of a widget update besides the value it carries


class WireBudget:
    def __init__(self, burst: float, share: float = SHARE) -> None:
        self.burst = burst
        self.share = share
        self.spent = 0                    # bytes the redraws have sent
        self.last = float("-inf")         # when the last redraw went
        self._tokens = min(START, burst)
        self._filled: float | None = None

    def messages(self, now: float) -> float:
        """How many messages may go now."""
        if self._filled is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._filled) * RATE)
        self._filled = now
        return self._tokens

    def redraw_paid(self, size: int, answer: int, now: float) -> bool:
        """Whether a redraw of `size` bytes is paid for, the answer's HTML being `answer` bytes
        with it (or has waited long enough not to care)."""
        if now - self.last >= LONGEST_WAIT:
            return True
        return MESSAGE + size <= self.share * answer + HEADSTART - self.spent

    def spend(self, redraw: int, messages: int, now: float) -> None:
        """A redraw of `redraw` bytes went, in `messages` messages in all."""
        self.spent += MESSAGE + redraw
        self.last = now
        self.messages(now)
        self._tokens -= messages
