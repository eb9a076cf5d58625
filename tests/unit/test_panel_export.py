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


def test_keys_are_masked_and_lone_surrogates_replaced_in_every_export(tmp_path: Path) -> None:
    """A session stored before the panel masked questions (or any turn a server hands back) may
    hold a key; text read with surrogateescape holds lone surrogates, which UTF-8 cannot write."""
    from datetime import datetime, timezone

    from junis_jupyter.client.types import Message
    from junis_jupyter.notebook.panel.export import turns_to_frame
    key = "jns_live_" + "Ab3" * 10 + "Zz"
    turns = [("user", f"my key {key} \ud800"), ("assistant", f"you said {key} \udce9", "Bot\ud800")]
    md = turns_to_markdown(turns)
    assert md == ("### You\n\nmy key jns_live_…b3Zz \ufffd\n\n"
                  "### Bot\ufffd\n\nyou said jns_live_…b3Zz \ufffd\n")
    path = tmp_path / "chat.ipynb"
    turns_to_notebook(turns, path)
    text = path.read_text(encoding="utf-8")
    assert key[:-4] not in text and "jns_live_…b3Zz" in text and "\ufffd" in text
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    frame = turns_to_frame([Message("s", i, None, role, body, now, name)
                            for i, (role, body, *rest) in enumerate(turns)
                            for name in [rest[0] if rest else None]])
    assert frame["content"].tolist() == ["my key jns_live_…b3Zz \ufffd", "you said jns_live_…b3Zz \ufffd"]
    assert frame["agent_name"].tolist()[1] == "Bot\ufffd"


def test_a_turn_that_could_make_markup_goes_in_as_one_inert_html_block(tmp_path: Path) -> None:
    """Questions that cannot make markup stay as typed; everything else (every answer, a
    question with `<`, `[`, `$`, a hostile agent name) is the escaped or sanitised HTML on one
    line, so no blank line hands the rest back to the Markdown parser, inside an element
    MathJax skips."""
    path = tmp_path / "chat.ipynb"
    turns_to_notebook([
        ("user", "see <b>this</b>\n\nand [x](javascript:alert(1))"),
        ("assistant", "```html\n<script>\n\nalert(1)\n</script>\n```\n\n[x](javascript:alert(1))", "Bot"),
        ("assistant", "Hi", "<img src=x onerror=alert(1)>"),
    ], path)
    question, answer, code, named = (c.source for c in nbformat.read(path, as_version=4).cells)
    assert question == ('### You\n\n<div class="junis-user tex2jax_ignore"><p>see &lt;b&gt;this'
                        '&lt;/b&gt;<br><br>and [x](javascript:alert(1))</p></div>')
    assert answer.startswith('### Bot\n\n<div class="junis-assistant tex2jax_ignore"><pre>')
    assert "\n" not in answer.split("\n\n", 1)[1] and "&lt;script&gt;&#10;&#10;alert(1)" in answer
    assert 'href' not in answer and "<p>[x](javascript:alert(1))</p>" not in answer
    assert code == "<script>\n\nalert(1)\n</script>"              # code as written, not executed
    assert named == ('<div class="junis-assistant tex2jax_ignore"><h3>&lt;img src=x '
                     'onerror=alert(1)&gt;</h3><p>Hi</p>&#10;</div>')
