"""The persona's client: made on first use from the key and URL in force in the Jupyter server
(its environment, else the login file of `junis-jupyter login`), and made again when they change,
so a new login reaches a running server with its next message. Every call it makes writes a row
to the usage ledger.
"""
from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING

from .. import config
from ..client.observers import DEFAULT_OBSERVERS
from ..data import ledger

if TYPE_CHECKING:
    from ..client.aio import AsyncJunisClient

__all__ = ["Connection"]


class Connection:
    def __init__(self) -> None:
        self._client: AsyncJunisClient | None = None
        self._made_with = ""            # a digest of the key and URL, never the key itself
        self._closing: set[asyncio.Task[None]] = set()

    def client(self) -> AsyncJunisClient:
        """The client for the key and URL in force now (MissingKeyError when there is no key)."""
        key = config.resolve_key()
        url = config.resolve_base_url()
        made_with = hashlib.sha256(f"{key}\n{url}".encode()).hexdigest()
        if self._client is None or made_with != self._made_with:
            from ..client.aio import AsyncJunisClient
            old, self._client = self._client, AsyncJunisClient(
                api_key=key, base_url=url,
                observers=[] if ledger.record in DEFAULT_OBSERVERS else [ledger.record])
            self._made_with = made_with
            if old is not None:
                task = asyncio.ensure_future(old.aclose())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        return self._client

    def base_url(self) -> str | None:
        """The URL in force, for advice about a failed connection (None when it is not valid)."""
        try:
            return config.resolve_base_url()
        except Exception:
            return None

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
