"""The progress bar of the pool's work (tqdm.auto: a widget in notebooks, text in a terminal).

Shown only when the work is long enough to watch: more than a handful of calls, unless `show`
forces it on or off. The pool (in the client floor) takes the bar's hook, not the bar.

A batch's bar (`row_bar`) also counts the failed rows (`failed=N` beside the bar) and starts at
the rows a checkpoint already holds; tqdm's own `<time left` is the estimate of the time left.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..client.pool import Progress

__all__ = ["RowBar", "progress_bar", "row_bar"]

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


class RowBar:
    """A batch's bar: `row(failed)` as each row finishes."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar
        self.failed = 0

    def row(self, failed: bool) -> None:
        if failed:
            self.failed += 1
            self._bar.set_postfix(failed=self.failed, refresh=False)
        self._bar.update(1)


@contextmanager
def row_bar(total: int, done: int, desc: str, show: bool | None = None) -> Iterator[RowBar | None]:
    """The bar of a batch of `total` rows of which `done` are already answered, or None when no
    bar is shown (by default: when more than SHOWN_OVER rows are left to ask)."""
    if not (total - done > SHOWN_OVER if show is None else show):
        yield None
        return
    from tqdm.auto import tqdm
    bar = tqdm(total=total, initial=done, desc=desc, unit="row", leave=True)
    bar.set_postfix(failed=0, refresh=False)
    try:
        yield RowBar(bar)
    finally:
        bar.close()
