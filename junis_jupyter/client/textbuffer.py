"""Text that grows a small piece at a time (a streamed answer), kept as a few large blocks.

A str costs ~50 bytes before its first character, so a long answer of 4-character pieces held as
one str per piece takes 9x its own size. Every `FOLD` pieces are joined into one block: linear
time, memory ~ the text. The client's stream, the cell renderer and the chat panel all keep their
growing text in one of these.
"""
from __future__ import annotations

__all__ = ["TextBuffer", "FOLD"]

FOLD = 1024     # pieces joined into one block at a time


class TextBuffer:
    __slots__ = ("_blocks", "_pieces", "_length")

    def __init__(self, text: str = "") -> None:
        self._blocks: list[str] = [text] if text else []   # the older text, in large blocks
        self._pieces: list[str] = []                        # the latest pieces, fewer than FOLD
        self._length = len(text)

    def __len__(self) -> int:
        return self._length

    def append(self, piece: str) -> None:
        self._length += len(piece)
        pieces = self._pieces
        pieces.append(piece)
        if len(pieces) >= FOLD:
            self._blocks.append("".join(pieces))
            pieces.clear()

    def __bool__(self) -> bool:
        return bool(self._blocks or self._pieces)

    @property
    def text(self) -> str:
        """All of it, as one str; the buffer then holds that one str (no second copy)."""
        blocks = self._blocks
        if self._pieces or len(blocks) > 1:
            blocks[:] = ["".join([*blocks, *self._pieces])]
            self._pieces.clear()
        return blocks[0] if blocks else ""

    def take(self) -> str:
        """All of it, emptying the buffer (what a renderer has not shown yet)."""
        text = self.text
        self._blocks.clear()
        self._length = 0
        return text
