"""Turns of the conversation asked from a line: `%junis new`, `explain`, `fix`. `explain` and
`fix` go through the cell pipeline, as any `%%junis` cell."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ... import errors
from .parser import Parser

if TYPE_CHECKING:
    from ..failures import Failure
    from ..state import KernelState

__all__ = ["new", "explain", "fix", "EXPLAIN", "FIX"]

EXPLAIN = "A cell in my Jupyter notebook failed. Explain briefly why, and how to fix it.\n\n"
FIX = ("A cell in my Jupyter notebook failed. Reply with the whole corrected cell in one ```python "
       "code block, then one sentence saying what you changed.\n\n")


def new(state: KernelState, args: list[str]) -> None:
    Parser("%junis new", "%junis new").parse(args)
    state.chain.start()
    print("The next %%junis cell starts a new conversation.")


def _failure(state: KernelState, args: list[str], verb: str) -> Failure | None:
    """The failure to ask about; None (and a note, not a failure: a notebook that keeps an
    explain cell must still run all once its error is fixed) when no cell has failed."""
    if len(args) > 1 or (args and not args[0].lstrip("-").isdigit()):
        raise errors.ConfigurationError(f"usage: %junis {verb} [N], N a cell's execution count.")
    number = int(args[0]) if args else None
    found = state.failures.get(number)
    if found is not None:
        return found
    if number is None and not len(state.failures):
        print(f"Junis: no cell has failed yet in this kernel: nothing to {verb}.")
        return None
    raise errors.ConfigurationError(f"cell [{number}] did not fail; `%junis {verb}` alone takes "
                                    "the last cell that did.")


def explain(state: KernelState, args: list[str]) -> None:
    failure = _failure(state, args, "explain")
    if failure is not None:
        from ..cell import CellPipeline
        CellPipeline(state).run("--no-interpolate", EXPLAIN + failure.text())


def fix(state: KernelState, args: list[str]) -> None:
    failure = _failure(state, args, "fix")
    if failure is not None:
        from ..cell import CellPipeline
        CellPipeline(state).run("--no-interpolate --format code", FIX + failure.text())
