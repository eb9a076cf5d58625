"""Asker: the panel's questions, one at a time, through the one answer pipeline.

Each question is a task on the panel's home loop. It waits for the pickers (or a picked session)
to load, joins the conversation, and is asked through `data.pipeline.AnswerPipeline` (origin
PANEL, no cache), which masks key-shaped text out of what is sent and streams the answer into the
feed (`feed.ChatFeed`, the pipeline's view). The conversation is then moved on from the answer
(done, or stopped) or from the error (a broken stream keeps its text). Stop is the conversation
stopping, then this task cancelled; a cancel from elsewhere (the caller of `send_async`) keeps
what arrived too, and is raised again.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from ...client.types import ChatResult
from ...data.pipeline import AnswerPipeline, AnswerRequest, Origin
from .client import PanelClient, remaining_rate_limit
from .conversation import Conversation, Phase
from .feed import ChatFeed
from .loop import Home, TaskSet, wait_for
from .notice import Notice
from .pickers import Pickers

__all__ = ["Asker"]


class Asker:
    """Starts, stops and settles the panel's exchanges; `answers` are the tasks asking now."""

    def __init__(self, conversation: Conversation, feed: ChatFeed, home: Home,
                 client: PanelClient, pickers: Pickers, notice: Notice, *, loads: TaskSet,
                 give_back: Callable[[str], None]) -> None:
        self.conversation = conversation
        self.feed = feed
        self.home = home
        self.client = client
        self.pickers = pickers
        self.notice = notice
        self.loads = loads                        # waited for before a question is asked
        self.give_back = give_back                # an unanswered question, back to the box
        self.answers = TaskSet()
        self.pipeline = AnswerPipeline()          # the panel's answers are never cached
        self.task: asyncio.Task[Any] | None = None    # the answer Stop would cancel

    def start(self, text: str, retry: bool = False) -> asyncio.Task[Any] | None:
        """The exchange as a task on the home loop, the conversation sending from this moment
        (so Stop is live before the first byte); None when no loop runs here."""
        task = self.home.spawn(self._exchange(text))
        if task is None:
            return None
        if retry:
            self.conversation.retry()
        else:
            self.conversation.reserve()
        self.task = task
        self.answers.add(task)
        task.add_done_callback(lambda t: self._never_ran(t, text))
        return task

    def stop(self) -> None:
        """Stop the answer, if one is being sent or streamed (run it on the home loop)."""
        if self.conversation.stop() and self.task is not None:
            self.task.cancel()

    def _never_ran(self, task: asyncio.Task[Any], text: str) -> None:
        """Stop came before the task even started: nothing in it settled the conversation."""
        if self.task is task:
            self.task = None
            self.conversation.release()
            self.give_back(text)

    async def _exchange(self, text: str) -> ChatResult | None:
        conv, feed = self.conversation, self.feed
        exchange = result = None
        try:
            await wait_for(self.loads)      # pickers (or a picked session) first, then the question
            exchange = conv.ask(text, self.pickers.agent_label(), datetime.now(timezone.utc))
            self.notice.say("")
            feed.begin(exchange)
            request = AnswerRequest(text, agent=self.pickers.agent.value or None,
                                    session_id=conv.session_id, origin=Origin.PANEL)
            result = (await self.pipeline.aask(self.client.get, request, feed)).result
        except asyncio.CancelledError:         # before any of the answer arrived
            ours = conv.phase is Phase.STOPPING
            conv.stopped()
            if exchange is None:
                self.give_back(text)
            if not ours:
                raise
            return None
        except Exception as exc:               # shown in the panel, never a traceback
            if conv.fail(exc) or exchange is None:
                self.give_back(text)
            self.notice.error(exc)
            return None
        else:
            ours = conv.phase is Phase.STOPPING
            conv.answered(result)
            if result.interrupted and not ours:
                raise asyncio.CancelledError   # not Stop: the one who cancelled learns of it
            return None if result.interrupted else result
        finally:
            if self.task is asyncio.current_task():
                self.task = None
            conv.note_rate_limit(remaining_rate_limit(result, self.client.current))
            feed.end(exchange)
