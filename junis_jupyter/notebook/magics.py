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

import math
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import TraitError, default, observe, validate

from ..data.cache import env_mode
from ..errors import ConfigurationError
from .cellerror import AnswerInterrupted
from .options import Settings
from .state import KernelState

__all__ = ["JunisMagics"]

_WEEK = 7 * 24 * 3600       # the client's longest timeout


@magics_class
class JunisMagics(Magics, Settings):
    """Ask Junis agents from cells. Every `%%junis` option has a default settable by `%config`."""

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.state = KernelState(shell, self)

    @default("cache")
    def _cache_from_env(self) -> str:
        try:
            return env_mode().value
        except ConfigurationError as exc:
            raise TraitError(str(exc)) from None

    @validate("timeout", "update_hz")
    def _check_positive(self, proposal: Any) -> float:
        """Above 0 and finite (nan, inf and 1e300 once made every call fail much later with
        `OverflowError: timestamp out of range`); a timeout at most a week, as the client's."""
        name, value = proposal["trait"].name, proposal["value"]
        most = _WEEK if name == "timeout" else math.inf
        if not (math.isfinite(value) and 0 < value <= most):
            bound = " and at most 604,800 (a week)" if name == "timeout" else ""
            raise TraitError(f"JunisMagics.{name} must be a number above 0{bound}, "
                             f"not {value!r}.")
        return float(value)

    @validate("cache_path")
    def _check_cache_path(self, proposal: Any) -> str | None:
        """A path the file system can hold, refused where it is set: a NUL in it once let a
        cell pay for its answer and then fail with "embedded null byte"."""
        value = proposal["value"]
        if value is not None and "\x00" in value:
            raise TraitError("JunisMagics.cache_path has a NUL character, which no file name "
                             "can hold: give another path.")
        return value

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
