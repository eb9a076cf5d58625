"""Keeping a conversation: (role, text) turns as Markdown and as a notebook, the one function
both the panel (`to_markdown`, `to_notebook`) and `%junis history --markdown` use."""
from __future__ import annotations

from pathlib import Path

import nbformat

from junis_jupyter.notebook.panel.export import speaker, turns_to_markdown, turns_to_notebook

TURNS = [
    ("user", "How do I sum a column?"),
    ("assistant", "Use pandas:\n\n```python\ndf['x'].sum()\n```\n\nOr SQL:\n\n```sql\nSELECT SUM(x) FROM t;\n```\n", "Research"),
    ("user", "Thanks"),
    ("assistant", "You are welcome."),
]


def test_markdown_has_a_heading_per_turn_and_the_text_as_written() -> None:
    md = turns_to_markdown(TURNS)
    assert md.startswith("### You\n\nHow do I sum a column?\n")
    assert "### Research\n\nUse pandas:\n\n```python\ndf['x'].sum()\n```" in md
    assert md.count("### ") == 4 and md.rstrip().endswith("### Assistant\n\nYou are welcome.")
    assert turns_to_markdown([]) == ""


def test_speakers() -> None:
    assert speaker("user") == "You" and speaker("assistant") == "Assistant"
    assert speaker("assistant", "Writer") == "Writer" and speaker("system") == "System"


def test_notebook_has_a_markdown_cell_per_turn_and_code_cells_under_answers(tmp_path: Path) -> None:
    path = tmp_path / "chat.ipynb"
    turns_to_notebook(TURNS, path)
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds == ["markdown", "markdown", "code", "code", "markdown", "markdown"]
    assert nb.cells[0].source == "### You\n\nHow do I sum a column?"
    assert nb.cells[2].source == "df['x'].sum()" and nb.cells[2].metadata["junis"]["language"] == "python"
    assert nb.cells[3].source == "SELECT SUM(x) FROM t;"
    for cell in nb.cells:
        if cell.cell_type == "code":                 # not executed
            assert cell.execution_count is None and cell.outputs == []
    # A code block in a question stays in its Markdown cell.
    turns_to_notebook([("user", "```python\nx\n```")], path)
    assert [c.cell_type for c in nbformat.read(path, as_version=4).cells] == ["markdown"]
