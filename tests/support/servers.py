"""Loopback servers that say what the emulator never would.

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
import socket
import threading
import time
from typing import Callable, TypeVar


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
