"""The client's two layers (docs/client.md, "Inside the client"), checked by reading the source:
the pure modules import nothing of the I/O side, not even for type hints or inside a function,
and touch no httpx client or transport; no module imports another's private name.
(tests/project/test_architecture.py checks the cycles and the floors.)"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import junis_jupyter.client as client_pkg

CLIENT = Path(client_pkg.__file__).parent
IO_SIDE = {"_base", "sync", "aio", "pool", "consume"}
PURE = sorted(p.stem for p in CLIENT.glob("*.py") if p.stem not in IO_SIDE | {"__init__"})
HTTPX_IO = {"Client", "AsyncClient", "BaseTransport", "AsyncBaseTransport", "HTTPTransport",
            "AsyncHTTPTransport", "MockTransport", "WSGITransport", "ASGITransport"}


def tree_of(module: str) -> ast.Module:
    return ast.parse((CLIENT / f"{module}.py").read_text(encoding="utf-8"))


def sibling_imports(tree: ast.Module) -> list[tuple[str, list[str]]]:
    """(client module, names) of every `from .x import ...` / `from . import x`, wherever it is."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [a.name for a in node.names]
            if node.module:
                found.append((node.module.split(".")[0], names))
            else:
                found.extend((name, []) for name in names)
        elif isinstance(node, ast.Import):
            found.extend((a.name.split(".")[2], []) for a in node.names
                         if a.name.startswith("junis_jupyter.client."))
    return found


def test_the_layers_are_as_documented() -> None:
    assert {"_core", "_assembler", "_requests", "_bodies", "_headers", "_failures", "_retry",
            "sse", "textbuffer", "types"} <= set(PURE)


@pytest.mark.parametrize("module", PURE)
def test_a_pure_module_imports_nothing_of_the_io_side(module: str) -> None:
    tree = tree_of(module)
    assert [m for m, _ in sibling_imports(tree) if m in IO_SIDE] == []
    uses = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name) and node.value.id == "httpx"}
    named = {a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             and node.module == "httpx" for a in node.names}
    assert (uses | named) & HTTPX_IO == set()


@pytest.mark.parametrize("module", sorted(p.stem for p in CLIENT.glob("*.py")))
def test_no_module_imports_another_modules_private_name(module: str) -> None:
    private = [(m, name) for m, names in sibling_imports(tree_of(module)) for name in names
               if name.startswith("_") and not name.startswith("__")]
    assert private == []


def test_a_planted_violation_is_seen() -> None:
    planted = ast.parse("if TYPE_CHECKING:\n    from ._base import StreamView\n"
                        "def f():\n    from ._bodies import _hidden\n")
    assert sibling_imports(planted) == [("_base", ["StreamView"]), ("_bodies", ["_hidden"])]
