"""Run an emulator inside this process, on a background thread: the pytest fixtures' runner."""
from __future__ import annotations

import threading
import time
from typing import Any

from .handle import RUNNER_DEFAULTS, EmulatorHandle
from .options import EmulatorOptions
from .runtime import Emulator
from .server import base_url, bind, build_server


class EmulatorThread(EmulatorHandle):
    """A uvicorn server on its own thread and event loop; `emulator` is its live state."""

    emulator: Emulator

    def __init__(self, options: EmulatorOptions) -> None:
        self._sock = bind(options.host, options.port)
        try:
            self._server, self.emulator = build_server(options)
        except BaseException:
            self._sock.close()
            raise
        super().__init__(base_url(self._sock), self.emulator.key)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name=f"junis-emulator {self.url}", daemon=True)

    def start(self, timeout: float = 10.0) -> EmulatorThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._sock.close()
                raise RuntimeError("the emulator thread did not start serving")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._close_admin()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


def start_emulator_thread(**options: Any) -> EmulatorThread:
    """Start an emulator on a free loopback port in this process (admin routes on, no delay by
    default)."""
    return EmulatorThread(EmulatorOptions(**{**RUNNER_DEFAULTS, **options})).start()
