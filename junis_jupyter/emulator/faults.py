"""Faults queued through the admin route, each consumed by one of the next matching requests.

`status`, `delay` and `reset` are taken when a request arrives (before auth); `cut`, `malformed`
and `error_event` when a stream starts, since they only make sense inside one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ARRIVAL_KINDS = ("status", "delay", "reset")
STREAM_KINDS = ("cut", "malformed", "error_event")
_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "status": {"status": int, "code": str, "message": str, "retry_after": (int, float)},
    "delay": {"seconds": (int, float)},
    "reset": {},
    "cut": {"after": int, "abrupt": bool},
    "malformed": {"after": int},
    "error_event": {"after": int, "code": str, "message": str},
}


@dataclass
class Fault:
    kind: str
    path: str = ""
    count: int = 1
    status: int = 500
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    seconds: float = 0.0
    after: int = 0
    abrupt: bool = False


def parse_fault(raw: Any, index: int) -> Fault:
    """Validate one fault from the admin body; ValueError names the bad field."""
    where = f"faults[{index}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be an object")
    kind = raw.get("kind")
    if kind not in _FIELDS:
        raise ValueError(f"{where}.kind must be one of {', '.join(_FIELDS)}")
    allowed = {"kind": str, "path": str, "count": int, **_FIELDS[kind]}
    for name, value in raw.items():
        if name not in allowed:
            raise ValueError(f"{where}.{name} is not a field of a {kind} fault")
        wanted = allowed[name]
        if isinstance(value, bool) and wanted is not bool or not isinstance(value, wanted):
            raise ValueError(f"{where}.{name} has the wrong type")
    fault = Fault(**raw)
    if fault.count < 1 or fault.after < 0 or fault.seconds < 0:
        raise ValueError(f"{where}: count must be >= 1, after and seconds >= 0")
    if kind == "status" and not 400 <= fault.status <= 599:
        raise ValueError(f"{where}.status must be an HTTP error status (400-599)")
    return fault


class FaultQueue:
    def __init__(self) -> None:
        self._queue: list[Fault] = []

    def add(self, faults: list[Fault]) -> None:
        self._queue.extend(faults)

    def clear(self) -> None:
        self._queue.clear()

    def __len__(self) -> int:
        return len(self._queue)

    def take(self, path: str, kinds: tuple[str, ...]) -> Fault | None:
        """The first queued fault of one of `kinds` whose path prefix matches; one use of it."""
        for fault in self._queue:
            if fault.kind in kinds and path.startswith(fault.path):
                fault.count -= 1
                if fault.count == 0:
                    self._queue.remove(fault)
                return fault
        return None
