"""The answer as the chat shows it: the answer pipeline's view on one side, the async iterator
that `BasePersona.stream_message` reads on the other, with updates coalesced.

Each update of a chat message rewrites the whole `.chat` file and goes to every client, so one
update per streamed piece (about 80 for a 330-character answer) costs the server far more than
the answer itself. The first text goes out at once (the first visible reply waits for nothing),
later text is gathered until `1 / max_hz` seconds have passed since the last update, and the end
goes out at once, with the stop's or the break's mark and any footer.

An update's cost grows with the chat (the file rewritten is the whole conversation), so the
spacing also grows with it: the chat's work on the last update (the time `stream_message` takes
before it asks for the next piece) is kept under a tenth of the server's time while an answer
streams. A short chat is updated `max_hz` times a second; a long one less often.

Text is masked of API keys on its way out; a tail that could be the start of a key is held back
until the next update shows whether it is one, so no update carries part of a key.
"""
from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable

from .. import config
from .wording import closing_fence

__all__ = ["ChatReply", "held_tail"]

# A suffix that may be the beginning of a key ("j", "jns_li", "jns_live_AbC..."), not a whole one.
_KEY_START = re.compile(r"j(?:n(?:s(?:_(?:l(?:i(?:v(?:e(?:_[A-Za-z0-9]{0,31})?)?)?)?)?)?)?)?\Z")
_CUT_KEY = re.compile(r"jns_live_[A-Za-z0-9]*\Z")


def held_tail(text: str) -> int:
    """Where the part of `text` that may be the start of a key begins (len(text) when none)."""
    found = _KEY_START.search(text, max(0, len(text) - 41))
    return found.start() if found else len(text)


class ChatReply:
    """A view (`feed`, `finish`) and its coalesced `updates()`. `finish` may be called more than
    once; the first call counts (the pipeline finishes it, and the exchange finishes it again
    when the pipeline ended without doing so)."""

    BUSY = 0.1      # the largest share of the server's time the chat's updates may take

    def __init__(self, max_hz: float = 15.0, *, footer: str = "",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / max_hz if max_hz > 0 else 0.0
        self.spacing = self.interval    # the interval, or longer while updates are costly
        self.footer = footer
        self._clock = clock
        self._pending: list[str] = []
        self._held = ""
        self._shown: list[str] = []
        self._wake = asyncio.Event()
        self._finished = False
        self.note: str | None = None
        self.updates_sent = 0

    # -- the view the pipeline feeds ------------------------------------------------------------

    def feed(self, text: str) -> None:
        self._pending.append(text)
        self._wake.set()

    def finish(self, note: str | None = None) -> None:
        if not self._finished:
            self._finished = True
            self.note = note
            self._wake.set()

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def text(self) -> str:
        """What the chat was given so far."""
        return "".join(self._shown)

    # -- what stream_message reads --------------------------------------------------------------

    async def updates(self) -> AsyncIterator[str]:
        """Text for the chat, at most one piece per interval; ends after the finish."""
        last: float | None = None
        while True:
            await self._wake.wait()
            if not self._finished and last is not None:
                wait = last + self.spacing - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
            self._wake.clear()
            done = self._finished           # read before taking: a finish after it wakes us again
            piece = self._take(done)
            if piece:
                self._shown.append(piece)
                self.updates_sent += 1
                handed = self._clock()
                yield piece
                last = self._clock()        # the chat updated before asking for more
                self.spacing = max(self.interval,
                                   (last - handed) * (1 - self.BUSY) / self.BUSY)
            if done:
                return

    def _take(self, done: bool) -> str:
        text = self._held + "".join(self._pending)
        self._pending.clear()
        text = config.scrub_keys(text, config.current_key())
        if done:
            self._held = ""
            text = _CUT_KEY.sub("jns_live_…", text)
            return text + self._ending(self.text + text)
        cut = held_tail(text)
        self._held = text[cut:]
        return text[:cut]

    def _ending(self, whole: str) -> str:
        """The mark of a stopped or broken answer, then the footer (only beside an answer or a
        mark), outside any code block the answer left open."""
        parts = [f"*■ {self.note}*"] if self.note else []
        if self.footer and (whole or parts):
            parts.append(self.footer)
        if not parts:
            return ""
        return (closing_fence(whole) + "\n\n" if whole else "") + "\n\n".join(parts)
