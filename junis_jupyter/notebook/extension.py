"""`%load_ext junis_jupyter` and `%unload_ext junis_jupyter`: every hook the extension puts into
IPython and into the process, listed in one place, each with its undoing.

    the magic            IPython's magics registry and its configurables (`%config JunisMagics`)
    pre/post_run_cell    IPython's events: the running cell's id; failures for `%junis explain`
    the usage ledger     the clients' default observers: every call writes a ledger row
    the request cap      the process-wide limiter (`JunisMagics.max_concurrent`)
    batches' cache       `ask_many` and `df.junis.ask` take the cells' cache mode and file
    batches' place       their rows are logged and counted against the notebook and cell
    background batches   `ask_many(..., background=True)` jobs join `%junis jobs`
    df.junis             the DataFrame accessor, registered when pandas is imported (an import
                         hook on `sys.meta_path`, after_import.py), or at once if it already is
    `%junis wait`        an input transformer that makes the line an awaited wait

Loading twice, or loading after an unload, leaves one of each. Unloading takes the import hook
out; an accessor already registered stays, as a module once imported does.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..data import ledger
from .magics import JunisMagics

__all__ = ["load", "unload", "current", "Hook", "hooks"]


@dataclass(frozen=True)
class Hook:
    name: str
    install: Callable[[], None]
    remove: Callable[[], None]


_loaded: tuple[JunisMagics, list[Hook]] | None = None


def current() -> JunisMagics | None:
    """The loaded magic, if the extension is loaded."""
    return _loaded[0] if _loaded is not None else None


def hooks(ipython: Any, magic: JunisMagics) -> list[Hook]:
    """What loading `magic` into `ipython` installs, in order."""
    from ..client import limiter
    from ..data import background, cache, place
    from .after_import import AfterImport
    state = magic.state
    accessor = AfterImport("pandas", _register_accessor)
    events = ipython.events
    transformers = ipython.input_transformers_post

    def register_magic() -> None:
        ipython.register_magics(magic)

    def remove_magic() -> None:
        for kind in ("line", "cell"):
            if ipython.magics_manager.magics[kind].get("junis") is not None:
                ipython.magics_manager.magics[kind].pop("junis")
        ipython.magics_manager.registry.pop("JunisMagics", None)
        if magic in ipython.configurables:
            ipython.configurables.remove(magic)
        state.close()

    def adopt(job: Any) -> None:
        state.jobs.adopt(job)

    return [
        Hook("the magic", register_magic, remove_magic),
        Hook("pre_run_cell", lambda: events.register("pre_run_cell", state.pre_run_cell),
             lambda: _drop(events.callbacks["pre_run_cell"], state.pre_run_cell)),
        Hook("post_run_cell", lambda: events.register("post_run_cell", state.post_run_cell),
             lambda: _drop(events.callbacks["post_run_cell"], state.post_run_cell)),
        Hook("the usage ledger", ledger.install, ledger.uninstall),
        Hook("the request cap", lambda: _cap(state.options().max_concurrent), limiter.uninstall),
        Hook("batches' cache", lambda: cache.BATCH_DEFAULTS.append(state.batch_cache),
             lambda: _drop(cache.BATCH_DEFAULTS, state.batch_cache)),
        Hook("batches' place", lambda: place.PLACES.append(state.place),
             lambda: _drop(place.PLACES, state.place)),
        Hook("background batches", lambda: background.ADOPTERS.append(adopt),
             lambda: _drop(background.ADOPTERS, adopt)),
        Hook("%junis wait", lambda: transformers.append(await_wait),
             lambda: _drop(transformers, await_wait)),
        Hook("df.junis", accessor.install, accessor.remove),
    ]


def _register_accessor() -> None:
    import importlib
    importlib.import_module("junis_jupyter.data.accessor")      # registers df.junis


def _cap(limit: int) -> None:
    from ..client import limiter
    limiter.install(limit)


def await_wait(lines: list[str]) -> list[str]:
    """The `%junis wait` input transformer (cmd/jobs.py), imported only for a cell that has the
    line: every cell passes through it."""
    if not any("run_line_magic('junis', 'wait" in line for line in lines):
        return lines
    from .cmd.jobs import await_wait as rewrite
    return rewrite(lines)


def _drop(registry: list[Any], hook: Any) -> None:
    while hook in registry:
        registry.remove(hook)


def load(ipython: Any) -> None:
    """Register the magic (one per process: loading again replaces the first) and its hooks."""
    global _loaded
    unload(ipython)
    magic = JunisMagics(shell=ipython)
    installed = hooks(ipython, magic)
    for hook in installed:
        hook.install()
    _loaded = (magic, installed)


def unload(ipython: Any) -> None:
    """Undo every hook `load` installed, last first."""
    global _loaded
    if _loaded is None:
        return
    _, installed = _loaded
    _loaded = None
    for hook in reversed(installed):
        hook.remove()
