"""Terminal escape sequences taken out of the text a terminal prints.

An answer is model output and may hold escape sequences: CSI ones (colours, cursor moves, clearing
the screen) and OSC ones (a window title, OSC 52 that writes the clipboard, OSC 8 links). A
terminal IPython prints an answer's `text/plain`, and so does any frontend that shows only that;
the terminal would run them. So what is printed (an answer's `text/plain`, the terminal mode's
writes, the footer) goes through `strip_escapes`; the answer's own text (`_junis.text`) stays as
the service sent it. The HTML a notebook shows needs nothing: a browser runs no escape sequence.

Taken out: every sequence that starts with ESC or a C1 control (ESC [ and U+009B for CSI; ESC ],
P, X, ^, _ and their C1 forms for the string commands, up to BEL or ST or the line's end), any
other ESC sequence, and the C0 and C1 controls but tab, line feed and carriage return.
"""
from __future__ import annotations

import re

__all__ = ["strip_escapes", "EscapeStripper"]

_ESCAPE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"                      # CSI: parameters, intermediates, end
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])"                # OSC, DCS, SOS, PM, APC: a string
    r"[^\x00-\x1f\x7f-\x9f]*(?:\x07|\x1b\\|\x9c)?"             # up to BEL or ST
    r"|\x1b[ -/]*[0-~]?"                                       # any other escape sequence
    r"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"                  # any other control
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")     # every sequence holds one
# The last control in a text and what follows it: where a sequence cut by a write may begin.
_LAST_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*\Z")
MAX_HELD = 1024     # characters a cut sequence may hold back before what follows is printed


def strip_escapes(text: str) -> str:
    """`text` without escape sequences and control characters but tab, newline and CR (the same
    object when it has none)."""
    if _CONTROL.search(text) is None:      # a one-class search: ten times faster than _ESCAPE's
        return text
    return _ESCAPE.sub("", text)


class EscapeStripper:
    """`strip_escapes` for a text written in pieces: a sequence cut between two pieces is held
    back until it ends (or the text does), so no part of it is printed as text."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        """What of `piece` (after what was held) can be printed now."""
        text = self._held + piece
        self._held = ""
        last = _LAST_CONTROL.search(text)
        if last is not None and len(text) - last.start() <= MAX_HELD:
            sequence = _ESCAPE.match(text, last.start())
            if sequence is not None and sequence.end() == len(text):   # it may go on
                self._held = text[last.start():]
                text = text[:last.start()]
        return strip_escapes(text)

    def flush(self) -> str:
        """What was held back, stripped: the text has ended."""
        held, self._held = self._held, ""
        return strip_escapes(held)
