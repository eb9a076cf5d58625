"""What a streaming answer may send the frontend while it is still being written.

The part still being written is what can grow without bound (a long paragraph, a slow stream:
the same bytes sent again at every redraw), so re-sending it is paid for by the answer's growth
(`ResendBudget`): all re-sends together at most `share` of the answer's bytes plus `HEADSTART`,
so the first lines show at full rate; text never waits longer than `LONGEST_WAIT` for a re-send
the budget cannot pay for. The cell's renderer (`render.py`) and the panel's live answer
(`panel/live.py`) both spend from one. The panel's widgets also take their messages from a
`MessageBucket`, refilled at `RATE` a second.
"""
from __future__ import annotations

__all__ = ["MessageBucket", "ResendBudget"]

SHARE = 0.2           # of the answer's bytes, what re-sends may cost in all...
HEADSTART = 4_000     # ...plus this many bytes
LONGEST_WAIT = 1.0    # seconds text may wait for a re-send the bytes cannot pay for
RATE = 12.0           # widget messages a second, steadily...
START = 3.0           # ...this many to begin with, so a short answer is not one burst
MESSAGE = 150         # wire bytes of a message besides the value it carries


class ResendBudget:
    def __init__(self, share: float = SHARE) -> None:
        self.share = share
        self.spent = 0                    # bytes the re-sends have cost
        self.last = float("-inf")         # when the last one went

    def paid(self, size: int, answer: int, now: float) -> bool:
        """Whether re-sending `size` bytes is paid for, the answer being `answer` bytes with
        it (or has waited long enough not to care)."""
        if now - self.last >= LONGEST_WAIT:
            return True
        return MESSAGE + size <= self.share * answer + HEADSTART - self.spent

    def spend(self, size: int, now: float) -> None:
        self.spent += MESSAGE + size
        self.last = now


class MessageBucket:
    """Messages at `RATE` a second, at most `burst` at once (every widget message counts)."""

    def __init__(self, burst: float) -> None:
        self.burst = burst
        self._tokens = min(START, burst)
        self._filled: float | None = None

    def available(self, now: float) -> float:
        if self._filled is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._filled) * RATE)
        self._filled = now
        return self._tokens

    def take(self, count: int, now: float) -> None:
        self.available(now)
        self._tokens -= count
