"""A Jupyter server application (JupyterLab, or a bare `jupyter server` with the chat) in its
own process group on a free loopback port: started, waited for until `/api/status` answers,
and stopped with its kernels. support/lab.py and support/chat.py say what each one serves."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


class ServerProcess:
    what = "the Jupyter server"      # for errors: "<what> exited early"

    def __init__(self, app: str, args: list[str], env: dict[str, str], log_path: Path,
                 timeout: float) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self._log = open(log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", app, "--no-browser", f"--port={self.port}",
             "--ServerApp.ip=127.0.0.1", "--allow-root", *args],
            stdout=self._log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        self.pid = self.process.pid
        self._wait_ready(timeout)

    @property
    def headers(self) -> dict[str, str]:
        return {}

    def _started(self) -> bool:
        """Whether the log says the app is up (a server may answer before its app is ready)."""
        return True

    def _wait_ready(self, timeout: float) -> None:
        import httpx
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.what} exited early:\n{self.log()[-3000:]}")
            if self._started():
                try:
                    if httpx.get(f"{self.url}/api/status", headers=self.headers,
                                 timeout=2).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.what} did not start in {timeout:.0f} s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the server and its kernels (its process group), by pid."""
        if self.process.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.process.wait()
        else:
            try:    # the server is gone; its kernels (same group) must not outlive it
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._log.close()
