"""Serve the app with uvicorn on a socket we bound ourselves (port 0: no race for a free port)."""
from __future__ import annotations

import asyncio
import socket
from typing import Any

from . import _requires_extra  # noqa: F401  (first: no extra, one clear line)

# isort: split
import uvicorn

from .app import create_app
from .options import EmulatorOptions
from .runtime import Emulator

# uvicorn's faster parser when httptools is installed (its module imports it); h11 otherwise
try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _BaseProtocol
except ImportError:      # either is uvicorn's HTTP protocol; mypy types the name as the first
    from uvicorn.protocols.http.h11_impl import H11Protocol as _BaseProtocol  # type: ignore[assignment]


def tracked_protocol(transports: dict[tuple[Any, ...], asyncio.Transport]) -> type:
    """uvicorn's HTTP protocol, remembering each connection's transport by peer address so that a
    `reset` fault can drop the connection without any response."""

    class TrackedProtocol(_BaseProtocol):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            if self.client:
                transports[tuple(self.client)] = transport

        def connection_lost(self, exc: Exception | None) -> None:
            if self.client:
                transports.pop(tuple(self.client), None)
            super().connection_lost(exc)

    return TrackedProtocol


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when it sees it,
    # and without TCP_NODELAY every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def build_server(options: EmulatorOptions, *, log_level: str = "warning"
                 ) -> tuple[uvicorn.Server, Emulator]:
    emulator = Emulator(options)
    config = uvicorn.Config(create_app(emulator=emulator),
                            http=tracked_protocol(emulator.transports),
                            lifespan="off", access_log=False, log_level=log_level,
                            log_config=None, timeout_graceful_shutdown=1, timeout_keep_alive=30)
    return uvicorn.Server(config), emulator
