"""An IPython shell that behaves like a notebook kernel for `%%junis`, without a kernel.

Display updates go to a publisher that counts them instead of sending them anywhere, so the
benchmarks see what a frontend would receive and pay nothing for a transport.
"""
from __future__ import annotations

import io
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config


class RecordingPublisher(DisplayPublisher):
    """Counts publishes per display id and keeps only the size of the latest one.

    Keeping every payload would make a long answer's hundreds of updates the benchmark's own
    memory; a kernel sends each one and forgets it, and so does this.
    """

    def __init__(self, shell: Any = None) -> None:
        super().__init__(shell=shell)
        self.by_display: Counter[str] = Counter()
        self.publishes = 0
        self.last_chars = 0
        self.sent_bytes = 0                             # every publish's text, as UTF-8
        self.final_bytes: dict[str, int] = {}           # each display's latest publish

    def publish(self, data: dict, metadata: dict | None = None, source: Any = None, *,
                transient: dict | None = None, update: bool = False, **kwargs: Any) -> None:
        self.publishes += 1
        display_id = (transient or {}).get("display_id", "")
        self.by_display[display_id] += 1
        self.last_chars = sum(len(v) for v in data.values() if isinstance(v, str))
        size = sum(len(v.encode("utf-8")) for v in data.values() if isinstance(v, str))
        self.sent_bytes += size
        if display_id:
            self.final_bytes[display_id] = size

    def clear_output(self, wait: bool = False) -> None:
        pass

    def reset(self) -> None:
        self.by_display.clear()
        self.publishes = 0
        self.last_chars = 0
        self.sent_bytes = 0
        self.final_bytes.clear()

    def answer_updates(self) -> int:
        """Publishes to the answer's display handles: a streamed answer settles its finished
        blocks into outputs of their own (notebook/render.py), so every handle counts."""
        return sum(n for key, n in self.by_display.items() if key)


class _Tail(io.TextIOBase):
    """Keeps only the end of what is printed: enough for an error line, never a whole answer."""

    def __init__(self, keep: int = 500) -> None:
        self.keep = keep
        self.text = ""

    def write(self, text: str) -> int:
        self.text = (self.text + text[-self.keep:])[-self.keep:]
        return len(text)


def notebook_shell() -> tuple[InteractiveShell, RecordingPublisher]:
    """The shell with the extension loaded (JUNIS_* must already be in the environment)."""
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    publisher = RecordingPublisher(shell=shell)
    shell.display_pub = publisher
    shell.run_line_magic("load_ext", "junis_jupyter")
    return shell, publisher


def ask(shell: InteractiveShell, cell: str) -> Any:
    """Run a `%%junis` cell as a notebook would and return its answer (`_junis`).

    What the cell prints is dropped; if no answer came, the end of it is the error raised.
    """
    shell.user_ns.pop("_junis", None)
    printed = _Tail()
    with redirect_stdout(printed), redirect_stderr(printed):
        result = shell.run_cell(cell, store_history=True)
    result.raise_error()
    answer = shell.user_ns.get("_junis")
    if answer is None:
        raise RuntimeError(f"the cell gave no answer: {printed.text.strip()!r}")
    return answer
