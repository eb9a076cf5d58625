"""The one cap on a prompt's size, for the magic, the chat panel and batches alike.

Checked before any request, so a pasted file (or a DataFrame interpolated whole) never goes to
the server by accident. Each surface keeps its own setting; the check and its wording are one.
It lives in the data floor so that `ask_many` (data) and the magic and panel (notebook) share it.
"""
from __future__ import annotations

from ..errors import ConfigurationError

__all__ = ["MAX_PROMPT_CHARS", "check_prompt"]

MAX_PROMPT_CHARS = 100_000     # every surface's default


def check_prompt(text: str, limit: int, setting: str, remedy: str = "shorten it.", *,
                 what: str = "the prompt") -> None:
    """Raise ConfigurationError (one line: the length, the limit, the setting that sets it, and
    what to do) when `text` is longer than `limit` characters. `what` names the text ("the
    prompt of row 3")."""
    if len(text) > limit:
        raise ConfigurationError(f"{what} is {len(text)} characters, over the limit of "
                                 f"{limit} ({setting}): {remedy}")
