"""Run an emulator as a subprocess: for notebooks, kernels, demos and benchmarks, where the server
must not share the caller's interpreter (or GIL)."""
from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from typing import IO, Any

from ._extra import require_server_extra
from .handle import RUNNER_DEFAULTS, EmulatorHandle

_URL_PREFIX = "Junis emulator listening on "
_KEY_PREFIX = "API key: "


class EmulatorProcess(EmulatorHandle):
    def __init__(self, process: subprocess.Popen, url: str, key: str,
                 readers: list[threading.Thread]) -> None:
        super().__init__(url, key)
        self.process = process
        self._readers = readers

    def stop(self) -> None:
        self._close_admin()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for reader in self._readers:      # they close the pipes once the child has exited
            reader.join(timeout=5)


def _command(options: dict[str, Any]) -> list[str]:
    command = [sys.executable, "-m", "junis_jupyter.emulator"]
    for name, value in {**RUNNER_DEFAULTS, **options}.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            command.append(flag)
        elif value is not None and value is not False:
            command += [flag, str(value)]
    return command


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    with stream:
        for line in stream:
            lines.put(line)
    lines.put(None)


def _drain(stream: IO[str]) -> None:
    """Read what the child writes so it never blocks on a full pipe; close at end of file."""
    with stream:
        for _ in stream:
            pass


def start_emulator_process(timeout: float = 20.0, **options: Any) -> EmulatorProcess:
    """Start `python -m junis_jupyter.emulator --port 0 --admin ...` and read its URL and key.

    Options are the CLI's, in Python spelling: plan, key, credits, token_delay, state, rpm,
    concurrency, admin, host, port. Its output after the first two lines is read and dropped (in
    threads, so the child never blocks on a full pipe, and a notebook's cells never show it); a
    child that fails to start raises RuntimeError with its last error line. Without the
    `emulator` extra (the child runs this interpreter) it raises MissingExtraError at once.
    """
    require_server_extra()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(_command(options), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    lines: queue.Queue[str | None] = queue.Queue()
    stdout_reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
    stdout_reader.start()
    found: dict[str, str] = {}
    try:
        while len(found) < 2:
            line = lines.get(timeout=timeout)
            if line is None:
                break
            if line.startswith(_URL_PREFIX):
                found["url"] = line[len(_URL_PREFIX):].strip()
            elif line.startswith(_KEY_PREFIX):
                found["key"] = line[len(_KEY_PREFIX):].strip()
    except queue.Empty:
        pass
    assert process.stderr is not None
    if len(found) < 2:
        process.kill()
        process.wait()
        with process.stderr:
            error = process.stderr.read().strip().splitlines()
        stdout_reader.join(timeout=5)
        raise RuntimeError("the emulator process did not start"
                           + (f": {error[-1]}" if error else ""))
    stderr_reader = threading.Thread(target=_drain, args=(process.stderr,), daemon=True)
    stderr_reader.start()
    return EmulatorProcess(process, found["url"], found["key"], [stdout_reader, stderr_reader])
