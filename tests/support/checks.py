"""Small checks shared by the suites: what a widget tree shows, and what a clear error line is."""
from __future__ import annotations

from typing import Any



def widget_strings(widget: Any) -> list[str]:
    """Every string a widget tree puts on the page (values, labels, options), depth first."""
    found: list[str] = []
    for name in ("value", "description", "placeholder", "tooltip"):
        value = getattr(widget, name, None)
        if isinstance(value, str):
            found.append(value)
    for option in getattr(widget, "options", ()) or ():
        found.append(repr(option))
    for child in getattr(widget, "children", ()) or ():
        found += widget_strings(child)
    return found


def one_line(text: str) -> bool:
    """A clear error is one line, with no traceback in it."""
    return bool(text.strip()) and "\n" not in text.strip() and "Traceback" not in text
