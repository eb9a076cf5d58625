"""The blocking client a data function runs on: the one passed, or one made from the environment.

Shared by `frames` and `ask_many`, which run their calls on worker threads and so need a
`JunisClient`; an `AsyncJunisClient` is refused with a clear error rather than failing later.
"""
from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..client.sync import JunisClient

__all__ = ["sync_client", "checked_sync"]


@contextmanager
def sync_client(client: Any, user: str = "frames") -> Iterator[JunisClient]:
    """The client given, or one made from the environment and closed afterwards. An
    AsyncJunisClient, or anything else that is not a JunisClient, is refused."""
    if client is None:
        from ..client.sync import JunisClient
        with JunisClient() as own:
            yield own
        return
    yield checked_sync(client, user)


def checked_sync(client: Any, user: str) -> JunisClient:
    """`client`, if it is a JunisClient; an AsyncJunisClient (or anything else) is refused."""
    if not hasattr(client, "resolve_agent") or \
            inspect.iscoroutinefunction(getattr(client, "chat", None)):
        raise TypeError(f"{user} needs a JunisClient (sync); an AsyncJunisClient was given.")
    return client
