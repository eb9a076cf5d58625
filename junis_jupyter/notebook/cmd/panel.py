"""`%junis chat [--side]`: the chat panel, inline or in JupyterLab's side area."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .parser import Parser

if TYPE_CHECKING:
    from ..state import KernelState

__all__ = ["chat"]

_CHAT = Parser("%junis chat", "%junis chat [--side]").add("--side", action="store_true")


def chat(state: KernelState, args: list[str]) -> None:
    opts = _CHAT.parse(args)
    from ..panel import ChatPanel
    panel = ChatPanel(client=state.client)
    if opts.side:
        panel.show(side=True)
    else:
        state.show(panel)
