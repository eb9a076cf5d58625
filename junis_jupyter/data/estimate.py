"""What a batch will cost before it runs: rows, prompt tokens, and the time the rate limit sets.

Tokens are estimated at about four characters a token (`CHARS_PER_TOKEN`), the usual rule of
thumb for English text with GPT-style tokenisers; no tokeniser is loaded and no request is made.
The time is the floor the key's rate limit puts under the batch at a steady pace, calls / limit
minutes (answers that take longer than that pace make it longer). The limit is the one the last
rate-limit headers named, or, when no response was seen yet, the plan's figure from the API's
documentation (Basic 60 requests a minute, Pro 300), Basic unless told.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CHARS_PER_TOKEN", "PLANS", "Estimate", "estimate", "tokens"]

CHARS_PER_TOKEN = 4
PLANS = {"basic": {"rpm": 60, "concurrency": 5}, "pro": {"rpm": 300, "concurrency": 20}}


def tokens(text: str | None) -> int:
    """About how many tokens `text` is (four characters a token, rounded up)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


@dataclass(frozen=True)
class Estimate:
    """A dry run's answer. `seconds` is the rate limit's floor: `to_ask / rpm` minutes."""
    rows: int
    to_ask: int                 # rows not already answered in the checkpoint
    prompt_tokens: int          # estimated, for the rows to ask
    seconds: float
    rpm: int
    rate_source: str            # where `rpm` came from

    def __str__(self) -> str:
        done = self.rows - self.to_ask
        recorded = f" ({done:,} already answered in the checkpoint)" if done else ""
        return (f"dry run: {self.rows:,} rows{recorded}, {self.to_ask:,} to ask, about "
                f"{self.prompt_tokens:,} prompt tokens (~{CHARS_PER_TOKEN} characters a token), "
                f"at least {_duration(self.seconds)} at {self.rpm:,} requests a minute "
                f"({self.rate_source}); no request was made")

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:   # IPython shows the sentence
        p.text(str(self))


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def estimate(prompts: Sequence[str], *, rows: int | None = None, system: str | None = None,
             rate_limit: Any = None, plan: str = "basic") -> Estimate:
    """The estimate for asking `prompts` (the rows still to ask, of `rows` in all), each with
    `system` if given. `rate_limit` is the last `RateLimitInfo` seen (its `limit`), if any."""
    limit = getattr(rate_limit, "limit", None)
    if limit:
        rpm, source = int(limit), "the key's limit, from the last rate-limit headers"
    else:
        rpm = PLANS[plan]["rpm"]
        source = (f"the {plan.capitalize()} plan's figure from the API docs: no rate-limit "
                  "headers seen yet")
    count = len(prompts)
    prompt_tokens = sum(tokens(p) for p in prompts) + count * tokens(system)
    return Estimate(rows=count if rows is None else rows, to_ask=count,
                    prompt_tokens=prompt_tokens, seconds=60.0 * count / rpm, rpm=rpm,
                    rate_source=source)
