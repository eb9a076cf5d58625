"""The chat's WebSocket connections, told to send small frames at once.

jupyterlab-chat's WebSocket handler (0.25) leaves Nagle's algorithm on, as Tornado does by
default. A reply begins with two small frames back to back (the new message, then its first
text); Nagle holds the second until the browser acknowledges the first, and the browser's
system delays that acknowledgement (40 ms on Linux, up to 200 ms on Windows). Measured here
through the chat WebSocket: the first visible reply 44 ms after the message, against 7 ms with
the delay off (`make bench`). Tornado's own documentation recommends `set_nodelay(True)` for
this; jupyterlab-chat does not call it yet, so the persona does, on the connections of the chat
it answers in, before each answer. (Without jupyterlab-chat's WebSocket model, as under
real-time collaboration, there is nothing to do.)
"""
from __future__ import annotations

from typing import Any

__all__ = ["no_delay"]


def no_delay(chat: Any) -> None:
    for handler in list(getattr(chat, "handlers", {}).values()):
        set_nodelay = getattr(handler, "set_nodelay", None)
        if set_nodelay is not None:
            try:
                set_nodelay(True)
            except Exception:           # a connection closing meanwhile: nothing to speed up
                pass
