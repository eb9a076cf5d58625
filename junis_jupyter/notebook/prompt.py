"""The one cap on a prompt's size, for the magic and the chat panel alike.

Checked before any request, so a pasted file (or a DataFrame interpolated whole) never goes to
the server by accident. Each surface keeps its own setting; the check and its wording are one.
"""
from __future__ import annotations

from ..errors import ConfigurationError

__all__ = ["check_prompt"]


def check_prompt(text: str, limit: int, setting: str, remedy: str = "shorten it.") -> None:
    """Raise ConfigurationError (one line: the length, the limit, the setting that sets it, and
    what to do) when `text` is longer than `limit` characters."""
    if len(text) > limit:
        raise ConfigurationError(f"the prompt is {len(text)} characters, over the limit of "
                                 f"{limit} ({setting}): {remedy}")
