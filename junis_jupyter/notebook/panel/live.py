"""A streaming answer drawn block by block: finished top-level blocks go into widgets that are
sent once and never updated again; only the rest (`tail`, the block still being written) is
redrawn, and that as often as the bytes it costs are paid for.

So the bytes sent for an answer grow with its length, not with its length times the number of
redraws (a whole-answer HTML value re-sent at each redraw). The page shows the same HTML: pieces
cut at `fences.block_boundaries` render the same apart as together, and the turn's frame is a
box with the classes the HTML turns have (its state as `junis-state-<state>`).

Two rules keep the wire light whatever the pace of the stream:
- A finished block stays in the tail, re-sent with each redraw, until re-sending it has cost
  what a widget of its own costs (`PIECE_COST`); then it settles into one. (The ski-rental rule:
  it never costs more than twice what the best choice, made knowing the rest of the stream,
  would have.)
- Redraws spend from a `budget.ResendBudget`: a redraw it cannot pay for waits for more text (a
  fast stream is redrawn at the panel's rate; a slow one with a long paragraph being written,
  less often). Every message comes out of a `budget.MessageBucket`: a piece it cannot pay for
  stays in the tail a while longer.

Pieces are `Piece`s and boxes `Column`s, which send only their value or children and classes.
They sit in boxes of `GROUP` slots opened empty together, each filled once, so settling a piece
sends that piece and no children list; a box's list is sent once, when it opens.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import ipywidgets as w
from traitlets import Any, Bool, Int, Unicode
from traitlets import Tuple as TypeTuple

from ..budget import MessageBucket, ResendBudget
from ..fences import has_link_definition, settled_upto
from ..markdown import escape_html
from .conversation import Turn, TurnState
from .html import MARKS, turn_close, turn_open, who_html

__all__ = ["Column", "LiveAnswer", "Piece"]

GROUP = 6             # slots to a box
PIECE_COST = 600      # wire bytes a piece costs besides its HTML: its slot's open and fill


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


class Column(w.VBox):
    """A `VBox` that sends only its children and classes (no layout of its own: the CSS lays
    it out), for the same reason as `Piece`."""
    box_style = Unicode("")
    tooltip = Unicode(None, allow_none=True)
    tabbable = Bool(None, allow_none=True)
    _view_count = Int(None, allow_none=True)
    layout = Any(None)


class LiveAnswer:
    """One streaming answer's widgets (`box`); `tail` is lent for the time it streams."""

    def __init__(self, turn: Turn, tail: w.HTML, render: Callable[[str], str]) -> None:
        self.turn = turn
        self.tail = tail
        self._render = render
        self._pieces: list[str] = []          # the settled pieces' HTML, as sent
        self._piece_bytes = 0
        self._settled = ""                    # the text they render
        self._groups: list[Column] = []
        self._free: list[Piece] = []          # slots opened, not filled yet
        self._state = TurnState.STREAMING
        self._mark: w.HTML | None = None
        self._rent = 0                        # bytes re-sent so far for finished, unsettled blocks
        self._carried: list[str] = []         # finished blocks past `_settled`, rendered
        self._carried_to = 0                  # where they end in the text
        self._rest, self._rest_for = "", -1   # the block being written, and the text's length
        self._resends = ResendBudget()
        # a box of slots opened and filled, and a redraw
        self._messages = MessageBucket(burst=GROUP + 4)
        tail.value = ""
        self.who = Piece(who_html(turn))
        self.body = Column([tail], _dom_classes=("junis-body",))
        self.box = Column([self.who, self.body], _dom_classes=(
            "junis-turn", f"junis-{escape_html(turn.role)}", "junis-state-streaming"))

    # -- while it streams ---------------------------------------------------------------------

    def draw(self, text: str, now: float | None = None) -> bool:
        """Settle what is worth settling and redraw the rest, if the budget pays for it; False
        when the redraw was put off (draw again later, with more text or not)."""
        now = time.monotonic() if now is None else now
        if not text.startswith(self._settled):
            self._rebuild(text)
            return True
        start = len(self._settled)
        cut = settled_upto(text, start)
        if cut > self._carried_to:            # blocks finished since: rendered once, carried
            self._carried.append(self._render(text[self._carried_to:cut]))
            self._carried_to = cut
        finished = "".join(self._carried)
        # a fill; or slots, their box, its place and a fill
        pieces = 1 if self._free else GROUP + 3
        messages = self._messages.available(now)
        settle = (bool(finished) and self._rent + len(finished) >= PIECE_COST
                  and messages >= 1 + pieces)
        if self._rest_for != len(text):       # the block being written, rendered once a length
            self._rest = self._render(text[cut:]) if len(text) > cut else ""
            self._rest_for = len(text)
        html = self._rest if settle else finished + self._rest
        if not settle:
            if html == self.tail.value:
                return True
            if messages < 1 or not self._resends.paid(
                    len(html), self._piece_bytes + len(html), now):
                return False
        if settle:
            self._append(text[start:cut], finished)   # before the tail drops it: never a gap
            self._rent = 0
        else:
            self._rent += len(finished)
        self.tail.value = html
        self._resends.spend(len(html), now)
        self._messages.take(1 + (pieces if settle else 0), now)
        return True

    # -- at the end ---------------------------------------------------------------------------

    def settle(self, text: str, state: TurnState) -> None:
        """The answer ended in `state` with `text`: the rest becomes a settled piece, the tail is
        handed back (emptied), the mark (if any) is added and the state shown."""
        if not text.startswith(self._settled) or (
                self._settled and has_link_definition(text)):
            self._rebuild(text, last=True)        # the text was replaced, or links may change
        elif len(text) > len(self._settled):
            self._append(text[len(self._settled):], last=True)
        self.release()
        self._state = state
        mark = MARKS.get(state)
        if mark:
            self._mark = Piece(f'<div class="junis-mark">{mark}</div>')
            self.box.children = (*self.box.children, self._mark)
        self.box._dom_classes = (*[c for c in self.box._dom_classes
                                   if c != "junis-state-streaming"], f"junis-state-{state.value}")

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
        """Every widget made here (for closing), the tail not."""
        made: list[w.Widget] = [self.who, self.box, self.body]
        for group in self._groups:
            made += [group, *group.children]
        if self._mark is not None:
            made.append(self._mark)
        return made

    # -- pieces -------------------------------------------------------------------------------

    def _append(self, piece: str, html: str | None = None, *, last: bool = False) -> None:
        """`piece` (whole blocks) settles into the next free slot, sent once. The `last` piece,
        when no slot is free, opens with its value in a box of its own that takes the tail's
        place: no slots opened that nothing would fill, no message to take the tail out."""
        html = self._render(piece) if html is None else html
        self._settled += piece
        self._carried, self._carried_to = [], len(self._settled)
        if not html:
            return
        self._pieces.append(html)
        self._piece_bytes += len(html)
        if not self._free:
            slots = [Piece(html)] if last else [Piece("") for _ in range(GROUP)]
            self._groups.append(Column(slots))
            tail = [self.tail] if self.tail in self.body.children and not last else []
            self.body.children = (*self._groups, *tail)
            if last:
                return
            self._free = slots
        self._free.pop(0).value = html

    def _rebuild(self, text: str, *, last: bool = False) -> None:
        """Start the body again from `text` as one piece (rare: a replaced text, a link
        reference definition that may change earlier links)."""
        old = [c for g in self._groups for c in g.children] + self._groups
        tail = [self.tail] if self.tail in self.body.children else []
        self._pieces, self._piece_bytes, self._settled = [], 0, ""
        self._groups, self._free = [], []
        self._rent, self._carried, self._carried_to, self._rest_for = 0, [], 0, -1
        self.body.children = tuple(tail)
        for widget in old:
            widget.close()
        if text:
            self._append(text, last=last)
