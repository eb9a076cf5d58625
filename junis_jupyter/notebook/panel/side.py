"""The panel beside the work: JupyterLab's side area, through the `sidecar` package.

A `Sidecar` is an Output widget that JupyterLab's sidecar extension shows in the right side area
(or a split of the main area); what is displayed into it stays there while the notebook scrolls
and runs cells. Two things from trying it (browser-testing-2.md): the sidecar lays its outputs
side by side, so only the panel goes into it (the key hook, which installs a listener on the
window once, is displayed in the cell instead); and a frontend without the extension (classic
Notebook, VS Code, Lab without sidecar) shows nothing at all, so the panel's `_view_count` is
watched: if no view of it appears soon, the panel is shown inline, with a line saying so.
"""
from __future__ import annotations

import asyncio
import os
from typing import Any

__all__ = ["open_beside", "NO_SIDE_AREA"]

NO_SIDE_AREA = "No side area here ({why}): the chat panel opens inline."
WAIT_FOR_VIEW = 5.0      # seconds for a frontend with the extension to show the sidecar


def _why_not() -> str | None:
    """Why there is certainly no side area, before trying (None: worth trying)."""
    try:
        import sidecar  # noqa: F401
    except ImportError:
        return "the sidecar package is not installed: pip install sidecar"
    if any(k.startswith("VSCODE_") for k in os.environ):
        return "VS Code has no JupyterLab side area"
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is None or getattr(shell, "kernel", None) is None:
        return "not running in a Jupyter kernel"
    return None


def _inline(panel: Any, keys_js: str, why: str) -> None:
    print(NO_SIDE_AREA.format(why=why))
    panel._ipython_display_()


def open_beside(panel: Any, keys_js: str, *, anchor: str = "right", title: str = "Junis") -> Any:
    """Show `panel` in a Sidecar (returned), or inline with one line saying why not (None)."""
    why = _why_not()
    if why is not None:
        _inline(panel, keys_js, why)
        return None
    from IPython.display import Javascript, display
    from sidecar import Sidecar

    side = Sidecar(title=title, anchor=anchor)
    # With `_view_count` a number, the frontend counts the views of the panel it shows (on each
    # view's "displayed"): one more means the sidecar showed it. (The sidecar's own view is
    # never "displayed" in that sense, so its count says nothing.)
    if panel._view_count is None:
        panel._view_count = 0
    seen = panel._view_count
    display(Javascript(keys_js))         # in the cell: the hook listens on the whole window
    with side:                           # the widget alone (not its _ipython_display_, which adds
        display(panel._repr_mimebundle_(), raw=True)   # the hook): outputs sit side by side
    print(f"The chat panel is open in the side area ({title!r}, on the {anchor}).")
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return side
    loop.create_task(_fall_back_if_unseen(side, panel, keys_js, seen))
    return side


async def _fall_back_if_unseen(side: Any, panel: Any, keys_js: str, seen: int) -> None:
    """No view of the sidecar after a while: this frontend has no side area; show it inline.
    (Printed and displayed from this task, it lands in the cell that opened it.)"""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_FOR_VIEW
    while loop.time() < deadline:
        if (panel._view_count or 0) > seen:
            return
        await asyncio.sleep(0.1)
    side.close()
    _inline(panel, keys_js, "this frontend did not show the sidecar: it needs JupyterLab with "
                            "the sidecar extension")
