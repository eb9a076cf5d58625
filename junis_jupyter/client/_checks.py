"""Numbers the client's options take, checked where they are set: a bad one (NaN, infinity, a
negative or zero timeout, 2.5 workers) is one line naming the option, at once, rather than a raw
error from httpx or asyncio much later, a misleading "could not reach", or a pool that hangs.
Pure and import-free, so that the limiter (loaded with the extension) can use it too."""
from __future__ import annotations

from math import isfinite

from ..errors import ConfigurationError

__all__ = ["whole_number", "seconds", "delay", "MAX_TIMEOUT_S"]

# A week. Longer is no bound at all in practice, and far longer (1e300) overflows the platform's
# clock in a blocking socket's deadline.
MAX_TIMEOUT_S = 7 * 24 * 3600


def whole_number(value: object, name: str, least: int) -> int:
    """`value` if it is an int (not a bool) of at least `least`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigurationError(f"{name} must be a whole number, {least} or more, not {value!r}.")
    return value


def seconds(value: object, name: str) -> float | None:
    """A timeout: more than 0 and at most MAX_TIMEOUT_S seconds, or None (no limit)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not (isfinite(value) and 0 < value <= MAX_TIMEOUT_S):
        raise ConfigurationError(
            f"{name} must be a number of seconds above 0 and at most {MAX_TIMEOUT_S:,} (a week), "
            f"or None to wait without limit; not {value!r}.")
    return float(value)


def delay(value: object, name: str) -> float:
    """A wait the client may sleep: a finite number of seconds, 0 or more."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not (isfinite(value) and value >= 0):
        raise ConfigurationError(f"{name} must be a finite number of seconds, 0 or more, "
                                 f"not {value!r}.")
    return float(value)
