"""What every benchmark is given: the emulator to talk to and how hard to try."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator


@dataclass(frozen=True)
class Context:
    url: str        # the emulator's native base URL (the OpenAI base is url + "/v1")
    key: str
    quick: bool     # tiny sizes: the smoke test's mode, figures meaningless
    repeat: int     # interleaved rounds per benchmark (some cheap ones multiply it)

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def child_env(self) -> dict[str, str]:
        """Environment for a subprocess: the key travels here, never on a command line."""
        return {**os.environ, "JUNIS_BASE_URL": self.url, "JUNIS_API_KEY": self.key}

    @contextmanager
    def junis_env(self, home: str) -> Iterator[None]:
        """JUNIS_* set for code that reads its settings from the environment (the magic, ask_many)."""
        names = ("JUNIS_BASE_URL", "JUNIS_API_KEY", "JUNIS_HOME")
        saved = {name: os.environ.get(name) for name in names}
        os.environ.update(JUNIS_BASE_URL=self.url, JUNIS_API_KEY=self.key, JUNIS_HOME=home)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def child_json(args: list[str], env: dict[str, str], what: str, timeout: float) -> dict[str, Any]:
    """Run `python <args>` and return the JSON object on the last line it printed."""
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"the {what} child failed: {tail[0]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
