"""Junis AI agents in Jupyter.

`%load_ext junis_jupyter` registers `%%junis` and `%junis`. Names are imported lazily so that
loading the extension costs little: pandas, ipywidgets and the emulator come in only when used.
"""
from __future__ import annotations

from typing import Any

from ._lazy import lazy_attributes
from ._version import __version__ as __version__

_LAZY = {
    "JunisClient": "junis_jupyter.client.sync",
    "AsyncJunisClient": "junis_jupyter.client.aio",
    "ChatResult": "junis_jupyter.client.types",
    "ChatChunk": "junis_jupyter.client.types",
    "Usage": "junis_jupyter.client.types",
    "ChatPanel": "junis_jupyter.notebook.panel",
    "ask_many": "junis_jupyter.data.batch",
    "frames": "junis_jupyter.data.frames",
    "errors": "junis_jupyter.errors",
}

__all__ = sorted(_LAZY) + ["load_ipython_extension", "unload_ipython_extension"]


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


def load_ipython_extension(ipython: Any) -> None:
    from .notebook.extension import load
    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .notebook.extension import unload
    unload(ipython)
