"""The panel beside the work: JupyterLab's side area, through the `sidecar` package.

A `Sidecar` is an Output widget that JupyterLab's sidecar extension shows in the right side area
(or a split of the main area); what is displayed into it stays there while the notebook scrolls
and runs cells. Two things from trying it (browser-testing-2.md): the sidecar lays its outputs
side by side, so only the panel goes into it (the key hook, which installs a listener on the
window once, is displayed in the cell instead); and a frontend without the extension (classic
Notebook, VS Code, Lab without sidecar) never makes the sidecar's model, so what was displayed
into it lands in the cell itself: the panel is inline already, and one line says so. Which of the
two happened is told by the sidecar's `outputs`, which only a frontend that captured the display
sends back.
"""
from __future__ import annotations

import asyncio
import os
from typing import Any

__all__ = ["NO_SIDE_AREA", "OPENED", "open_beside"]

NO_SIDE_AREA = "No side area here ({why}): the chat panel opens inline."
OPENED = "The chat panel is open in the side area ({title!r}, on the {anchor})."
WAIT_FOR_VIEW = 15.0     # seconds for a frontend with the extension to show the sidecar


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
    display(Javascript(keys_js))         # in the cell: the hook listens on the whole window
    with side:                           # the widget alone (not its _ipython_display_, which adds
        display(panel._repr_mimebundle_(), raw=True)   # the hook): outputs sit side by side
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        print(OPENED.format(title=title, anchor=anchor))
        return side
    loop.create_task(_say_where(side, title, anchor))
    return side


async def _say_where(side: Any, title: str, anchor: str) -> None:
    """One line in the cell (printed from this task, it lands in the cell that opened it): the
    side area has the panel, or there is none. A frontend with the extension captures what was
    displayed into the sidecar and sends its `outputs` back; one without never makes the
    sidecar's model, so the display went to the cell itself, and the panel is there already."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_FOR_VIEW
    while loop.time() < deadline:
        if side.outputs:
            print(OPENED.format(title=title, anchor=anchor))
            return
        await asyncio.sleep(0.1)
    # Not closed: on a very slow frontend it may show yet, and closing it would take the panel.
    print(NO_SIDE_AREA.format(why="this frontend did not show the sidecar: it needs JupyterLab "
                                  "with the sidecar extension"))
