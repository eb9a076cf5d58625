"""Where a batch is asked from, when something knows: the IPython extension puts a function here
that gives the kernel's notebook and the id of the cell running the batch (notebook/extension.py
installs and removes it), so a batch's rows are logged, and their calls counted in the usage
ledger, against the notebook and cell they came from, as a cell's answer is."""
from __future__ import annotations

from collections.abc import Callable

__all__ = ["Place", "PLACES", "current"]

Place = tuple["str | None", "str | None"]     # (notebook path, cell id)

PLACES: list[Callable[[], Place]] = []


def current() -> Place:
    """The place the last installed function gives; (None, None) with none, or if it fails
    (a batch must not fail for want of its notebook's name)."""
    if not PLACES:
        return (None, None)
    try:
        return PLACES[-1]()
    except Exception:
        return (None, None)
