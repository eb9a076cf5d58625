"""The agent sees the notebook: errors (`%junis explain`/`fix`, `{Err}`), recent code
(`--context`), and `--dry-run`, in a real InteractiveShell against the emulator.

What was sent is read back from the emulator's session history (GET /sessions/{id}/messages).
"""
from __future__ import annotations

from typing import Any

import pytest

from junis_jupyter.client.sync import JunisClient
from junis_jupyter.notebook.cellerror import CellError

from support.shells import MagicShell


@pytest.fixture
def nb(shell: MagicShell, junis_env: Any, monkeypatch: pytest.MonkeyPatch) -> MagicShell:
    monkeypatch.setattr(shell.magic, "on_error", "raise")
    shell.magic.failures.__init__(shell.shell)   # this test's failures only
    return shell


def sent(nb: MagicShell) -> str:
    """The last user message the emulator received in the current session."""
    with JunisClient() as client:
        messages = client.messages(nb.shell.user_ns["_junis"].session_id)
    return [m.content for m in messages if m.role == "user"][-1]


def fail_a_cell(nb: MagicShell, source: str) -> int:
    cell = nb.run(source)
    assert isinstance(cell.error, ZeroDivisionError)
    return nb.shell.execution_count - 1


def test_explain_sends_the_exception_trimmed_traceback_and_source(nb: MagicShell) -> None:
    fail_a_cell(nb, "def ratio(a, b):\n    return a / b\n\nratio(1, 0)")
    cell = nb.run("%junis explain")
    assert cell.error is None, cell.error
    prompt = sent(nb)
    assert "The cell failed with ZeroDivisionError: division by zero" in prompt
    assert "def ratio(a, b):" in prompt and "ratio(1, 0)" in prompt
    assert "in ratio" in prompt and "return a / b" in prompt        # the user's frames
    assert 'File "<cell>", line 4' in prompt                      # no kernel's temporary file
    assert "interactiveshell.py" not in prompt and "run_code" not in prompt   # not IPython's
    assert nb.shell.user_ns["_junis"].text                          # streamed like any answer


def test_explain_with_a_number_picks_that_cell(nb: MagicShell) -> None:
    first = fail_a_cell(nb, "1 / 0")
    nb.run("[].pop()")
    assert nb.run(f"%junis explain {first}").error is None
    assert "The cell failed with ZeroDivisionError" in sent(nb)


def test_explain_and_fix_with_nothing_to_explain_are_a_note_not_a_failure(
        nb: MagicShell, junis_env: Any) -> None:
    """Once the error is fixed, Run All must not stop at a kept `%junis explain` cell
    (issue 22): nothing to explain is one line, and the cell succeeds without asking."""
    before = junis_env.stats()["requests"]
    for verb in ("explain", "fix"):
        cell = nb.run(f"%junis {verb}")
        assert cell.error is None, cell.error
        assert cell.out.strip() == f"Junis: no cell has failed yet in this kernel: nothing to {verb}."
    assert junis_env.stats()["requests"] == before
    cell = nb.run("%junis explain 99")           # a cell named that did not fail is an error
    assert isinstance(cell.error, CellError) and "did not fail" in cell.error.line


def test_fix_puts_the_answers_code_into_the_next_cell_without_running_it(
        nb: MagicShell, monkeypatch: pytest.MonkeyPatch) -> None:
    fail_a_cell(nb, "total = 1 / 0")
    filled: list[str] = []
    monkeypatch.setattr(nb.shell, "set_next_input", lambda text, replace=False: filled.append(text))
    cell = nb.run("%junis fix")
    assert cell.error is None, cell.error
    assert "corrected cell in one ```python" in sent(nb) and "total = 1 / 0" in sent(nb)
    assert len(filled) == 1 and filled[0].strip()          # the emulator's answer has a code block
    assert "total" not in nb.shell.user_ns or nb.shell.user_ns.get("total") != filled[0]


def test_fix_takes_the_code_block_not_the_backticks_in_the_prose(
        nb: MagicShell, monkeypatch: pytest.MonkeyPatch) -> None:
    # The fix prompt names ```python in its prose; the emulator echoes it ([[echo]], from the
    # failed cell's comment), so the answer's one code block comes after that mention.
    fail_a_cell(nb, "# [[echo]]\ntotal = 1 / 0")
    filled: list[str] = []
    monkeypatch.setattr(nb.shell, "set_next_input", lambda text, replace=False: filled.append(text))
    assert nb.run("%junis fix").error is None
    assert "in one ```python code block" in nb.shell.user_ns["_junis"].text
    assert filled == ["# \ntotal = 1 / 0"]


def test_err_in_a_prompt(nb: MagicShell) -> None:
    number = fail_a_cell(nb, "1 / 0")
    nb.run("%%junis\nWhat went wrong? {Err}")
    assert "failed with ZeroDivisionError" in sent(nb)
    nb.run("[].pop()")
    nb.run(f"%%junis\nAnd here: {{Err[{number}]}}")
    assert "failed with ZeroDivisionError" in sent(nb) and "IndexError" not in sent(nb)


def test_a_key_in_the_source_or_traceback_is_masked(nb: MagicShell, emulator: Any) -> None:
    other = "jns_live_" + "Q" * 32
    cell = nb.run(f"token = '{other}'\nmine = '{emulator.key}'\nraise ValueError(mine + token)")
    assert isinstance(cell.error, ValueError)
    assert nb.run("%junis explain").error is None
    prompt = sent(nb)
    assert other not in prompt and emulator.key not in prompt
    assert "jns_live_…QQQQ" in prompt and "ValueError" in prompt


def test_context_puts_recent_code_cells_before_the_prompt(nb: MagicShell) -> None:
    nb.run("a = 1")
    nb.run("%%junis\nignored magic cell")
    nb.run("b = a + 1")
    nb.run("%%junis --context 2\nWhat do these cells do?")
    prompt = sent(nb)
    assert prompt.startswith("For context, the last 2 code cells I ran in this notebook")
    assert "```python\na = 1\n```" in prompt and "```python\nb = a + 1\n```" in prompt
    assert "ignored magic cell" not in prompt.split("My question:")[0]
    assert prompt.endswith("My question:\nWhat do these cells do?")


def test_dry_run_shows_the_messages_and_sends_nothing(nb: MagicShell, emulator: Any) -> None:
    nb.run("%%junis\nFirst question")
    before = emulator.stats()["requests"]
    cell = nb.run("%%junis --dry-run --system 'Be brief.'\nSecond question")
    assert cell.error is None and emulator.stats()["requests"] == before
    table = cell.events[-1]["data"]["text/plain"]
    assert "Dry run: nothing was sent" in table and "about" in table and "prompt tokens" in table
    assert "Be brief." in table and "Second question" in table and "First question" in table
    assert "held by session" in table
