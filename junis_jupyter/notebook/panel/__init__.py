"""The chat panel: a widget-free `Conversation` model and `ChatPanel`, the widgets that show it.

conversation.py  turns, the live exchange, session, token totals, rate limit, the lifecycle
widget.py        ChatPanel, the interface: the widgets, their wiring, the public API, traitlets
feed.py          ChatFeed, the conversation drawn: history, each exchange, the live answer
html.py          the page's CSS and key hook, turns as (sanitised) HTML, the render cache
live.py          a streaming answer drawn block by block: finished blocks sent once
asking.py        Asker: each question through the answer pipeline (data/pipeline.py), Stop
buttons.py       the buttons as one table: label, icon, style, action, when enabled
inputbox.py      the input box and the marks the key hook puts in it (Enter, Up)
notice.py        the line under the conversation, errors worded by the advice table
code.py          code blocks highlighted (inside an nh3 pass) with Copy; (language, code) pairs
export.py        the conversation as Markdown, a notebook (inert HTML), a frame
side.py          the panel in JupyterLab's side area (sidecar), or inline saying why
pickers.py       the agent and session dropdowns: options from the listings, quiet moves
loop.py          work moved onto the panel's home loop; tasks waited for; the redraw throttle
client.py        the client given (sync, async, none) made async; its rate-limit reading

`ChatPanel` is imported on first use, so the model can be used (and tested) without ipywidgets.
"""
from __future__ import annotations

from typing import Any

from .conversation import Conversation, Phase, Turn, TurnState

__all__ = ["ChatPanel", "Conversation", "Phase", "Turn", "TurnState"]


def __getattr__(name: str) -> Any:
    if name == "ChatPanel":
        from .widget import ChatPanel
        return ChatPanel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
