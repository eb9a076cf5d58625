"""No class of the package over 300 lines (issue 20): a class that grows past it has taken on a
second job (ChatPanel had, at 493 lines: it drew the transcript, made its buttons one by one and
streamed its own answers). Parsed with `ast`, nothing imported."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "junis_jupyter"
MOST = 300


def class_sizes() -> dict[str, int]:
    """Lines of every class (nested ones too), by `path:Name`, from `class` to its last line."""
    sizes = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                sizes[f"{path.relative_to(PACKAGE_DIR)}:{node.name}"] = node.end_lineno - first + 1
    return sizes


def test_no_class_is_over_300_lines() -> None:
    sizes = class_sizes()
    assert "notebook/panel/widget.py:ChatPanel" in sizes            # the walk sees the package
    assert {name: n for name, n in sizes.items() if n > MOST} == {}
