"""What tests, notebooks and benchmarks hold on to: a running emulator's URL, key and admin helpers.

Shared by the in-process thread runner and the subprocess runner, so both drive faults, keys and
statistics the same way (over HTTP, through the admin routes).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import httpx

# What the thread and process runners start with unless told otherwise: a free port, the admin
# routes on, no delay between streamed chunks.
RUNNER_DEFAULTS: dict[str, Any] = {"port": 0, "admin": True, "token_delay": 0.0}


class EmulatorHandle(ABC):
    url: str
    key: str

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = key
        self._admin: httpx.Client | None = None

    def __repr__(self) -> str:           # never the key
        return f"<{type(self).__name__} {self.url}>"

    @property
    def admin(self) -> httpx.Client:
        """An httpx client on the emulator's base URL, for the /_emulator/* routes."""
        if self._admin is None:
            self._admin = httpx.Client(base_url=self.url, timeout=10)
        return self._admin

    def _admin_call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.admin.request(method, path, **kwargs)
        if response.status_code != 200:
            raise RuntimeError(f"emulator admin {method} {path} failed: {response.status_code} "
                               f"{response.text[:200]}")
        return response.json()

    def faults(self, *faults: dict[str, Any]) -> None:
        """Queue faults for the next matching requests (see docs/emulator.md for the kinds)."""
        self._admin_call("POST", "/_emulator/faults", json={"faults": list(faults)})

    def clear_faults(self) -> None:
        self._admin_call("DELETE", "/_emulator/faults")

    def new_key(self, **options: Any) -> str:
        """Another key of the same organisation: scopes, credits, plan, rpm, concurrency."""
        return self._admin_call("POST", "/_emulator/keys", json=options)["key"]

    def stats(self) -> dict[str, Any]:
        return self._admin_call("GET", "/_emulator/stats")

    def _close_admin(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    @abstractmethod
    def stop(self) -> None:
        """Stop the server and release its port."""

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
