"""What the persona says in the chat besides answers: the marks at the end of an answer, the
footer naming what was cut, the notices, and errors in the advice table's words.

Junis's own notices and errors begin with a sign (`NOTICE`, `ERROR`) so that they can be told
from answers when a chat's history seeds a new session (history.py leaves them out).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from .. import config
from ..advice import Surface, advise
from ..data.cuts import Cut, describe

__all__ = ["STOPPED", "NOTICE", "ERROR", "NEW_SESSION", "closing_fence", "error_message",
           "cuts_footer", "is_notice", "strip_marks"]

STOPPED = "stopped"                 # the mark of an answer ended by Stop (the pipeline's note)
NOTICE = "ℹ️ "
ERROR = "⚠️ "
NEW_SESSION = (NOTICE + "New Junis session: the next message starts a fresh conversation "
               "(the messages above stay here, but Junis will not see them).")

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.MULTILINE)
_FOOTER = re.compile(r"(?:\A|\n\n)\*(?:cut to fit the prompt|not attached): [^\n]*\*\Z")
_MARK = re.compile(r"(?:\A|(?:\n(?:```+|~~~+))?\n\n)\*■ [a-z ]+\*\Z")


def closing_fence(text: str) -> str:
    """What closes the code block `text` leaves open ("" when it leaves none), so a mark added
    after it is not shown as code."""
    open_fence: str | None = None
    for match in _FENCE.finditer(text):
        fence = match.group(1)
        if open_fence is None:
            open_fence = fence
        elif fence[0] == open_fence[0] and len(fence) >= len(open_fence):
            line_end = text.find("\n", match.end())
            rest = text[match.end():line_end if line_end >= 0 else len(text)]
            if not rest.strip():                # a closing fence has nothing after it
                open_fence = None
    return f"\n{open_fence}" if open_fence else ""


def strip_marks(answer: str) -> str:
    """An answer without the footer and the stop or break mark this module added."""
    return _MARK.sub("", _FOOTER.sub("", answer))


def cuts_footer(cuts: Iterable[Cut], unread: Iterable[str] = ()) -> str:
    """One line naming what was shortened or left out of the prompt ("" when nothing was)."""
    parts = []
    said = describe(cuts)
    if said:
        parts.append(f"cut to fit the prompt: {said}")
    left_out = list(unread)
    if left_out:
        parts.append("not attached: " + "; ".join(left_out))
    return f"*{'. '.join(parts)}.*" if parts else ""


def error_message(exc: BaseException, base_url: str | None = None) -> str:
    """The one chat message for a failure: the advice table's line for the chat, never a
    traceback, masked of keys."""
    return ERROR + config.scrub_keys(advise(exc, Surface.CHAT, base_url=base_url),
                                     config.current_key())


def is_notice(body: str) -> bool:
    """A message of Junis's that is not an answer (an error or a notice)."""
    return body.startswith((NOTICE, ERROR))
