"""Who hears of every call: the observer type and the list every new client copies.

Its own module, importing nothing, so that the IPython extension can put the usage ledger on the
list at load without importing the client's machinery (httpx, asyncio) before the first call.
"""
from __future__ import annotations

from collections.abc import Callable

from .types import CallRecord

__all__ = ["Observer", "DEFAULT_OBSERVERS"]

Observer = Callable[[CallRecord], None]

# Copied into every new client. The IPython extension appends the usage ledger here on load.
DEFAULT_OBSERVERS: list[Observer] = []
