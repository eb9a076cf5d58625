"""notebook/failures.py: a failed cell run without storing history (as nbval runs every cell) is
remembered under IPython 8 as under IPython 9, so `%junis explain` and `fix` find it.

IPython 8 is what Python 3.10 gets (`make test-pythons` runs this there); it leaves such a
cell's `execution_count` None, where IPython 9 gives the shell's count."""
from __future__ import annotations

from support.shells import MagicShell


def test_a_failure_run_without_history_is_remembered(shell: MagicShell) -> None:
    failures = shell.magic.failures
    failures.__init__(shell.shell)                     # this test's failures only
    count = shell.shell.execution_count
    result = shell.shell.run_cell("def ratio(a, b):\n    return a / b\n\nratio(1, 0)",
                                  store_history=False)
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    assert shell.shell.execution_count == count        # not advanced: history was not stored
    found = failures.get()
    assert found is not None and found.execution_count == count
    assert found.type == "ZeroDivisionError" and "ratio(1, 0)" in found.source
    assert failures.get(count) is found


def test_a_stored_cell_keeps_its_own_count(shell: MagicShell) -> None:
    failures = shell.magic.failures
    failures.__init__(shell.shell)
    count = shell.shell.execution_count
    shell.run("[].pop()")
    assert failures.get(count).type == "IndexError"
    assert shell.shell.execution_count == count + 1
