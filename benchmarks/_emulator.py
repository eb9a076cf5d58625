"""The emulator the benchmarks talk to: its own process, so its CPU is never counted as the client's."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

# Limits high enough that no benchmark is ever throttled: the batch runs 20 at once, and the
# whole run makes a few thousand requests inside a minute.
OPTIONS: dict[str, Any] = {
    "plan": "pro", "rpm": 100_000, "concurrency": 20, "credits": 10**12, "token_delay": 0.0,
}


@contextmanager
def emulator(**overrides: Any) -> Iterator[Any]:
    """A running emulator process (`.url`, `.key`), stopped on exit whatever happens."""
    from junis_jupyter.emulator.process import start_emulator_process
    server = start_emulator_process(**{**OPTIONS, **overrides})
    try:
        yield server
    finally:
        server.stop()
