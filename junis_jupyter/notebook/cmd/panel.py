"""`%junis chat [--side]`: the chat panel, inline or in JupyterLab's side area."""
from __future__ import annotations

import asyncio
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
        _close_earlier(state)
        if panel.show(side=True) is not None:     # in a sidecar (not inline for want of one)
            state.side_panel = panel
    else:
        state.show(panel)


def _close_earlier(state: KernelState) -> None:
    """The side panel an earlier `%junis chat --side` of this kernel opened is closed, tab and
    all: re-running the cell (Run All, say) replaces it, as a cell's output is replaced, instead
    of piling up tabs that nothing refers to. (One left by a restarted kernel is closed by the
    page: `side.CLOSE_DEAD_JS`.)"""
    earlier, state.side_panel = state.side_panel, None
    if earlier is None:
        return
    try:
        asyncio.get_running_loop().create_task(earlier.aclose())   # a kernel's cell
    except RuntimeError:                      # no loop runs (IPython without a kernel's loop)
        asyncio.run(earlier.aclose())
