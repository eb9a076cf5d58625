"""The panel's buttons as one table: what each says and does and when it can be pressed, so adding
a button is one row, and whether it is enabled is read off the conversation in one place."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets as w

from .conversation import Conversation

__all__ = ["BUTTONS", "ButtonSpec", "Buttons"]


@dataclass(frozen=True)
class ButtonSpec:
    name: str                # the key in `Buttons.by_name`, and the panel's `<name>_button`
    label: str
    icon: str
    style: str               # ipywidgets' button_style: "", "primary", "warning", ...
    tooltip: str
    css: str                 # the class the page's CSS and the browser tests find it by
    action: str              # the ChatPanel method a click calls, with no arguments
    enabled: Callable[[Conversation], bool]


def _idle(conv: Conversation) -> bool:
    return not conv.busy


def _has_asked(conv: Conversation) -> bool:
    return not conv.busy and bool(conv.recall())


BUTTONS = (
    ButtonSpec("new", "New chat", "plus", "", "", "junis-new", "new_chat", lambda conv: True),
    ButtonSpec("send", "Send", "paper-plane", "primary", "", "junis-send", "send", _idle),
    ButtonSpec("stop", "Stop", "stop", "warning", "", "junis-stop", "stop",
               lambda conv: conv.busy),
    ButtonSpec("retry", "Retry", "redo", "", "Ask the last question again", "junis-retry",
               "retry", _has_asked),
    ButtonSpec("edit", "Edit", "pencil", "",
               "Put the last question back in the box to edit (Up in an empty box does the same)",
               "junis-edit", "edit", _has_asked),
)


class Buttons:
    """The buttons of `specs`, each calling `press(spec)` when clicked. Sizes are left to the
    CSS (flex, wrapping): the panel may be 250 px wide in a side area."""

    def __init__(self, conversation: Conversation, press: Callable[[ButtonSpec], None],
                 specs: tuple[ButtonSpec, ...] = BUTTONS) -> None:
        self.conversation = conversation
        self.specs = specs
        self.by_name: dict[str, w.Button] = {}
        for spec in specs:
            button = w.Button(description=spec.label, icon=spec.icon, button_style=spec.style,
                              tooltip=spec.tooltip or None, layout=w.Layout(width="auto"))
            button.add_class(spec.css)
            button.on_click(lambda _, spec=spec: press(spec))
            self.by_name[spec.name] = button
        self.enable()

    def enable(self) -> None:
        """Each button on or off, as the conversation now allows."""
        for spec in self.specs:
            self.by_name[spec.name].disabled = not spec.enabled(self.conversation)
