"""The one loop that reads an answer's stream into whatever shows it: a cell, a background cell,
the chat panel, a chat persona. Each surface differs in its view, never in how a stream is read,
stopped or kept when it breaks.

A view is two calls: `feed(text)` with each piece of text as it arrives, then `finish(note)`
exactly once (`note` None for a whole answer, else the stop's or the break's word). The loop
closes the connection before it finishes the view, so a view that settles on `finish` has
nothing of the stream left to wait for.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..errors import StreamError

if TYPE_CHECKING:
    from .aio import AsyncChatStream
    from .sync import ChatStream
    from .types import ChatResult

__all__ = ["AnswerView", "consume", "aconsume", "CUT_OFF"]

CUT_OFF = "cut off"     # the note of a stream that broke mid-answer


class AnswerView(Protocol):
    def feed(self, text: str) -> None: ...

    def finish(self, note: str | None = None) -> object: ...


def consume(stream: ChatStream, view: AnswerView, *, stopped: str = "interrupted") -> ChatResult:
    """The answer, fed to `view` as it arrives. Ctrl-C closes the connection and returns what
    arrived (`interrupted` set), or is raised again when no answer had begun; a broken stream
    finishes the view with `CUT_OFF` and raises its `StreamError` (which keeps the text)."""
    try:
        with stream:
            for text in stream.texts():
                view.feed(text)
    except KeyboardInterrupt:
        if stream.result is None:       # stopped before the answer began: nothing to keep
            raise
        return _stopped(stream.result, view, stopped)
    except StreamError:
        view.finish(CUT_OFF)
        raise
    return _done(stream.result, view)


async def aconsume(stream: AsyncChatStream, view: AnswerView, *,
                   stopped: str = "stopped") -> ChatResult:
    """`consume` on an event loop: cancelling the task is the stop. A cancel that lands after the
    whole answer arrived (while the connection closes) leaves it whole."""
    import asyncio
    try:
        async with stream:
            async for text in stream.texts():
                view.feed(text)
    except asyncio.CancelledError:
        result = stream.result
        if result is None:              # cancelled before the answer began: nothing to keep
            raise
        return _done(result, view) if not result.interrupted else _stopped(result, view, stopped)
    except StreamError:
        view.finish(CUT_OFF)
        raise
    return _done(stream.result, view)


def _stopped(result: ChatResult, view: AnswerView, note: str) -> ChatResult:
    view.finish(note)
    return result


def _done(result: ChatResult | None, view: AnswerView) -> ChatResult:
    assert result is not None, "a stream that ended has its result"
    view.finish()
    return result
