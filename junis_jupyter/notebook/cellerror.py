"""How a failing `%%junis` cell fails: one line, no traceback, and the cell's execution in error.

IPython shows an exception with `_render_traceback_` by the lines it returns, so Run All,
nbconvert, papermill and nbval stop at the cell and show exactly this line.
"""
from __future__ import annotations

from ..errors import JunisError

__all__ = ["CellError", "AnswerInterrupted"]


class CellError(JunisError):
    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line

    def _render_traceback_(self) -> list[str]:
        return [f"Junis: {self.line}"]


class AnswerInterrupted(Exception):
    """The user stopped a stream after text arrived: the text is kept and shown, then the cell
    fails with its line (a background job, which has no cell to fail, just ends cancelled)."""
