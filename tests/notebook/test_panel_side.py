"""The panel in JupyterLab's side area, driven without a frontend (panel/side.py, `%junis chat
--side`): the one line that says where the panel went, said only when the frontend has answered,
however late (issue 22: under Run All the answer waits behind every queued cell); side panels that
are replaced or closed leave no tab behind; a dead panel has words to say so. What the page does
with them is checked in a real JupyterLab: tests/browser/test_browser_side*.py."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import ipywidgets as w
import pytest
from sidecar import Sidecar

from junis_jupyter.notebook.panel import ChatPanel, side
from junis_jupyter.notebook.panel.html import GONE

pytestmark = pytest.mark.timeout(60)

CAPTURED = ({"output_type": "display_data", "data": {"text/plain": ""}, "metadata": {}},)


class Frontend:
    """What a widget frontend sends back after a cell displayed into Output widgets: every Output
    model it has (a plain Output always; a Sidecar only with sidecar's lab extension) returns what
    it captured, as a state update, in the order the displays were made (here: the order the
    widgets were made, one display each). `sidecar=None`: a frontend without widgets, which
    makes no model and returns nothing."""

    def __init__(self, sidecar: bool | None) -> None:
        self.sidecar = sidecar
        self.made: list[w.Output] = []

    def constructed(self, widget: Any) -> None:
        if isinstance(widget, w.Output):
            self.made.append(widget)

    @property
    def sidecars(self) -> list[w.Output]:
        return [o for o in self.made if isinstance(o, Sidecar)]

    def reply(self) -> None:
        if self.sidecar is None:
            return
        for output in self.made:
            if self.sidecar or not isinstance(output, Sidecar):
                output.set_state({"outputs": CAPTURED})    # what the comm handler calls


@pytest.fixture
def frontend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Frontend]:
    """A `Frontend` (its kind from the test's parameter; default: with sidecar's extension) that
    sees every widget made, in a kernel where a side area is worth trying."""
    seen = Frontend(getattr(request, "param", True))
    monkeypatch.setattr(side, "_why_not", lambda: None)
    w.Widget.on_widget_constructed(seen.constructed)
    try:
        yield seen
    finally:
        w.Widget.on_widget_constructed(None)


def said(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if "side area" in line]


def busy_for(seconds: float) -> None:
    """The kernel's clock moves on by `seconds`, as when Run All's other cells ran meanwhile
    (they hold the loop, and the frontend's replies wait behind them)."""
    loop = asyncio.get_running_loop()
    now = loop.time
    loop.time = lambda: now() + seconds       # type: ignore[method-assign]


async def a_few_turns() -> None:
    for _ in range(5):
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("frontend, line", [
    (True, "The chat panel is open in the side area ('Junis', on the right)."),
    (False, "No side area here (this frontend did not show the sidecar: it needs JupyterLab with "
            "the sidecar extension): the chat panel opens inline."),
], indirect=["frontend"])
def test_the_line_waits_for_the_frontends_reply_however_late_it_comes(
        frontend: Frontend, line: str, capsys: pytest.CaptureFixture[str]) -> None:
    async def scenario() -> None:
        panel = ChatPanel(client=object())
        sidecar = panel.show(side=True)
        assert sidecar is frontend.sidecars[0] and sidecar.title == "Junis"
        await a_few_turns()                     # the line's task is waiting
        busy_for(20 * 60)                       # Run All: twenty minutes of other cells
        await a_few_turns()
        assert said(capsys) == []               # nothing heard yet: nothing said (issue 22)
        frontend.reply()
        await a_few_turns()
        assert said(capsys) == [line]
        await panel.aclose()
    asyncio.run(scenario())


@pytest.mark.parametrize("frontend", [None], indirect=True)
def test_a_frontend_without_widgets_hears_no_line_and_the_probe_is_closed(
        frontend: Frontend, capsys: pytest.CaptureFixture[str]) -> None:
    async def scenario() -> None:
        panel = ChatPanel(client=object())
        panel.show(side=True)
        probe = next(o for o in frontend.made if not isinstance(o, Sidecar))
        await a_few_turns()                     # the line's task is waiting
        busy_for(side.REPLY_WAIT + 1)
        await a_few_turns()
        assert said(capsys) == []               # neither "open" nor "inline" is known
        assert probe.comm is None               # and the probe widget is not left open
        await panel.aclose()
    asyncio.run(scenario())


def test_the_probe_is_closed_once_it_has_replied(frontend: Frontend) -> None:
    async def scenario() -> None:
        panel = ChatPanel(client=object())
        panel.show(side=True)
        probe = next(o for o in frontend.made if not isinstance(o, Sidecar))
        assert probe.comm is not None
        frontend.reply()
        await a_few_turns()
        assert probe.comm is None
        await panel.aclose()
    asyncio.run(scenario())


def test_closing_a_side_panel_closes_its_sidecar_so_no_empty_tab_stays(frontend: Frontend) -> None:
    async def scenario() -> None:
        panel = ChatPanel(client=object())
        sidecar = panel.show(side=True)
        assert sidecar.comm is not None
        await panel.aclose()
        assert sidecar.comm is None             # the frontend closes the tab with the model
    asyncio.run(scenario())


def test_chat_side_again_in_the_same_kernel_replaces_the_earlier_side_panel(
        shell: Any, junis_env: Any, frontend: Frontend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shell.magic.state, "side_panel", None)
    assert shell.run("%junis chat --side").error is None
    first = shell.magic.state.side_panel
    assert first is not None and frontend.sidecars[0].comm is not None
    assert shell.run("%junis chat --side").error is None
    assert shell.magic.state.side_panel is not first
    assert frontend.sidecars[0].comm is None and first.comm is None   # tab and widgets closed
    assert frontend.sidecars[1].comm is not None
    asyncio.run(shell.magic.state.side_panel.aclose())


def test_a_panel_carries_the_words_for_when_its_kernel_is_gone() -> None:
    # Hidden until the frontend marks the panel's widgets disconnected (the page's CSS; seen in
    # tests/browser/test_browser_side.py after a kernel restart).
    panel = ChatPanel(client=object())
    holder = panel.children[0]
    assert GONE in holder.value and "kernel is gone" in GONE
    asyncio.run(panel.aclose())
