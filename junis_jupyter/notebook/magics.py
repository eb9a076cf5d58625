"""`%%junis` (ask an agent in a cell) and `%junis` (its line commands).

A thin magic over reusable parts, as IPython's `%%capture` is over `capture_output`: the cell's
path is `cell.py` (on the answer pipeline every surface shares), the commands are `cmd/`, the
settings are `options.py`, and what they share for the kernel's life is `state.py`. Here: the
settings as traits (`%config JunisMagics.NAME`), their checks, and the one rule of a notebook
cell, that a failure is one readable line (what happened and what to do, never a traceback and
never the key), so Run All, papermill and nbval stop at it. pandas, ipywidgets and the HTTP
client are not imported here: loading the extension must stay cheap.
"""
from __future__ import annotations

import os
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import TraitError, default, observe, validate

from ..data.cache import CACHE_ENV, CacheMode
from .cellerror import AnswerInterrupted
from .options import Settings
from .state import KernelState

__all__ = ["JunisMagics"]

_CACHE_MODES = tuple(m.value for m in CacheMode)


@magics_class
class JunisMagics(Magics, Settings):
    """Ask Junis agents from cells. Every `%%junis` option has a default settable by `%config`."""

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.state = KernelState(shell, self)

    @default("cache")
    def _cache_from_env(self) -> str:
        value = os.environ.get(CACHE_ENV, "").strip().lower() or "off"
        if value not in _CACHE_MODES:
            raise TraitError(f"{CACHE_ENV}={value!r} is not a cache mode: use one of "
                             f"{', '.join(_CACHE_MODES)}.")
        return value

    @validate("timeout")
    def _check_timeout(self, proposal: Any) -> float:
        if not proposal["value"] > 0:      # also refuses nan
            raise TraitError(f"JunisMagics.timeout must be a positive number of seconds, "
                             f"not {proposal['value']!r}.")
        return float(proposal["value"])

    @observe("max_concurrent")
    def _limit_changed(self, change: Any) -> None:
        from ..client import limiter
        if limiter.current() is not None:
            limiter.set_limit(change["new"])

    @observe("timeout", "max_retries")
    def _settings_changed(self, change: Any) -> None:
        """The client keeps the values it was made with: the next call makes a new one."""
        state = self.__dict__.get("state")      # config given at load is set before the state
        if state is not None:
            state.reset_client()

    # What tests and users have long read off the magic, kept as views of the state.

    @property
    def session_id(self) -> str | None:
        return self.state.chain.session_id

    @session_id.setter
    def session_id(self, value: str | None) -> None:
        self.state.chain.start(value)

    @property
    def last_result(self) -> Any:
        return self.state.last_result

    @last_result.setter
    def last_result(self, value: Any) -> None:
        self.state.last_result = value

    @property
    def chain(self) -> Any:
        return self.state.chain

    @property
    def jobs(self) -> Any:
        return self.state.jobs

    @property
    def failures(self) -> Any:
        return self.state.failures

    @property
    def client(self) -> Any:
        return self.state.client

    def reset_client(self) -> None:
        self.state.reset_client()

    @line_cell_magic
    def junis(self, line: str, cell: str | None = None) -> Any:
        """Ask a Junis agent (`%%junis`), or run a command (`%junis help`)."""
        state = self.state
        try:
            if cell is None:
                from .cmd.router import run
                return run(state, line)
            from .cell import CellPipeline
            CellPipeline(state).run(line, cell)
        except KeyboardInterrupt:
            state.fail("interrupted before an answer arrived." if cell is not None else
                       "interrupted.")
        except AnswerInterrupted:
            state.fail("interrupted: the text that arrived is shown above and kept in _junis.")
        except Exception as exc:  # noqa: BLE001 - a cell shows one line, never a traceback
            from ..advice import Surface, advise
            state.fail(advise(exc, Surface.CELL, base_url=state.base_url()))
        return None
