"""The progress bar of the pool's work (tqdm.auto: a widget in notebooks, text in a terminal).

Shown only when the work is long enough to watch: more than a handful of calls, unless `show`
forces it on or off. The pool (in the client floor) takes the bar's hook, not the bar.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..client.pool import Progress

__all__ = ["progress_bar"]

SHOWN_OVER = 5   # more calls than this get a bar


@contextmanager
def progress_bar(total: int, desc: str, unit: str, show: bool | None = None,
                 leave: bool = True) -> Iterator[Progress | None]:
    """A hook for `run_threads(progress=...)` drawing a bar, or None when no bar is shown."""
    if not (total > SHOWN_OVER if show is None else show):
        yield None
        return
    from tqdm.auto import tqdm
    bar = tqdm(total=total, desc=desc, unit=unit, leave=leave)
    try:
        yield lambda finished, of: bar.update(1)
    finally:
        bar.close()
