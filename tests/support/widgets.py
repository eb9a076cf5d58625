"""Widget messages as the kernel would send them, recorded instead (no frontend runs)."""
from __future__ import annotations

from typing import Any

from benchmarks.panel_bytes import WidgetWire as _Wire
from benchmarks.panel_bytes import one_message   # the figure's weight, the same in the tests

__all__ = ["WidgetWire", "one_message"]


class WidgetWire(_Wire):
    """The benchmark's recorder, installed for one test."""

    def __init__(self, monkeypatch: Any) -> None:
        import comm
        super().__init__()
        monkeypatch.setattr(comm, "create_comm", self.create_comm)
