"""Incremental Server-Sent Events decoder: bytes in, events out, no I/O.

Follows the WHATWG event-stream rules: LF, CRLF or CR line ends; `:` comment lines; `event`,
`data`, `id` and `retry` fields; multi-line `data`; a blank line dispatches. Network reads may split
the stream at any byte, including inside a CRLF pair or a UTF-8 character: lines are cut on ASCII
bytes and only complete lines are decoded, so a split character is never decoded in halves.

It is on the streaming hot path, so it works on whole network reads (`bytes.split`) rather than
byte by byte, and keeps per-event work to a few slicing operations.
"""
from __future__ import annotations

from typing import NamedTuple

__all__ = ["SSEEvent", "SSEDecoder", "EventTooLarge", "DEFAULT_MAX_EVENT_BYTES"]

DEFAULT_MAX_EVENT_BYTES = 4 * 1024 * 1024


class SSEEvent(NamedTuple):
    data: str
    event: str = "message"
    id: str | None = None       # the last event id seen so far in the stream
    retry: int | None = None    # the reconnection time sent with this event, in milliseconds


_new_event = tuple.__new__     # builds an SSEEvent without NamedTuple's Python-level __new__


class EventTooLarge(ValueError):
    """One event grew past the decoder's bound: a broken or hostile server, not a long answer."""


class SSEDecoder:
    """Feed it network reads with `feed()`; call `flush()` once the stream has ended."""

    __slots__ = ("_buf", "_data", "_size", "_event", "_last_id", "_retry", "_skip_lf", "_max")

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._buf = b""             # an incomplete line (never holds a CR)
        self._data: list[bytes] = []
        self._size = 0              # bytes held for the event being built
        self._event: bytes | None = None
        self._last_id: str | None = None
        self._retry: int | None = None
        self._skip_lf = False       # the previous read ended in CR: a leading LF belongs to it
        self._max = max_event_bytes

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """The events completed by this read, in order."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\r" in chunk:
            self._skip_lf = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" not in chunk:
            self._buf += chunk
            if self._size + len(self._buf) > self._max:
                self._too_large()
            return []
        if self._buf:
            chunk = self._buf + chunk
        lines = chunk.split(b"\n")
        self._buf = lines.pop()
        events: list[SSEEvent] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    events.append(self._dispatch())
                    data = self._data
                else:
                    self._event = None
                    self._retry = None
            elif line[:5] == b"data:":
                value = line[6:] if line[5:6] == b" " else line[5:]
                data.append(value)
                self._size += len(value) + 1
                if self._size > self._max:
                    self._too_large()
            elif line[0] != 58:     # 58 == ord(":"): comment lines are skipped
                self._field(line)
        if self._size + len(self._buf) > self._max:
            self._too_large()
        return events

    def flush(self) -> list[SSEEvent]:
        """At end of stream: dispatch data lines still waiting for their blank line (a lenient
        reading of the spec, which would drop them); an unterminated last line is dropped."""
        events = [self._dispatch()] if self._data else []
        self._buf = b""
        self._event = None
        return events

    def _field(self, line: bytes) -> None:
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"event":
            self._event = value
        elif name == b"data":       # "data" with no colon: an empty data line
            self._data.append(value)
            self._size += 1
        elif name == b"id":
            if b"\0" not in value:
                self._last_id = value.decode("utf-8", "replace")
        elif name == b"retry":
            if value.isdigit():
                self._retry = int(value)
        # any other field is ignored, as the spec says

    def _dispatch(self) -> SSEEvent:
        data = self._data
        text = (data[0] if len(data) == 1 else b"\n".join(data)).decode("utf-8", "replace")
        event = self._event.decode("utf-8", "replace") if self._event else "message"
        ev = _new_event(SSEEvent, (text, event, self._last_id, self._retry))
        self._data = []
        self._size = 0
        self._event = None
        self._retry = None
        return ev

    def _too_large(self) -> None:
        size = self._size + len(self._buf)
        self._buf = b""
        self._data = []
        self._size = 0
        raise EventTooLarge(
            f"A server-sent event exceeded {self._max:,} bytes (at least {size:,} received); "
            "the stream was abandoned.")
