"""A chat's own conversation with Junis, as (question, answer) pairs: what seeds a new session
when this machine does not know the chat's session (a chat file from someone else, a renamed
one), as a re-run notebook cell forks its conversation.

Only what the chat shows of Junis counts: a person's message addressed to Junis (the persona
picker's `to_persona`) and Junis's reply after it. Slash commands, Junis's notices and errors are
left out, and so is everything before the last `/new`, which started a fresh session.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .wording import is_notice, strip_marks

__all__ = ["exchanges", "is_new_command", "TO_PERSONA"]

TO_PERSONA = "to_persona"       # PersonaManager.TO_PERSONA_METADATA_KEY


def is_new_command(body: str) -> bool:
    words = body.split(None, 1)
    return bool(words) and words[0] == "/new"


def exchanges(messages: Iterable[Any], persona_id: str,
              before: str | None = None) -> tuple[tuple[str, str], ...]:
    """The (question, answer) pairs of `messages` (jupyterlab_chat Messages, oldest first) with
    the persona `persona_id`, up to the message with id `before` (not included)."""
    pairs: list[tuple[str, str]] = []
    question: str | None = None
    for message in messages:
        if message.id == before:
            break
        if getattr(message, "deleted", False):
            continue
        body = message.body or ""
        if message.sender == persona_id:
            if question is not None and not is_notice(body):
                answer = strip_marks(body)
                if answer.strip():
                    pairs.append((question, answer))
            question = None
        elif (message.metadata or {}).get(TO_PERSONA) == persona_id:
            if is_new_command(body):
                pairs.clear()
                question = None
            else:
                question = None if body.lstrip().startswith("/") else body
    return tuple(pairs)
