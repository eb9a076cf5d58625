"""How a failing `%%junis` cell fails: one line, no traceback, and the cell's execution in error.

IPython shows an exception with `_render_traceback_` by the lines it returns, so Run All,
nbconvert, papermill and nbval stop at the cell and show exactly this line.
"""
from __future__ import annotations

from ..errors import JunisError

__all__ = ["CellError"]


class CellError(JunisError):
    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line

    def _render_traceback_(self) -> list[str]:
        return [f"Junis: {self.line}"]
