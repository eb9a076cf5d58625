"""The emulator's server needs the `emulator` extra (starlette and uvicorn), which a user's kernel
may not have: `pip install junis-jupyter` brings the client, the magic and the panel only.

Every module that imports starlette or uvicorn imports `_requires_extra` first, so a missing extra
is one clear line (`MissingExtraError`) whichever server part is imported, while the package
itself, its options and its command line's arguments stay importable (`junis-jupyter --help`).
"""
from __future__ import annotations

from importlib.util import find_spec

MESSAGE = "The Junis emulator needs starlette and uvicorn: pip install 'junis-jupyter[emulator]'"
SERVER_MODULES = ("starlette", "uvicorn")


class MissingExtraError(ImportError):
    """The `emulator` extra is not installed; `str()` is the one line that says what to install."""


def missing() -> list[str]:
    """The server modules that cannot be imported here (without importing them)."""
    return [name for name in SERVER_MODULES if find_spec(name) is None]


def require_server_extra() -> None:
    absent = missing()
    if absent:
        raise MissingExtraError(MESSAGE, name=absent[0])
