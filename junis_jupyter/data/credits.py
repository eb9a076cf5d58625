"""Credits, estimated: the service charges credits per call but neither says how many in its
answers nor offers a balance to read, so every figure here is an estimate and is labelled so.

The rule (the house contract's reading of the service's docs, and what the emulator charges):
one credit per started 1,000 total tokens, at least one a call. It is configurable, for a plan
that charges otherwise: `credits.configure(tokens_per_credit=..., minimum=...)`, or the
environment variables JUNIS_TOKENS_PER_CREDIT and JUNIS_MIN_CREDITS read at first use.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

from ..errors import ConfigurationError

__all__ = ["CreditRule", "configure", "estimate", "rule", "UNIT"]

UNIT = "credits"


@dataclass(frozen=True)
class CreditRule:
    tokens_per_credit: int = 1000
    minimum: int = 1

    def __post_init__(self) -> None:
        for name, value, least in (("tokens_per_credit", self.tokens_per_credit, 1),
                                   ("minimum", self.minimum, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigurationError(f"credits: {name} must be a whole number, {least} or "
                                         f"more, not {value!r}.")

    def estimate(self, total_tokens: int | None) -> int:
        """The estimated credits of one call that used `total_tokens`; 0 for none (a cache hit,
        a listing, a call that failed before any token)."""
        if not total_tokens:
            return 0
        return max(self.minimum, math.ceil(total_tokens / self.tokens_per_credit))


_rule: CreditRule | None = None


def _from_env() -> CreditRule:
    values = {}
    for name, var in (("tokens_per_credit", "JUNIS_TOKENS_PER_CREDIT"),
                      ("minimum", "JUNIS_MIN_CREDITS")):
        text = os.environ.get(var, "").strip()
        if text:
            try:
                values[name] = int(text)
            except ValueError:
                raise ConfigurationError(f"{var}={text!r} is not a whole number.") from None
    return CreditRule(**values)


def rule() -> CreditRule:
    global _rule
    if _rule is None:
        _rule = _from_env()
    return _rule


def configure(tokens_per_credit: int = 1000, minimum: int = 1) -> CreditRule:
    """Estimate credits by this rule from now on (in this process)."""
    global _rule
    _rule = CreditRule(tokens_per_credit, minimum)
    return _rule


def estimate(total_tokens: int | None) -> int:
    return rule().estimate(total_tokens)
