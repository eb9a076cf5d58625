"""What JunisClient and AsyncJunisClient share besides the core: construction (a Core and the
httpx client that carries it), reading its state, observers."""
from __future__ import annotations

from typing import Generic, TypeVar

import httpx

from ._core import DEFAULT_MAX_RESPONSE_BYTES, Core, Observer
from ._retry import RetryPolicy
from .types import RateLimitInfo

H = TypeVar("H", httpx.Client, httpx.AsyncClient)
C = TypeVar("C", bound="ClientBase")


class ClientBase(Generic[H]):
    _http_class: type[H]        # the httpx client made when none is given
    _core: Core
    _http: H
    _owns_http: bool

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *,
                 timeout: float = 60.0, connect_timeout: float = 10.0, max_retries: int = 2,
                 allow_insecure: bool = False, observers: list[Observer] | None = None,
                 http_client: H | None = None,
                 retry_policy: RetryPolicy | None = None,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        self._attach(Core(api_key, base_url, timeout=timeout, connect_timeout=connect_timeout,
                          max_retries=max_retries, allow_insecure=allow_insecure,
                          observers=observers, retry_policy=retry_policy,
                          max_response_bytes=max_response_bytes), http_client)

    @classmethod
    def _from_core(cls: type[C], core: Core) -> C:
        """A client on an existing core (`JunisClient.to_async`), with its own httpx client."""
        client = cls.__new__(cls)
        client._attach(core, None)
        return client

    def _attach(self, core: Core, http_client: H | None) -> None:
        self._core = core
        self._owns_http = http_client is None
        self._http = http_client or self._http_class()

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
