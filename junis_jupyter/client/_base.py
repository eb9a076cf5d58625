"""What JunisClient and AsyncJunisClient share besides the core: reading its state, observers."""
from __future__ import annotations

from ._core import Core, Observer
from .types import RateLimitInfo


class ClientBase:
    _core: Core

    @property
    def base_url(self) -> str:
        return self._core.base_url

    @property
    def rate_limit(self) -> RateLimitInfo | None:
        """The rate-limit headers of the last response this client received."""
        return self._core.rate_limit

    def add_observer(self, fn: Observer) -> None:
        """Call `fn(CallRecord)` after every call this client makes."""
        self._core.observers.append(fn)

    def remove_observer(self, fn: Observer) -> None:
        if fn in self._core.observers:
            self._core.observers.remove(fn)

    def __repr__(self) -> str:
        return self._core.describe(type(self).__name__)
