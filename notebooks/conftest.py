"""nbval runs of the example notebooks against a local emulator.

The emulator runs in its own process for the whole pytest run; its URL and key (and a throwaway
JUNIS_HOME) go into os.environ before nbval starts any kernel, so the kernels inherit them.
"""
from __future__ import annotations

import os
import tempfile
from collections import deque
from typing import Any

_emulator: Any = None
_home: Any = None
_ENV = ("JUNIS_BASE_URL", "JUNIS_API_KEY", "JUNIS_HOME")
_saved: dict[str, str | None] = {}


def pytest_configure(config: Any) -> None:
    global _emulator, _home
    if not config.getoption("nbval", default=False) and not config.getoption("nbval_lax", default=False):
        return
    from junis_jupyter.emulator.process import start_emulator_process

    _emulator = start_emulator_process(token_delay=0.002)
    _home = tempfile.TemporaryDirectory(prefix="junis-nbval-home-")
    for name in _ENV:
        _saved[name] = os.environ.get(name)
    os.environ.update(JUNIS_BASE_URL=_emulator.url, JUNIS_API_KEY=_emulator.key,
                      JUNIS_HOME=_home.name)
    _fold_display_updates()


def pytest_unconfigure(config: Any) -> None:
    global _emulator, _home
    if _emulator is None:
        return
    _emulator.stop()
    _home.cleanup()
    for name, value in _saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _emulator = _home = None


def _merged(messages: list[Any]) -> list[Any]:
    """The held displays with an answer's parts merged into one (answer_outputs.py says why)."""
    from answer_outputs import merge_answer_parts
    kept = merge_answer_parts([m["content"] for m in messages])
    return [m for m in messages if any(m["content"] is c for c in kept)]


def _fold_display_updates() -> None:
    """nbval (0.11) ignores `update_display_data`, so it would compare a streamed answer's first
    few characters with the stored final text. Hold each display that has a display_id until the
    next unrelated message, folding its updates into it: nbval then sees what a notebook shows."""
    from nbval.plugin import IPyNbFile

    original = IPyNbFile.get_kernel_message
    if getattr(original, "folds_updates", False):
        return

    def get_kernel_message(self: Any, timeout: float | None = None, stream: str = "iopub") -> Any:
        if stream != "iopub":
            return original(self, timeout=timeout, stream=stream)
        ready: deque = self.__dict__.setdefault("_junis_ready", deque())
        held: dict = self.__dict__.setdefault("_junis_held", {})
        while not ready:
            msg = original(self, timeout=timeout, stream=stream)
            kind = msg["msg_type"]
            display_id = (msg["content"].get("transient") or {}).get("display_id") \
                if kind in ("display_data", "update_display_data") else None
            if kind == "display_data" and display_id:
                held[display_id] = msg
                continue
            if kind == "update_display_data" and display_id in held:
                held[display_id]["content"]["data"] = msg["content"]["data"]
                held[display_id]["content"]["metadata"] = msg["content"]["metadata"]
                continue
            ready.extend(_merged(list(held.values())))
            held.clear()
            ready.append(msg)
        return ready.popleft()

    get_kernel_message.folds_updates = True  # type: ignore[attr-defined]
    IPyNbFile.get_kernel_message = get_kernel_message
