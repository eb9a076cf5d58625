"""Each cell's exception, remembered for the kernel's life: what `%junis explain`, `%junis fix` and
`{Err[n]}` put in a prompt.

The traceback is trimmed to the user's frames (the cell's code and the user's own modules, not
IPython's machinery that ran it), and every key-shaped string in the source or the traceback is
masked before the text is kept, so no prompt built from it can carry a key.
"""
from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass
from typing import Any

from .. import config

__all__ = ["Failure", "Failures"]


def _machinery() -> tuple[str, ...]:
    """The folders of the code that runs cells (its frames are not the user's)."""
    dirs = []
    for name in ("IPython", "ipykernel", "asyncio"):
        path = getattr(sys.modules.get(name), "__file__", None)
        if path:
            dirs.append(os.path.dirname(path) + os.sep)
    return tuple(dirs)


@dataclass(frozen=True)
class Failure:
    execution_count: int
    type: str
    message: str
    traceback: str      # trimmed, masked
    source: str         # the cell, masked

    def text(self) -> str:
        """How the failure reads inside a prompt."""
        return (f"The cell failed with {self.type}: {self.message}\n\n"
                f"The cell:\n```python\n{self.source.rstrip()}\n```\n\n"
                f"The traceback (the user's frames):\n```\n{self.traceback.rstrip()}\n```")


def _user_frames(exc: BaseException, cells: dict[str, int]) -> list[traceback.FrameSummary]:
    """The frames not in IPython's machinery; a cell's frames named `<cell>`, not by the kernel's
    temporary file or an execution count, so the same failure reads the same in every kernel (and
    the answer cache's key stays the same)."""
    machinery = _machinery()
    frames = []
    for f in traceback.extract_tb(exc.__traceback__):
        if f.filename.startswith(machinery):
            continue
        if f.filename in cells:
            f = traceback.FrameSummary("<cell>", f.lineno, f.name, line=f.line)
        frames.append(f)
    return frames


class Failures:
    def __init__(self, shell: Any = None) -> None:
        self._by_count: dict[int, Failure] = {}
        self._shell = shell

    def remember(self, execution_count: int | None, exc: BaseException, source: str) -> None:
        if execution_count is None:
            return
        key = config.current_key()
        cells = getattr(getattr(self._shell, "compile", None), "_filename_map", None) or {}
        trimmed = "".join(traceback.format_list(_user_frames(exc, cells)))
        tail = "".join(traceback.format_exception_only(type(exc), exc))
        self._by_count[execution_count] = Failure(
            execution_count, type(exc).__name__, config.scrub_keys(str(exc), key),
            config.scrub_keys(f"Traceback (most recent call last):\n{trimmed}{tail}", key),
            config.scrub_keys(source, key))

    def get(self, execution_count: int | None = None) -> Failure | None:
        """Cell n's failure, or (None) the last one."""
        if execution_count is None:
            return self._by_count[max(self._by_count)] if self._by_count else None
        return self._by_count.get(execution_count)

    def text(self, execution_count: int | None) -> str | None:
        found = self.get(execution_count)
        return None if found is None else found.text()

    def __len__(self) -> int:
        return len(self._by_count)

    def hook(self, result: Any) -> None:
        """IPython's `post_run_cell`: remember the cell's exception, if it raised one."""
        from .cellerror import CellError
        exc = result.error_in_exec
        if exc is None or isinstance(exc, CellError):   # a %%junis cell's own one-line failure
            return
        info = getattr(result, "info", None)
        # A cell run with store_history=False (nbval runs every cell so) has no count of its own
        # in IPython 8, the one Python 3.10 gets; IPython 9 gives it the shell's current count,
        # which it did not advance. Taken the same way here, so explain/fix find it under both.
        count = result.execution_count
        if count is None:
            count = getattr(self._shell, "execution_count", None)
        self.remember(count, exc, getattr(info, "raw_cell", "") or "")
