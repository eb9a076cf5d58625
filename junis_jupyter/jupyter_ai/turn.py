"""One answer in the chat: the answer pipeline run as a task, its view read by the chat while
it streams, and Stop as the task's cancellation.

The pipeline (data/pipeline.py) does what it does for every surface (masks keys out of what is
sent, tags the call `jupyter-ai` for the usage ledger and the log, streams through the one loop,
keeps the partial text of a stopped or broken answer); this module only joins it to the chat.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..data.pipeline import Answer, AnswerPipeline, AnswerRequest
from .reply import ChatReply
from .wording import STOPPED

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ..client.aio import AsyncJunisClient

__all__ = ["Turn"]

Show = Callable[["AsyncIterator[str]"], Awaitable[None]]


class Turn:
    """One request answered into one reply. `stop()` may come at any time, from another task."""

    def __init__(self, client: Callable[[], AsyncJunisClient], request: AnswerRequest,
                 reply: ChatReply) -> None:
        self.client = client
        self.request = request
        self.reply = reply
        self._task: asyncio.Task[Answer] | None = None
        self.stopped = False

    async def run(self, show: Show) -> Answer | None:
        """The answer (its text possibly partial, `interrupted` when stopped), or None when Stop
        came before the answer began. `show` reads the reply's updates into the chat. The
        pipeline's error, if any, is raised after what arrived was shown."""
        task = asyncio.ensure_future(
            AnswerPipeline().aask(self.client, self.request, self.reply, stopped=STOPPED))
        self._task = task
        # A pipeline that ends without finishing its view (an error or a Stop before the answer
        # began) must still end the updates the chat is reading.
        task.add_done_callback(
            lambda t: self.reply.finish(STOPPED if t.cancelled() or self.stopped else None))
        try:
            await show(self.reply.updates())
        finally:
            if not task.done():             # the chat stopped reading: nothing may run on
                task.cancel()
            await asyncio.wait([task])
        self._task = None
        if task.cancelled():
            return None
        return task.result()

    def stop(self) -> None:
        """Close the stream now; what arrived is kept and marked stopped."""
        self.stopped = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
