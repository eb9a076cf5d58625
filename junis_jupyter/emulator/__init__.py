"""A local emulator of the Junis External API (the house contract), for tests, demos and benchmarks.

Independent of `junis_jupyter.client` on purpose: the two implementations test each other.
Run it with `python -m junis_jupyter.emulator`; embed it with `start_emulator_thread()` or
`start_emulator_process()`; see docs/emulator.md.
"""
from __future__ import annotations

from .app import create_app
from .options import EmulatorOptions
from .process import EmulatorProcess, start_emulator_process
from .thread import EmulatorThread, start_emulator_thread

__all__ = ["EmulatorOptions", "EmulatorProcess", "EmulatorThread", "create_app",
           "start_emulator_process", "start_emulator_thread"]
