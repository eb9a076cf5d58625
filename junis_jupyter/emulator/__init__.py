"""A local emulator of the Junis External API (the house contract), for tests, demos and benchmarks.

Independent of `junis_jupyter.client` on purpose: the two implementations test each other.
Run it with `python -m junis_jupyter.emulator`; embed it with `start_emulator_thread()` or
`start_emulator_process()`; see docs/emulator.md.

Names are imported lazily, as in the top-level package: a notebook that only starts the emulator
as a subprocess does not import starlette and uvicorn, and the server process does not import httpx.

The server needs the `emulator` extra (`pip install 'junis-jupyter[emulator]'`, included in `dev`).
Without it this package still imports (the command line reads its options from here), and every
name or module that needs the server raises `MissingExtraError`, an ImportError whose message is
the one line naming the extra.
"""
from __future__ import annotations

from .._lazy import lazy_attributes

_LAZY = {
    "EmulatorOptions": ".options",
    "EmulatorProcess": ".process",
    "start_emulator_process": ".process",
    "EmulatorThread": ".thread",
    "start_emulator_thread": ".thread",
    "create_app": ".app",
    "MissingExtraError": "._extra",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_attributes(__name__, _LAZY, globals())
