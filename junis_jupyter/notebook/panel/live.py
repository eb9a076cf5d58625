"""A streaming answer drawn block by block: finished top-level blocks go into widgets that are
appended once and never updated again; only the block still being written (`tail`) is redrawn.

So the bytes sent for an answer grow with its length, not with its length times the number of
redraws (a whole-answer HTML value re-sent at each redraw). The page shows the same HTML: pieces
cut at `render.block_boundaries` render the same apart as together, and the turn's frame is a
box with the classes the HTML turns have (its state as `junis-state-<state>`).

A settled piece costs a widget, so what finished is settled only once it is worth one (its HTML
at least `SETTLE_AT` bytes; until then the tail carries it), and pieces are `Piece`s, which send
only their value. They sit in boxes of `GROUP` slots opened empty together, each filled once, so
settling a piece sends that piece and no children list; a box's list is sent once, when it opens.
"""
from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w
from traitlets import Any, Bool, Int, Unicode
from traitlets import Tuple as TypeTuple

from ..markdown import escape_html
from ..render import LINK_DEFINITION, settled_upto
from .conversation import Turn, TurnState
from .html import MARKS, turn_close, turn_open, who_html

__all__ = ["LiveAnswer", "Piece"]

GROUP = 12          # slots to a box
SETTLE_AT = 600     # bytes of finished HTML worth a widget of its own (about what one costs)


class Piece(w.HTML):
    """An `HTML` widget that sends only its value and the model's names. Its description,
    placeholder, tooltip, layout, style and the rest keep the frontend's defaults, which are
    what a piece wants: it opens with a third of the bytes of a plain `HTML`."""
    description = Unicode("")
    description_allow_html = Bool(False)
    placeholder = Unicode("\u200b")
    tooltip = Unicode(None, allow_none=True)
    tabbable = Bool(None, allow_none=True)
    _view_count = Int(None, allow_none=True)
    _dom_classes = TypeTuple()
    layout = Any(None)
    style = Any(None)


class LiveAnswer:
    """One streaming answer's widgets (`box`); `tail` is lent for the time it streams."""

    def __init__(self, turn: Turn, tail: w.HTML, render: Callable[[str], str]) -> None:
        self.turn = turn
        self.tail = tail
        self._render = render
        self._pieces: list[str] = []          # the settled pieces' HTML, as sent
        self._settled = ""                    # the text they render
        self._groups: list[w.VBox] = []
        self._free: list[Piece] = []          # slots opened, not filled yet
        self._group_layout = w.Layout()       # one for every box of slots
        self._state = TurnState.STREAMING
        self._mark: w.HTML | None = None
        tail.value = ""
        self.who = Piece(who_html(turn))
        self.body = w.VBox([tail])
        self.body.add_class("junis-body")
        self.box = w.VBox([self.who, self.body])
        for name in ("junis-turn", f"junis-{escape_html(turn.role)}", "junis-state-streaming"):
            self.box.add_class(name)

    # -- while it streams ---------------------------------------------------------------------

    def draw(self, text: str) -> None:
        """Settle the blocks finished since the last draw; redraw the one being written."""
        if not text.startswith(self._settled):
            self._rebuild(text)
            return
        start = len(self._settled)
        cut = settled_upto(text, start)
        html = None
        if cut > start:
            finished = self._render(text[start:cut])
            if len(finished) >= SETTLE_AT:
                self._append(text[start:cut], finished)
            else:
                html = self._render(text[start:])  # kept in the tail until it is worth a piece
        if html is None:
            rest = text[len(self._settled):]
            html = self._render(rest) if rest else ""
        if self.tail.value != html:
            self.tail.value = html

    # -- at the end ---------------------------------------------------------------------------

    def settle(self, text: str, state: TurnState) -> None:
        """The answer ended in `state` with `text`: the rest becomes a settled piece, the tail is
        handed back (emptied), the mark (if any) is added and the state shown."""
        if not text.startswith(self._settled) or (
                self._settled and LINK_DEFINITION.search(text)):
            self._rebuild(text)                   # the text was replaced, or links may change
        elif len(text) > len(self._settled):
            self._append(text[len(self._settled):])
        self.release()
        self._state = state
        mark = MARKS.get(state)
        if mark:
            self._mark = Piece(f'<div class="junis-mark">{mark}</div>')
            self.box.children = (*self.box.children, self._mark)
        self.box.remove_class("junis-state-streaming")
        self.box.add_class(f"junis-state-{state.value}")

    def release(self) -> None:
        """Take the tail out (it is the panel's, for the next answer), emptied."""
        if self.tail in self.body.children:
            self.body.children = tuple(c for c in self.body.children if c is not self.tail)
        self.tail.value = ""

    def html(self) -> str:
        """The turn's HTML as one string: what `TurnHtml` would write for it."""
        tail = self.tail.value if self.tail in self.body.children else ""
        return (turn_open(self.turn, self._state) + "".join(self._pieces) + tail
                + turn_close(self._state))

    def widgets(self) -> list[w.Widget]:
        """Every widget made here (for closing), the shared layout and style and the tail not."""
        made: list[w.Widget] = [self.who, self.box, self.body, self._group_layout]
        for group in self._groups:
            made += [group, *group.children]
        if self._mark is not None:
            made.append(self._mark)
        return made

    # -- pieces -------------------------------------------------------------------------------

    def _append(self, piece: str, html: str | None = None) -> None:
        """`piece` (whole blocks) settles into the next free slot, sent once."""
        html = self._render(piece) if html is None else html
        self._settled += piece
        if not html:
            return
        self._pieces.append(html)
        if not self._free:
            self._free = [Piece("") for _ in range(GROUP)]
            group = w.VBox(list(self._free), layout=self._group_layout)
            self._groups.append(group)
            tail = [self.tail] if self.tail in self.body.children else []
            kids = [c for c in self.body.children if c is not self.tail]
            self.body.children = (*kids, group, *tail)
        self._free.pop(0).value = html

    def _rebuild(self, text: str) -> None:
        """Start the body again from `text` as one piece (rare: a replaced text, a link
        reference definition that may change earlier links)."""
        old = [c for g in self._groups for c in g.children] + self._groups
        tail = [self.tail] if self.tail in self.body.children else []
        self._pieces, self._settled, self._groups, self._free = [], "", [], []
        self.body.children = tuple(tail)
        for widget in old:
            widget.close()
        if text:
            self._append(text)

