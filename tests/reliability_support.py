"""Helpers for the reliability and security suites (faults, bad input, load, leaks).

- `MagicShell`: `%%junis` in a real IPython InteractiveShell, every display and stderr line kept.
- `ScriptedServer`: a raw-socket HTTP server on 127.0.0.1 that answers with bytes the emulator
  will never produce (HTML instead of JSON, truncated bodies, endless bodies, huge headers). The
  emulator is a correct implementation of the contract, so these broken servers must be separate.
- `StripHeaderProxy`: a loopback proxy in front of the emulator that removes a response header.
  The emulator always sends `Retry-After` with a 429; a 429 without it (which the live service
  may send) can only be made by taking the header away on the wire.

Everything binds to 127.0.0.1 only, and every loop is bounded in bytes and time.
"""
from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from typing import Any, Callable, Iterator, TypeVar

from IPython.core.displaypub import DisplayPublisher

# --- the magic in a real shell -----------------------------------------------------------------


class RecordingPublisher(DisplayPublisher):
    """Keeps every display and display update the magic makes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.events: list[dict[str, Any]] = []
        self.hook: Callable[[dict[str, Any]], None] | None = None    # e.g. raise an interrupt

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):
        event = {"data": data, "metadata": metadata or {}, "update": update,
                 "display_id": (transient or {}).get("display_id")}
        self.events.append(event)
        if self.hook is not None:
            self.hook(event)

    def clear_output(self, wait: bool = False) -> None:
        pass


class CellRun:
    """What one cell produced: its displays, stdout and stderr, and whether the shell raised."""

    def __init__(self, events: list[dict[str, Any]], out: str, err: str, error: Any) -> None:
        self.events, self.out, self.err, self.error = events, out, err, error

    def answer_events(self) -> list[dict[str, Any]]:
        ids = [e["display_id"] for e in self.events if e["display_id"]]
        return [e for e in self.events if ids and e["display_id"] == ids[0]]

    @property
    def shown(self) -> str:
        """The answer's last displayed text ('' when nothing was displayed)."""
        events = self.answer_events()
        if not events:
            return ""
        data = events[-1]["data"]
        return data.get("text/markdown", data.get("text/plain", ""))

    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


class MagicShell:
    """Runs cells in the process's InteractiveShell with the extension loaded; captures output."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.publisher = RecordingPublisher(shell=shell)

    @property
    def magic(self) -> Any:
        from junis_jupyter import magics
        return magics._instance

    def run(self, source: str) -> CellRun:
        out, err = io.StringIO(), io.StringIO()
        start = len(self.publisher.events)
        saved = self.shell.display_pub
        self.shell.display_pub = self.publisher
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                result = self.shell.run_cell(source, store_history=True)
        finally:
            self.shell.display_pub = saved
        return CellRun(self.publisher.events[start:], out.getvalue(), err.getvalue(),
                       result.error_in_exec or result.error_before_exec)


@contextlib.contextmanager
def magic_shell() -> Iterator[MagicShell]:
    """The InteractiveShell singleton with junis_jupyter loaded, unloaded afterwards."""
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "junis_jupyter")
    try:
        yield MagicShell(shell)
    finally:
        shell.run_line_magic("unload_ext", "junis_jupyter")


# --- a scripted raw-socket HTTP server ---------------------------------------------------------

# A responder gets the server (to count what it sent), the connection and the request read.
Responder = Callable[["ScriptedServer", socket.socket, bytes], None]

MAX_REQUEST_BYTES = 1 << 20


def read_request(conn: socket.socket, timeout: float = 10.0) -> bytes:
    """One request's head and body (by Content-Length); b'' if the client went away."""
    conn.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
        if len(data) > MAX_REQUEST_BYTES:
            return data
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


_Server = TypeVar("_Server", bound="_LoopbackServer")


