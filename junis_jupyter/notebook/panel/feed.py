"""ChatFeed: the conversation drawn, the middle of the panel's three layers (a turn's HTML is
`html.py` and a streaming answer `live.py`; the widgets around them and their wiring are
`widget.ChatPanel`).

`history` holds the turns there were at the last full redraw (a session loaded, New chat); each
exchange then adds its question and its answer after it, and the answer is drawn block by block
(live.py): finished blocks are appended once, and only `live`, the block being written, is
redrawn, at most at the panel's rate (`throttle`). Nothing is re-sent when the answer ends. The
outer box scrolls; "column-reverse" around its single child keeps it pinned to the newest text
as it grows, with no script.
"""
from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as w

from .conversation import Conversation, Exchange
from .html import EMPTY, TurnHtml, answer_html
from .live import LiveAnswer, Piece
from .loop import Throttle

__all__ = ["ChatFeed", "ExchangeView"]


@dataclass(eq=False)
class ExchangeView:
    """One exchange on the page: its question's HTML and its answer's widgets."""
    exchange: Exchange
    question: w.HTML
    answer: LiveAnswer


class ChatFeed:
    """The conversation's widgets: the history as one HTML, then each exchange since."""

    def __init__(self, conversation: Conversation, interval: float) -> None:
        self.conversation = conversation
        self.history = w.HTML(EMPTY)
        self.live = w.HTML("")                        # the tail, lent to the streaming answer
        self.transcript = w.VBox([self.history], layout=w.Layout(flex="0 0 auto"))  # never shrunk
        # Its height is the page's CSS (html.py): at most 460 px in a cell, the side area's height
        # in a sidecar (a Layout's inline size would override both).
        self.box = w.Box([self.transcript], layout=w.Layout(
            display="flex", flex_flow="column-reverse", overflow="auto"))
        self.box.add_class("junis-chat-conversation")
        self.views: list[ExchangeView] = []           # each exchange's widgets after `history`
        self.throttle = Throttle(self._draw_live, interval)
        self._html = TurnHtml()
        self._live_view: LiveAnswer | None = None

    def html(self) -> str:
        """The conversation's HTML as the page shows it, as one string (the turns of the last
        full redraw, then each exchange since, its answer's pieces joined)."""
        return self.history.value + "".join(v.question.value + v.answer.html() for v in self.views)

    def draw(self) -> None:
        """Redraw everything as one HTML (a session loaded or left, New chat): each exchange
        after this adds its own widgets (`begin`)."""
        conv = self.conversation
        self._html.keep_only(conv.turns)
        live = conv.live.turns if conv.live is not None else ()
        settled = [t for t in conv.turns if t not in live]
        for view in [v for v in self.views if v.exchange is not conv.live]:
            self._drop(view)
        self.history.value = self._html.turns(settled) or ("" if self.views else EMPTY)

    def begin(self, exchange: Exchange) -> None:
        """The question and an empty answer join the page, after what is there."""
        if self.history.value == EMPTY:
            self.history.value = ""
        question = Piece(self._html.turn(exchange.question))
        self._live_view = LiveAnswer(exchange.answer, self.live, answer_html)
        self.views.append(ExchangeView(exchange, question, self._live_view))
        self._place()

    # -- the answer pipeline's view (client.consume.AnswerView) --------------------------------

    def feed(self, text: str) -> None:
        """Text of the answer arrived: into the conversation, drawn when the throttle allows."""
        self.conversation.feed(text)
        if text:
            self.throttle.request()

    def finish(self, note: str | None = None) -> None:
        """The stream ended (`note`: how, if not whole): no more redraws; the conversation is
        moved on from the answer or the error, and `end` settles what it then holds."""
        self.throttle.cancel()

    def end(self, exchange: Exchange | None) -> None:
        """The exchange ended: its answer settles where it is (the rest of its text, its mark),
        or, if the conversation dropped it (nothing arrived), it leaves the page."""
        self.throttle.cancel()
        view = next((v for v in self.views if v.exchange is exchange), None)
        self._live_view = None
        if view is None or exchange is None:
            return                                   # the conversation moved on (New chat...)
        if exchange.answer in self.conversation.turns:
            view.answer.settle(view.answer.turn.text(), view.answer.turn.state)
            return
        self._drop(view)
        if not self.views and not self.history.value:
            self.history.value = EMPTY

    def _draw_live(self) -> bool:
        live, view = self.conversation.live, self._live_view
        if live is not None and view is not None and view.turn is live.answer:
            return view.draw(live.answer.text())
        return True

    def _drop(self, view: ExchangeView) -> None:
        """An exchange's widgets leave the page and are closed (the lent tail is kept)."""
        self.views.remove(view)
        if self._live_view is view.answer:
            self._live_view = None
        view.answer.release()
        self._place()
        for widget in (view.question, *view.answer.widgets()):
            widget.close()

    def _place(self) -> None:
        self.transcript.children = (self.history, *(
            widget for v in self.views for widget in (v.question, v.answer.box)))
