"""`%%junis` in a real IPython InteractiveShell, every display and stderr line kept."""
from __future__ import annotations

import contextlib
import io
from typing import Any, Callable, Iterator

from IPython.core.displaypub import DisplayPublisher

class RecordingPublisher(DisplayPublisher):
    """Keeps every display and display update the magic makes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.events: list[dict[str, Any]] = []
        self.hook: Callable[[dict[str, Any]], None] | None = None    # e.g. raise an interrupt

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):
        event = {"data": data, "metadata": metadata or {}, "update": update,
                 "display_id": (transient or {}).get("display_id")}
        self.events.append(event)
        if self.hook is not None:
            self.hook(event)

    def clear_output(self, wait: bool = False) -> None:
        pass


class CellRun:
    """What one cell produced: its displays, stdout and stderr, and whether the shell raised."""

    def __init__(self, events: list[dict[str, Any]], out: str, err: str, error: Any) -> None:
        self.events, self.out, self.err, self.error = events, out, err, error

    def answer_events(self) -> list[dict[str, Any]]:
        ids = [e["display_id"] for e in self.events if e["display_id"]]
        return [e for e in self.events if ids and e["display_id"] == ids[0]]

    @property
    def shown(self) -> str:
        """The answer's last displayed text ('' when nothing was displayed)."""
        events = self.answer_events()
        if not events:
            return ""
        data = events[-1]["data"]
        return data.get("text/markdown", data.get("text/plain", ""))

    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


class MagicShell:
    """Runs cells in the process's InteractiveShell with the extension loaded; captures output."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.publisher = RecordingPublisher(shell=shell)

    @property
    def magic(self) -> Any:
        from junis_jupyter.notebook import magics
        return magics._instance

    def run(self, source: str) -> CellRun:
        out, err = io.StringIO(), io.StringIO()
        start = len(self.publisher.events)
        saved = self.shell.display_pub
        self.shell.display_pub = self.publisher
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                result = self.shell.run_cell(source, store_history=True)
        finally:
            self.shell.display_pub = saved
        return CellRun(self.publisher.events[start:], out.getvalue(), err.getvalue(),
                       result.error_in_exec or result.error_before_exec)


@contextlib.contextmanager
def magic_shell() -> Iterator[MagicShell]:
    """The InteractiveShell singleton with junis_jupyter loaded, unloaded afterwards."""
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "junis_jupyter")
    try:
        yield MagicShell(shell)
    finally:
        shell.run_line_magic("unload_ext", "junis_jupyter")
