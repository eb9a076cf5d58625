"""Interleaved repetitions and their summary: the only statistics the benchmarks use."""
from __future__ import annotations

import gc
import statistics
from dataclasses import dataclass
from typing import Callable, Sequence


@dataclass(frozen=True)
class Spread:
    """A median with the smallest and largest value it summarises."""
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> "Spread":
        if not values:
            raise ValueError("no values to summarise")
        return cls(statistics.median(values), min(values), max(values))

    def scaled(self, factor: float) -> "Spread":
        """The same spread in another unit (seconds to milliseconds, say)."""
        return Spread(self.median * factor, self.low * factor, self.high * factor)

    def format(self, fmt: str = "{:.2f}", unit: str = "") -> str:
        """`1.23x (1.10-1.40)`: the median first, the range after it."""
        m, lo, hi = (fmt.format(v) for v in (self.median, self.low, self.high))
        return f"{m}{unit} ({lo}-{hi})"


def interleave(contenders: dict[str, Callable[[], float]], repeat: int) -> dict[str, list[float]]:
    """Run each contender once per round, in turn (A B A B ...), `repeat` rounds.

    Each callable returns its own measurement (CPU seconds, wall seconds, bytes), so the harness
    never decides what is timed. The garbage collector runs between samples so one contender's
    garbage is not collected on the next one's clock.
    """
    results: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, measure in contenders.items():
            gc.collect()
            results[name].append(measure())
    return results


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> Spread:
    """Per-round ratios (round i of A over round i of B), so both sides of a ratio shared a moment."""
    return Spread.of([a / b for a, b in zip(numerators, denominators, strict=True)])


def differences(minuends: Sequence[float], subtrahends: Sequence[float]) -> Spread:
    return Spread.of([a - b for a, b in zip(minuends, subtrahends, strict=True)])
