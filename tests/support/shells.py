"""`%%junis` in a real IPython InteractiveShell, every display and stderr line kept.

conftest.py loads this module as a plugin: its two fixtures are the one shell every suite uses.

- `ipython` (module scope): the process's InteractiveShell with junis_jupyter loaded, as a
  `MagicShell`; unloaded when the module's tests are done.
- `shell` (function scope): the same, with the magic as a fresh `%load_ext` leaves it (no client,
  no session, every option at its default but `on_error="print"`, no login key, no `_junis`, no
  `%config` left by an earlier test), and again so afterwards. It sets no environment: a test asks for `junis_env`
  (or its own server's) to say where the magic's calls go.
"""
from __future__ import annotations

import contextlib
import io
from typing import Any, Callable, Iterator, TypeVar

import pytest
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

    def answer_outputs(self) -> list[list[dict[str, Any]]]:
        """Each output of the answer (its display, then its updates), in order: a streamed answer
        settles its finished blocks into outputs of their own (notebook/render.py)."""
        outputs: dict[str, list[dict[str, Any]]] = {}
        for event in self.events:
            if event["display_id"] and "junis" not in event["metadata"]:
                outputs.setdefault(event["display_id"], []).append(event)
        return list(outputs.values())

    def answer_events(self) -> list[dict[str, Any]]:
        """Every display message of the answer, in the order sent."""
        return [e for e in self.events if e["display_id"] and "junis" not in e["metadata"]]

    @property
    def shown(self) -> str:
        """What the notebook finally shows of the answer: each output's last text, joined ('' when
        nothing was displayed)."""
        return "".join(_text(events[-1]["data"]) for events in self.answer_outputs())

    @property
    def footer(self) -> dict[str, Any]:
        """The last display carrying the magic's `junis` metadata (the line under an answer)."""
        return [e for e in self.events if "junis" in e["metadata"]][-1]

    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def _text(data: dict[str, Any]) -> str:
    return data.get("text/markdown", data.get("text/plain", ""))


Run = TypeVar("Run", bound=CellRun)


class MagicShell:
    """Runs cells in the process's InteractiveShell with the extension loaded; captures output."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.publisher = RecordingPublisher(shell=shell)

    @property
    def magic(self) -> Any:
        from junis_jupyter.notebook import extension
        return extension.current()

    def run(self, source: str, as_type: type[Run] = CellRun,  # type: ignore[assignment]
            cell_id: str | None = None) -> Run:
        out, err = io.StringIO(), io.StringIO()
        start = len(self.publisher.events)
        saved = self.shell.display_pub
        self.shell.display_pub = self.publisher
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                result = self.shell.run_cell(source, store_history=True, cell_id=cell_id)
        finally:
            self.shell.display_pub = saved
        return as_type(self.publisher.events[start:], out.getvalue(), err.getvalue(),
                       result.error_in_exec or result.error_before_exec)

    def reset(self) -> None:
        """The magic as a fresh `%load_ext` leaves it (the option defaults are set by `shell`)."""
        from junis_jupyter import config as settings
        magic = self.magic
        magic.reset_client()
        magic.session_id = None
        magic.last_result = None
        self.shell.config.pop("JunisMagics", None)     # what an earlier test's %config left behind
        magic.config.pop("JunisMagics", None)          # (the magic keeps its own copy)
        settings.set_login_key(None)
        self.shell.user_ns.pop("_junis", None)
        self.publisher.hook = None


@contextlib.contextmanager
def magic_shell() -> Iterator[MagicShell]:
    """The InteractiveShell singleton with junis_jupyter loaded, unloaded afterwards."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config
    config = Config()
    config.HistoryManager.hist_file = ":memory:"   # In[n] works; nothing written to ~/.ipython
    shell = InteractiveShell.instance(config=config)   # (the config counts if this makes it)
    shell.run_line_magic("load_ext", "junis_jupyter")
    try:
        yield MagicShell(shell)
    finally:
        shell.run_line_magic("unload_ext", "junis_jupyter")


@pytest.fixture(scope="module")
def ipython() -> Iterator[MagicShell]:
    """The InteractiveShell with junis_jupyter loaded for one test module."""
    with magic_shell() as s:
        yield s


@pytest.fixture
def shell(ipython: MagicShell, monkeypatch: pytest.MonkeyPatch) -> Iterator[MagicShell]:
    """`ipython` with the magic reset before and after the test; options a test sets on the magic
    are undone with the test's monkeypatch."""
    ipython.reset()
    magic = ipython.magic
    for name in magic.trait_names(config=True):
        monkeypatch.setattr(magic, name, magic.trait_defaults(name))
    # The suites built on this fixture read a failure's one line from stderr, so failures are
    # printed here; that the same line fails the cell by default is tested on its own
    # (tests/notebook/test_notebook_document.py, test_notebook_kernel.py).
    monkeypatch.setattr(magic, "on_error", "print")
    try:
        yield ipython
    finally:
        ipython.reset()
