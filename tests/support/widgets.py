"""Widget messages as the kernel would send them, recorded instead (no frontend runs)."""
from __future__ import annotations

import json
from typing import Any

from benchmarks.panel_bytes import one_message   # the figure's weight, the same in the tests

__all__ = ["WidgetWire", "one_message"]


class WidgetWire:
    """Every widget message the kernel would send the frontend (comm opens and state updates),
    as the JSON the kernel serialises: widgets get their comm from `comm.create_comm`, which is
    swapped here for a recording one. (No frontend runs, so this is the honest count of bytes.)"""

    def __init__(self, monkeypatch: Any) -> None:
        import comm
        from comm.base_comm import BaseComm
        self.messages: list[str] = []
        wire = self

        class Recording(BaseComm):
            def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None,
                            buffers: Any = None, **keys: Any) -> None:
                wire.messages.append(json.dumps(
                    {"msg_type": msg_type, "comm_id": self.comm_id, "data": data},
                    default=str, ensure_ascii=False))
        monkeypatch.setattr(comm, "create_comm", lambda *a, **k: Recording(*a, **k))

    @property
    def bytes(self) -> int:
        return sum(len(m.encode("utf-8")) for m in self.messages)
