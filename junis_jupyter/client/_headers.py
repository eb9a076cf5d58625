"""Response headers -> numbers: the rate-limit families and `Retry-After`. Lenient: a header that
is not a finite number reads as None and never fails the call."""
from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timezone
from email.utils import parsedate_to_datetime
from math import isfinite

from .types import RateLimitInfo

__all__ = ["parse_rate_limit", "parse_reset", "parse_retry_after"]

_EPOCH_FLOOR = 1_000_000_000   # a "reset" below this is a number of seconds, not a timestamp


def _number(value: str | None) -> float | None:
    """A header's number; `inf`, `nan` and garbage are None (they would break arithmetic and
    datetimes downstream)."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if isfinite(number) else None


def _int(value: str | None) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def parse_reset(value: str | None, now: float) -> float | None:
    """Unix seconds of the reset; a small number is read as seconds from now."""
    number = _number(value)
    if number is None:
        return None
    return number if number >= _EPOCH_FLOOR else now + number


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds to wait: a number, or an HTTP date."""
    if value is None:
        return None
    number = _number(value)
    if number is not None:
        return max(0.0, number)
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_rate_limit(headers: Mapping[str, str], now: float | None = None) -> RateLimitInfo:
    """Reads `X-RateLimit-{Limit,Remaining,Reset}` or their `-Minute` variants, and `-Hour`."""
    get = headers.get
    now = time.time() if now is None else now
    return RateLimitInfo(
        limit=_int(get("x-ratelimit-limit") or get("x-ratelimit-limit-minute")),
        remaining=_int(get("x-ratelimit-remaining") or get("x-ratelimit-remaining-minute")),
        reset=parse_reset(get("x-ratelimit-reset") or get("x-ratelimit-reset-minute"), now),
        retry_after=parse_retry_after(get("retry-after"), now),
        hour_limit=_int(get("x-ratelimit-limit-hour")),
        hour_remaining=_int(get("x-ratelimit-remaining-hour")),
        hour_reset=parse_reset(get("x-ratelimit-reset-hour"), now),
    )
