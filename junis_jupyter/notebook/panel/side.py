"""The panel beside the work: JupyterLab's side area, through the `sidecar` package.

A `Sidecar` is an Output widget that JupyterLab's sidecar extension shows in the right side area
(or a split of the main area); what is displayed into it stays there while the notebook scrolls
and runs cells. Two things from trying it (browser-testing-2.md): the sidecar lays its outputs
side by side, so only the panel goes into it (the key hook, which installs a listener on the
window once, is displayed in the cell instead); and a frontend without the extension (classic
Notebook, VS Code, Lab without sidecar) never makes the sidecar's model, so what was displayed
into it lands in the cell itself: the panel is inline already, and one line says so.

Which of the two happened is told by the frontend's replies, never by a clock. A widget frontend
sends back what an Output widget captured. After the panel goes into the sidecar, an empty display
goes into a plain `Output` (the probe, which every widget frontend knows). The frontend handles
the two displays in order, so by the time the probe's reply comes, the sidecar's has come if the
sidecar caught the panel. Replies can come late: under Run All the frontend's messages queue
behind every cell Run All sent, and the kernel reads them only after the last cell. A fixed
15-second wait therefore said "No side area" while the panel sat in the side area (issue 22).
A frontend with no widgets at all replies to neither, and nothing is said.

A restarted kernel leaves its side panel behind: the frontend keeps the tab and marks its widgets
disconnected. The script shown with a new side panel closes those tabs, and a dead panel that
stays says that its kernel is gone (`html.GONE`).
"""
from __future__ import annotations

import asyncio
import os
from typing import Any

__all__ = ["CLOSE_DEAD_JS", "NO_SIDE_AREA", "NO_SIDECAR", "OPENED", "REPLY_WAIT", "open_beside"]

NO_SIDE_AREA = "No side area here ({why}): the chat panel opens inline."
NO_SIDECAR = ("this frontend did not show the sidecar: it needs JupyterLab with the sidecar "
              "extension")
OPENED = "The chat panel is open in the side area ({title!r}, on the {anchor})."
REPLY_WAIT = 3600.0      # seconds; a frontend silent this long shows no widgets: nothing is said

# Side panels whose kernel is gone: their widgets are marked `jupyter-widgets-disconnected` and
# can never send again. Each one's tab is closed as a middle click on it closes it (sidecar
# disposes what a tab close asks for, and a main-area tab closes). A tab that cannot be clicked
# (its bar hidden) stays, and its panel says that its kernel is gone.
CLOSE_DEAD_JS = """
(function () {
  document.querySelectorAll('.jupyterlab-sidecar').forEach(function (side) {
    var panel = side.querySelector('.junis-chat-panel');
    if (!side.id || !panel || !panel.classList.contains('jupyter-widgets-disconnected')) { return; }
    var tab = document.querySelector('.lm-TabBar-tab[data-id="' + CSS.escape(side.id) + '"]');
    if (!tab) { return; }
    var r = tab.getBoundingClientRect();
    var at = {bubbles: true, cancelable: true, button: 1, buttons: 4, pointerId: 1,
              pointerType: 'mouse', isPrimary: true,
              clientX: r.left + r.width / 2, clientY: r.top + r.height / 2};
    tab.dispatchEvent(new PointerEvent('pointerdown', at));
    tab.dispatchEvent(new PointerEvent('pointerup', at));
  });
})();
"""


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


def open_beside(panel: Any, keys_js: str, *, anchor: str = "right", title: str = "Junis") -> Any:
    """Show `panel` in a Sidecar (returned), or inline with one line saying why not (None)."""
    why = _why_not()
    if why is not None:
        print(NO_SIDE_AREA.format(why=why))
        panel._ipython_display_()
        return None
    from IPython.display import Javascript, display
    from ipywidgets import Output
    from sidecar import Sidecar

    side = Sidecar(title=title, anchor=anchor)
    probe = Output()
    display(Javascript(CLOSE_DEAD_JS + keys_js))   # in the cell: the hook listens on the window
    with side:                           # the widget alone (not its _ipython_display_, which adds
        display(panel._repr_mimebundle_(), raw=True)   # the hook): outputs sit side by side
    with probe:                          # after the panel: its reply comes after the sidecar's
        display({"text/plain": ""}, raw=True)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:                 # no loop to hear the replies on: nothing can be known
        probe.close()
        return side
    replied = asyncio.Event()
    probe.observe(lambda _: loop.call_soon_threadsafe(replied.set), names="outputs")
    loop.create_task(_say_where(side, probe, replied, title, anchor))
    return side


async def _say_where(side: Any, probe: Any, replied: asyncio.Event, title: str,
                     anchor: str) -> None:
    """One line in the cell (printed from this task, it lands in the cell that opened it), said
    when the probe's reply comes: the side area has the panel (the sidecar's reply came first),
    or there is none (only the probe replied; the panel went to the cell)."""
    try:
        await asyncio.wait_for(replied.wait(), REPLY_WAIT)
    except asyncio.TimeoutError:
        return                           # no widget frontend: the panel is nowhere to point to
    finally:
        probe.close()
    if side.outputs:
        print(OPENED.format(title=title, anchor=anchor))
    else:
        print(NO_SIDE_AREA.format(why=NO_SIDECAR))
