"""Junis in Jupyter AI's chat: the persona Jupyter AI finds under the `jupyter_ai.personas`
entry point. It runs in the Jupyter server process, never in a kernel.

The persona is glue between Jupyter AI's persona API and modules that know nothing of it: the
turn (turn.py: the answer pipeline run into a coalesced reply), the chat's session (sessions.py,
history.py), attachments (attachments.py), the agent picker (agents.py) and the words it says
(wording.py). docs/jupyter-ai.md is the user's side of it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from importlib.resources import files
from typing import Any

from jupyter_ai_persona_manager import BasePersona, PersonaDefaults
from jupyter_ai_persona_manager.awareness_models import (
    CommandOption,
    ModelConfiguration,
    ModelOption,
    Usage,
)
from traitlets import Float, Integer

from .. import config
from ..advice import what_happened
from ..client.types import Agent, ChatResult
from ..client.types import Usage as Tokens
from ..data import credits
from ..data.pipeline import AnswerRequest, Origin
from ..data.prompt import MAX_PROMPT_CHARS, check_prompt
from ..errors import JunisError, NotFoundError, StreamError
from .agents import choices, pick
from .attachments import DEFAULT_LIMIT, attached
from .connection import Connection
from .history import exchanges, is_new_command
from .reply import ChatReply
from .sessions import ChatSessions
from .transport import no_delay
from .turn import Turn
from .wording import ERROR, NEW_SESSION, cuts_footer, error_message

__all__ = ["JunisPersona", "AVATAR"]

AVATAR = str(files(__package__) / "static" / "junis.svg")
DESCRIPTION = ("Junis AI agents: the orchestrator routes each question to the right agent, or "
               "pick one in the model picker. Each chat file is one Junis session; send /new to "
               "start another.")


@dataclass(frozen=True)
class _ChatFile:
    absolute: str
    relative: str
    kept: bool          # a real file (the REST route's chats are throwaway: nothing to remember)


class JunisPersona(BasePersona):
    """Answers with Junis agents, streamed, stoppable, one Junis session per chat file."""

    max_hz = Float(15.0, config=True,
                   help="Most updates a second sent to the chat while an answer streams.")
    max_attachment_chars = Integer(DEFAULT_LIMIT, config=True,
                                   help="Characters of each attachment put into the prompt.")
    max_prompt_chars = Integer(MAX_PROMPT_CHARS, config=True,
                               help="Longest prompt sent (question and attachments).")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connection = Connection()
        self._sessions = ChatSessions()
        self._agents: list[Agent] | None = None
        self._choice: str | None = None
        self._turn: Turn | None = None
        self._used = Tokens()             # this chat's session so far, for the chat's counter
        self._credits = 0

    @property
    def defaults(self) -> PersonaDefaults:
        return PersonaDefaults(name="Junis", description=DESCRIPTION, avatar_path=AVATAR,
                               system_prompt="Junis agents bring their own instructions.")

    # -- Jupyter AI's hooks -----------------------------------------------------------------------

    async def prepare(self) -> None:
        """On selection or before the first message: the agents into the picker, /new into
        the slash commands. Never fails: without a key or a service, the picker offers the
        orchestrator alone, and the first message says what is wrong."""
        self.report_slash_commands([CommandOption(
            name="/new", description="Start a fresh Junis session in this chat.")])
        await self._load_agents()

    async def update_model(self, model_id: str) -> None:
        """The picker's choice (an agent id), or a name from `%%ai`'s model parameters: used
        from the next message on."""
        self._choice = model_id

    async def process_message(self, message: Any) -> None:
        body = message.body or ""
        if is_new_command(body):
            self._new_session()
            return
        try:
            await self._answer(message, body)
        except Exception as exc:        # every failure is one message, worded for the chat
            self._tell(exc)

    async def cancel_response(self) -> None:
        """Stop: the stream closes at once; what arrived stays, marked stopped."""
        if self._turn is not None:
            self._turn.stop()

    async def handle_uncaught_exception(self, exc: Exception) -> None:
        """Anything that escaped (the default shows the server's traceback, paths and all)."""
        self._tell(exc)

    async def shutdown(self) -> None:
        await super().shutdown()
        if self._turn is not None:
            self._turn.stop()
        await self._connection.close()

    # -- answering --------------------------------------------------------------------------------

    async def _answer(self, message: Any, body: str) -> None:
        await self._load_agents()
        chat = self._chat_file()
        session = self._sessions.get(chat.absolute) if chat.kept else None
        extra = attached(self._attachments_of(message), self.parent.root_dir,
                         self.max_attachment_chars)
        prompt = f"{body}\n\n{extra.text}" if extra.text else body
        check_prompt(prompt, self.max_prompt_chars, "c.JunisPersona.max_prompt_chars",
                     "attach less, or shorten the message.",
                     what="the message with its attachments")
        request = AnswerRequest(
            prompt, agent=pick(self._choice, self._agents), session_id=session,
            history=() if session else exchanges(self.chat.get_messages(), self.id, message.id),
            origin=Origin.JUPYTER_AI, notebook=chat.relative)
        footer = cuts_footer(extra.cuts, extra.unread)
        try:
            result = await self._ask(request, footer, message.id)
        except StreamError as exc:      # the session exists, with the part that arrived
            self._remember(chat, exc.session_id)
            raise
        if result is not None:
            if result.session_id != session:
                self._remember(chat, result.session_id)
            if result.usage.total_tokens:   # a stopped answer's usage is unknown, not nothing
                self._report(result)

    async def _ask(self, request: AnswerRequest, footer: str,
                   message_id: str) -> ChatResult | None:
        """The answer (None when stopped before it began). A session the service no longer has
        (another key, a restarted service) is continued from the chat's messages, once."""
        try:
            return await self._run(request, footer)
        except NotFoundError as exc:
            if exc.code != "session_not_found" or request.session_id is None:
                raise
        self.log.info("Junis: the chat's session is gone; continuing from its messages.")
        return await self._run(replace(request, session_id=None, history=exchanges(
            self.chat.get_messages(), self.id, message_id)), footer)

    async def _run(self, request: AnswerRequest, footer: str) -> ChatResult | None:
        no_delay(self.chat)
        self._turn = Turn(self._connection.client, request, ChatReply(self.max_hz, footer=footer))
        try:
            answer = await self._turn.run(self.stream_message)
        finally:
            self._turn = None
        return answer.result if answer is not None else None

    # -- around the answer ------------------------------------------------------------------------

    async def _load_agents(self) -> None:
        """The agent listing into the model picker, once it can be had."""
        if self._agents is not None:
            return
        try:
            self._agents = await self._connection.client().agents()
        except JunisError as exc:
            self.log.info("Junis: no agent list (%s); the picker offers the orchestrator.",
                          config.scrub_keys(what_happened(exc), config.current_key()))
        options = choices(self._agents)
        self.report_model_configuration(ModelConfiguration(
            current=self._choice or options[0].id,
            options=[ModelOption(id=c.id, name=c.name, description=c.description)
                     for c in options]))

    def _chat_file(self) -> _ChatFile:
        absolute = os.path.realpath(self.get_chat_path())
        return _ChatFile(absolute, self.get_chat_path(relative=True), os.path.isfile(absolute))

    def _attachments_of(self, message: Any) -> list[Any]:
        if not message.attachments:
            return []
        known = self.chat.get_attachments()
        return [known[a] for a in message.attachments if a in known]

    def _remember(self, chat: _ChatFile, session_id: str | None) -> None:
        if chat.kept and session_id:
            self._sessions.remember(chat.absolute, session_id)

    def _new_session(self) -> None:
        """A fresh session from the next message, the counter at zero, and the agents listed
        again then (an organisation's agents change)."""
        chat = self._chat_file()
        if chat.kept:
            self._sessions.forget(chat.absolute)
        self._agents = None
        self._used, self._credits = Tokens(), 0
        self._report()
        self.send_message(NEW_SESSION)

    def _report(self, result: ChatResult | None = None) -> None:
        """The session's tokens and estimated credits so far, on the chat's counter (totals are
        kept here: `report_usage(append=True)` would add up the currency's name too)."""
        if result is not None:
            self._used += result.usage
            self._credits += credits.estimate(result.usage.total_tokens)
        self.report_usage(Usage(
            input_tokens=self._used.prompt_tokens, output_tokens=self._used.completion_tokens,
            total_tokens=self._used.total_tokens, cost_amount=float(self._credits),
            cost_currency=credits.UNIT))

    def _tell(self, exc: BaseException) -> None:
        """One chat message and one log line, from the advice table; never a traceback."""
        text = error_message(exc, base_url=self._connection.base_url())
        self.log.warning("Junis: %s", text[len(ERROR):])
        self.send_message(text)