class _LoopbackServer:
    """Accepts connections on 127.0.0.1 (a free port) and hands each to `_handle` on its own
    thread; `stop()` closes the listener and every connection still open."""

    def __init__(self, backlog: int, name: str) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(backlog)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, name=f"{name} {self.port}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            self._open.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stop.set()
        for conn in self._open:
            with contextlib.suppress(OSError):
                conn.close()
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self: _Server) -> _Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ScriptedServer(_LoopbackServer):
    """Answers every connection with `responder(conn, request)`, then closes it.

    `requests` counts the requests read; `sent` counts the bytes a responder reports through
    `count_sent` (for the bounded endless responders)."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests = 0
        self.sent = 0
        self._lock = threading.Lock()
        super().__init__(16, "scripted server")
        self.url = f"http://127.0.0.1:{self.port}"

    def count_sent(self, n: int) -> None:
        with self._lock:
            self.sent += n

    def _handle(self, conn: socket.socket) -> None:
        try:
            request = read_request(conn)
            if not request:
                return
            with self._lock:
                self.requests += 1
            self.responder(self, conn, request)
        except OSError:
            pass                     # the client closed first: that is what some tests want
        finally:
            with contextlib.suppress(OSError):
                conn.close()

def head(status: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers] + ["", ""]
    return "\r\n".join(lines).encode("latin-1")


def fixed(status: str, content_type: str, body: bytes, *, declared: int | None = None,
          extra: list[tuple[str, str]] | None = None) -> Responder:
    """A whole response; `declared` lies about Content-Length (a body cut short)."""
    def respond(server: ScriptedServer, conn: socket.socket, request: bytes) -> None:
        headers = [("Content-Type", content_type),
                   ("Content-Length", str(len(body) if declared is None else declared)),
                   ("Connection", "close")] + (extra or [])
        conn.sendall(head(status, headers) + body)
    return respond


def endless(content_type: str, piece: bytes, cap_bytes: int,
            cap_seconds: float = 20.0) -> Responder:
    """200, then `piece` over and over with no end (chunked), until the client goes away or the
    cap in bytes or seconds is reached. The server counts what it sent."""
    def respond(server: ScriptedServer, conn: socket.socket, request: bytes) -> None:
        conn.sendall(head("200 OK", [("Content-Type", content_type),
                                     ("Transfer-Encoding", "chunked")]))
        frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        deadline = time.monotonic() + cap_seconds
        sent = 0
        conn.settimeout(5)
        try:
            while sent < cap_bytes and time.monotonic() < deadline:
                conn.sendall(frame)
                sent += len(piece)
        finally:
            server.count_sent(sent)
    return respond


def huge_headers(total_bytes: int, body: bytes = b"{}") -> Responder:
    """A 200 whose header block is `total_bytes` long (many long headers)."""
    def respond(server: ScriptedServer, conn: socket.socket, request: bytes) -> None:
        value = "x" * 1000
        headers = [("Content-Type", "application/json")]
        headers += [(f"X-Filler-{i}", value) for i in range(total_bytes // 1000)]
        headers.append(("Content-Length", str(len(body))))
        conn.settimeout(5)
        conn.sendall(head("200 OK", headers) + body)
    return respond


# --- a header-stripping proxy in front of the emulator -----------------------------------------


class StripHeaderProxy(_LoopbackServer):
    """Forwards each connection to `upstream` (host, port) and removes `header` from responses.

    Requests are rewritten to `Connection: close`, so each upstream connection carries exactly one
    response and only its head needs rewriting; the body (a stream too) is piped as it comes."""

    def __init__(self, upstream_url: str, header: str) -> None:
        from urllib.parse import urlsplit
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.path = parts.path
        self.header = header.lower().encode()
        super().__init__(32, "strip-proxy")
        self.url = f"http://127.0.0.1:{self.port}{self.path}"

    def _handle(self, client: socket.socket) -> None:
        upstream = None
        try:
            request = read_request(client, timeout=30)
            if not request:
                return
            req_head, _, body = request.partition(b"\r\n\r\n")
            lines = [ln for ln in req_head.split(b"\r\n")
                     if not ln.lower().startswith(b"connection:")]
            request = b"\r\n".join(lines + [b"Connection: close"]) + b"\r\n\r\n" + body
            upstream = socket.create_connection(self.upstream, timeout=30)
            self._open.append(upstream)
            upstream.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = upstream.recv(65536)
                if not chunk:          # upstream closed without an answer (a reset fault)
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                    return
                data += chunk
            resp_head, _, rest = data.partition(b"\r\n\r\n")
            kept = [ln for ln in resp_head.split(b"\r\n")
                    if not ln.lower().startswith(self.header + b":")]
            client.sendall(b"\r\n".join(kept) + b"\r\n\r\n" + rest)
            while True:
                chunk = upstream.recv(65536)
                if not chunk:
                    return
                client.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (client, upstream):
                if s is not None:
                    with contextlib.suppress(OSError):
                        s.close()


# --- small shared checks -----------------------------------------------------------------------


def widget_strings(widget: Any) -> list[str]:
    """Every string a widget tree puts on the page (values, labels, options), depth first."""
    found: list[str] = []
    for name in ("value", "description", "placeholder", "tooltip"):
        value = getattr(widget, name, None)
        if isinstance(value, str):
            found.append(value)
    for option in getattr(widget, "options", ()) or ():
        found.append(repr(option))
    for child in getattr(widget, "children", ()) or ():
        found += widget_strings(child)
    return found


def one_line(text: str) -> bool:
    """A clear error is one line, with no traceback in it."""
    return bool(text.strip()) and "\n" not in text.strip() and "Traceback" not in text

