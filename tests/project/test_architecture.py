"""The four floors of docs/architecture.md, checked: no import cycle, no import up a floor.

Every module of `junis_jupyter` is parsed with `ast` (nothing is imported). Each import is kept
with its module, line and target, and with where it sits:

- ``module``: runs when the module is imported (top level, and inside top-level ``try``/``if``
  and class bodies);
- ``typing``: inside ``if TYPE_CHECKING:``; never runs, but a type checker follows it, so it is a
  dependency of the design all the same;
- ``lazy``: inside a function (or a package's ``_LAZY`` table of names that ``__getattr__`` hands
  to ``importlib.import_module``); runs at call time.

Floors (what may not be imported by what) and cycles are checked on every import, lazy ones
included: a lazy import up a floor is still a floor knowing about the one above it, and two
modules that each import the other, even inside a function, are one unit split in two files.
The one exception is a package's ``_LAZY`` table of public names: a re-export that runs when a
user reads the name, never when a module of the package is imported.

Two more rules are read off the same trees: no module reaches another module's private names
(``from x import _y``, or ``something._y`` where ``_y`` is defined neither in the module itself
nor in one of its floor's own private modules, such as ``client/_core.py``), and no class is
longer than 300 lines.

Importing ``a.b.c`` also runs the ``__init__`` of ``a`` and ``a.b``; those implicit edges are
not drawn (every submodule of a package would otherwise be in a cycle with its own ``__init__``).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

PACKAGE = "junis_jupyter"
PACKAGE_DIR = Path(__file__).resolve().parents[2] / PACKAGE

# --- reading the imports --------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    module: str          # the importing module, dotted
    line: int
    target: str          # the imported module, dotted (a name imported from a module -> that module)
    kind: str            # "module" | "typing" | "lazy" | "export" (a package's _LAZY table)

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target} ({self.kind})"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def discover(root: Path = PACKAGE_DIR) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is_package) for every .py file under the package."""
    return {module_name(p, root): (p, p.name == "__init__.py") for p in sorted(root.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute module that `from <level dots><name> import ...` in `module` names."""
    if level == 0:
        return name or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _ours(target: str) -> bool:
    return target == PACKAGE or target.startswith(PACKAGE + ".")


def imports_of(module: str, source: str, is_package: bool, modules: Iterable[str]) -> list[Import]:
    """Every import of the package that `source` (the text of `module`) makes. A name imported
    from a module stands for that module; a target that is no module of `modules` is kept as
    written (test_every_import_names_a_module reports it)."""
    modules = set(modules)
    tree = ast.parse(source)
    found: list[Import] = []

    def add(line: int, target: str, kind: str) -> None:
        imp = Import(module, line, target, kind)
        if _ours(target) and imp not in found:       # `from x import a, b`: one import of x
            found.append(imp)

    def visit(node: ast.AST, kind: str) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(node.lineno, alias.name, kind)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                add(node.lineno, sub if sub in modules else base, kind)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for child in ast.iter_child_nodes(node):
                visit(child, "lazy")
            return
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, "lazy" if kind == "lazy" else "typing")
            for child in node.orelse:
                visit(child, kind)
            return
        elif (isinstance(node, ast.Assign) and kind == "module"
              and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets)
              and isinstance(node.value, ast.Dict)):
            # name -> module for importlib.import_module in the package's __getattr__
            for value in node.value.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    text = value.value
                    level = len(text) - len(text.lstrip("."))
                    add(value.lineno, _resolve(module, is_package, level, text[level:] or None),
                        "export")
        for child in ast.iter_child_nodes(node):
            visit(child, kind)

    visit(tree, "module")
    return found


def package_imports(root: Path = PACKAGE_DIR) -> list[Import]:
    modules = discover(root)
    found: list[Import] = []
    for name, (path, is_package) in modules.items():
        found += imports_of(name, path.read_text(encoding="utf-8"), is_package, modules)
    return found


# --- the rules -------------------------------------------------------------------------------------

BASE = {f"{PACKAGE}.errors", f"{PACKAGE}.config", f"{PACKAGE}.advice", f"{PACKAGE}._lazy",
        f"{PACKAGE}._version"}
ENTRY = {f"{PACKAGE}.cli", f"{PACKAGE}.demo"}


def floor(module: str) -> str:
    """root (the package's __init__), base (errors/config/advice/_lazy/_version), client, data,
    notebook, jupyter_ai, emulator, entry (cli, demo)."""
    if module == PACKAGE:
        return "root"
    if module in BASE:
        return "base"
    if module in ENTRY:
        return "entry"
    return module.split(".")[1]


# floor -> the floors it may not import from, and why (the message says it)
FORBIDDEN: dict[str, dict[str, str]] = {
    "base": dict.fromkeys(("client", "data", "notebook", "jupyter_ai", "emulator", "entry"),
                          "errors, config, advice, _lazy and _version sit under every floor"),
    "client": {"data": "the client knows nothing of DataFrames or batches",
               "notebook": "the client knows nothing of IPython or widgets",
               "jupyter_ai": "the client knows nothing of Jupyter AI",
               "emulator": "the client reaches the emulator over a socket, like any server",
               "entry": "entry points sit on top"},
    "data": {"notebook": "data knows nothing of IPython magics or widgets",
             "jupyter_ai": "data knows nothing of Jupyter AI",
             "emulator": "data reaches the emulator over a socket, like any server",
             "entry": "entry points sit on top"},
    "notebook": {"emulator": "the notebook reaches the emulator over a socket, like any server",
                 "jupyter_ai": "the kernel's floor and the server's floor stand side by side",
                 "entry": "entry points sit on top"},
    "jupyter_ai": {"notebook": "the persona runs in the Jupyter server, never in a kernel: it "
                               "shares data/ and client/ with the notebook floor, not its modules",
                   "emulator": "the persona reaches the emulator over a socket, like any server",
                   "entry": "entry points sit on top"},
    "emulator": {"client": "the emulator is an independent implementation of the contract",
                 "data": "the emulator is independent of the product",
                 "notebook": "the emulator is independent of the product",
                 "jupyter_ai": "the emulator is independent of the product",
                 "entry": "entry points sit on top"},
}


def unresolved(imports: Iterable[Import], modules: Iterable[str]) -> list[str]:
    known = set(modules)
    return [f"{imp}: there is no module {imp.target}" for imp in imports if imp.target not in known]


def upward(imports: Iterable[Import]) -> list[str]:
    problems = []
    for imp in imports:
        src, dst = floor(imp.module), floor(imp.target)
        why = FORBIDDEN.get(src, {}).get(dst)
        if why is not None:
            problems.append(f"{imp}: {src} may not import from {dst} ({why})")
        # the package's __init__ is imported before any of its submodules: what it imports at
        # module level is imported by everyone, so its public names stay lazy
        if src == "root" and imp.kind == "module" and dst != "base":
            problems.append(f"{imp}: the package's __init__ imports {dst} eagerly "
                            "(its public names are lazy, through _LAZY)")
    return problems


def cycles(imports: Iterable[Import]) -> list[str]:
    """One message per import cycle among module-level, TYPE_CHECKING and function-local imports
    (Tarjan's strongly connected components); each names every import on a shortest way
    round. A package's _LAZY re-exports are left out (see the module's docstring)."""
    edges: dict[str, dict[str, Import]] = {}
    for imp in imports:
        if imp.kind != "export":
            edges.setdefault(imp.module, {}).setdefault(imp.target, imp)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, {}):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, {}):
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)

    problems = []
    for component in components:
        members = set(component)
        start = component[0]
        path = _way_round(start, edges, members)
        steps = "; ".join(str(edges[a][b]) for a, b in zip(path, path[1:]))
        problems.append(f"import cycle among {', '.join(component)}: {steps}")
    return problems


def _way_round(start: str, edges: Mapping[str, Mapping[str, Import]], members: set[str]) -> list[str]:
    """A shortest path start -> ... -> start inside one component (breadth first)."""
    came: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(edges.get(node, {})):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came[path[-1]])
                    return [start] + path[::-1][1:] + [start] if node != start else [start, start]
                if nxt in members and nxt not in came:
                    came[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{start} is in a component with no way round")


# --- the package -----------------------------------------------------------------------------------


def test_the_walk_sees_the_whole_package() -> None:
    """Not vacuous: every module is read and every kind of import is seen."""
    modules = discover()
    assert {f"{PACKAGE}.client.sync", f"{PACKAGE}.data.frames", f"{PACKAGE}.notebook.magics",
            f"{PACKAGE}.emulator.app", f"{PACKAGE}.advice"} <= set(modules)
    imports = package_imports()
    kinds = {imp.kind for imp in imports}
    assert kinds == {"module", "typing", "lazy", "export"}, kinds
    assert any(imp.module == f"{PACKAGE}.notebook.magics" and imp.target.startswith(
        f"{PACKAGE}.client") for imp in imports)            # a function-local import, resolved
    assert len({imp.module for imp in imports}) >= len(modules) // 2


def test_every_import_names_a_module() -> None:
    """An import of a module that is not there (a file moved without its importers) would
    otherwise hide from the floor and cycle checks."""
    problems = unresolved(package_imports(), discover())
    assert not problems, "imports of modules that do not exist:\n" + "\n".join(problems)


def test_no_module_imports_up_a_floor() -> None:
    problems = upward(package_imports())
    assert not problems, "imports up a floor (docs/architecture.md):\n" + "\n".join(problems)


def test_no_import_cycles() -> None:
    problems = cycles(package_imports())
    assert not problems, "import cycles (docs/architecture.md):\n" + "\n".join(problems)


def third_party(module: str, source: str) -> list[tuple[int, str]]:
    """(line, top-level name) of every import of a distribution that is neither the standard
    library nor this package, wherever it sits."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top != PACKAGE and top not in sys.stdlib_module_names and top != "__future__":
                out.append((node.lineno, top))
    return sorted(out)


CLIENT_MAY_USE = {"httpx"}


def test_the_client_uses_nothing_third_party_but_httpx() -> None:
    """The client knows nothing of IPython, widgets or pandas (so a script pays for none)."""
    problems = [f"{name}:{line} imports {top}"
                for name, (path, _) in discover().items() if floor(name) == "client"
                for line, top in third_party(name, path.read_text(encoding="utf-8"))
                if top not in CLIENT_MAY_USE]
    assert not problems, "\n".join(problems)
    assert third_party("m", "import pandas as pd\ndef f():\n    from IPython import display\n"
                            "import os, httpx\n") == [(1, "pandas"), (3, "IPython"), (4, "httpx")]


# --- the checker catches what it is there to catch --------------------------------------------------


def _graph(sources: dict[str, str]) -> list[Import]:
    """Imports of a synthetic package: dotted name -> source (a name ending in '/' is a package)."""
    modules = {name.rstrip("/"): name.endswith("/") for name in sources}
    found: list[Import] = []
    for name, source in sources.items():
        found += imports_of(name.rstrip("/"), source, name.endswith("/"), modules)
    return found


def test_the_checker_catches_a_planted_upward_import() -> None:
    imports = _graph({
        f"{PACKAGE}/": "",
        f"{PACKAGE}.errors": "",
        f"{PACKAGE}.client/": "",
        f"{PACKAGE}.client.sync": "from ..errors import JunisError\n"
                                  "def f():\n    from ..notebook.render import x\n",
        f"{PACKAGE}.notebook/": "",
        f"{PACKAGE}.notebook.render": "from ..client.sync import JunisClient\n",
        f"{PACKAGE}.emulator/": "",
        f"{PACKAGE}.emulator.app": "from typing import TYPE_CHECKING\n"
                                   "if TYPE_CHECKING:\n    from junis_jupyter.client import sync\n",
        f"{PACKAGE}.config": "from . import errors\nfrom .data import frames\n",
        f"{PACKAGE}.data/": "",
        f"{PACKAGE}.data.frames": "",
    })
    problems = upward(imports)
    assert len(problems) == 3, problems
    assert any(p.startswith(f"{PACKAGE}.client.sync:3 imports {PACKAGE}.notebook.render (lazy)")
               for p in problems), problems
    assert any(p.startswith(f"{PACKAGE}.emulator.app:3 imports {PACKAGE}.client.sync (typing)")
               for p in problems), problems
    assert any(p.startswith(f"{PACKAGE}.config:2 imports {PACKAGE}.data.frames") for p in problems)


def test_the_checker_catches_planted_cycles_lazy_ones_too() -> None:
    imports = _graph({
        f"{PACKAGE}/": '_LAZY = {"Core": ".client._core"}\n',      # a re-export: no cycle
        f"{PACKAGE}.client/": "from ._core import Core\n",
        f"{PACKAGE}.client._core": "from ._stream import Assembler\nfrom .. import x\n",
        f"{PACKAGE}.client._stream": "from typing import TYPE_CHECKING\n"
                                     "if TYPE_CHECKING:\n    from ._core import Core\n",
        f"{PACKAGE}.client.sync": "from . import _core\n",
        f"{PACKAGE}.client.aio": "from .types import T\n",            # aio -> types -> aio, the
        f"{PACKAGE}.client.types": "def f():\n    from .aio import y\n",   # way back lazy
    })
    problems = cycles(imports)
    assert problems == [
        f"import cycle among {PACKAGE}.client._core, {PACKAGE}.client._stream: "
        f"{PACKAGE}.client._core:1 imports {PACKAGE}.client._stream (module); "
        f"{PACKAGE}.client._stream:3 imports {PACKAGE}.client._core (typing)",
        f"import cycle among {PACKAGE}.client.aio, {PACKAGE}.client.types: "
        f"{PACKAGE}.client.aio:1 imports {PACKAGE}.client.types (module); "
        f"{PACKAGE}.client.types:2 imports {PACKAGE}.client.aio (lazy)"], problems
    assert cycles(_graph({f"{PACKAGE}.a": f"import {PACKAGE}.a\n"}))      # a module importing itself


def test_relative_imports_resolve_to_modules_and_packages() -> None:
    modules = {f"{PACKAGE}", f"{PACKAGE}.config", f"{PACKAGE}.errors", f"{PACKAGE}.data",
               f"{PACKAGE}.data.batch", f"{PACKAGE}.data.ledger"}
    source = ("from .. import __version__\nfrom .. import config, errors\nfrom . import batch\n"
              "from .ledger import Ledger\nimport os\nfrom httpx import Client\n")
    got = [(i.line, i.target) for i in imports_of(f"{PACKAGE}.data.frames", source, False, modules)]
    assert got == [(1, PACKAGE), (2, f"{PACKAGE}.config"), (2, f"{PACKAGE}.errors"),
                   (3, f"{PACKAGE}.data.batch"), (4, f"{PACKAGE}.data.ledger")]
    lazy = imports_of(f"{PACKAGE}.data", '_LAZY = {"Ledger": ".ledger", "X": ".gone"}\n', True,
                      modules)
    assert [(i.target, i.kind) for i in lazy] == [(f"{PACKAGE}.data.ledger", "export"),
                                                  (f"{PACKAGE}.data.gone", "export")]
    assert unresolved(lazy, modules) == [
        f"{PACKAGE}.data:1 imports {PACKAGE}.data.gone (export): there is no module "
        f"{PACKAGE}.data.gone"]


# --- private names and class sizes ---------------------------------------------------------------


def _defined(tree: ast.AST) -> set[str]:
    """Every name a module defines: functions, classes, assigned names and attributes, slots."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets):
            names |= {c.value for c in ast.walk(node.value)
                      if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return names


def _private(name: str) -> bool:
    """`_x`, not `__x__` (Python's own) nor `_x_` (IPython's protocol, `_repr_html_`)."""
    return name.startswith("_") and not name.startswith("__") and not name.endswith("_")


def private_reaches(sources: Mapping[str, tuple[str, bool]]) -> list[str]:
    """Each place a module of `sources` (dotted name -> (source, is_package)) reaches a private
    name of another: `from x import _y`, or `obj._y` where `_y` is defined neither in the module
    nor in a private module of its own floor (`client/_base.py` for `client/sync.py`)."""
    trees = {name: ast.parse(source) for name, (source, _) in sources.items()}
    defined = {name: _defined(tree) for name, tree in trees.items()}
    problems = []
    for name, tree in trees.items():
        folder = name if sources[name][1] else name.rsplit(".", 1)[0]
        shared = set().union(*[defined[m] for m in defined
                               if m.rsplit(".", 1)[0] == folder and m.rsplit(".", 1)[-1][:1] == "_"
                               and m.rsplit(".", 1)[-1] != "__init__"])
        mine = defined[name] | shared
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or _ours(node.module or "")):
                for alias in node.names:
                    base = _resolve(name, sources[name][1], node.level, node.module)
                    if _private(alias.name) and f"{base}.{alias.name}" not in sources:
                        problems.append(f"{name}:{node.lineno} imports the private name "
                                        f"{alias.name} of {base}")
            elif isinstance(node, ast.Attribute) and _private(node.attr) and \
                    node.attr not in mine and not (isinstance(node.value, ast.Name) and
                                                   node.value.id in ("self", "cls")):
                problems.append(f"{name}:{node.lineno} reaches {ast.unparse(node)}, a private "
                                "name of another module")
    return problems


def _package_sources() -> dict[str, tuple[str, bool]]:
    return {name: (path.read_text(encoding="utf-8"), is_package)
            for name, (path, is_package) in discover().items()}


def test_no_module_reaches_another_modules_private_names() -> None:
    problems = private_reaches(_package_sources())
    assert not problems, "private names reached from another module:\n" + "\n".join(problems)


def test_the_checker_catches_a_planted_private_reach() -> None:
    problems = private_reaches({
        f"{PACKAGE}.notebook.jobs": ("from .magics import _instance\n"
                                     "def f(m):\n    return m._settle(1), m._own\n", False),
        f"{PACKAGE}.notebook.magics": ("_instance = None\nclass M:\n    def _settle(self): "
                                       "pass\n", False),
        f"{PACKAGE}.notebook._shared": ("class S:\n    _own = 1\n", False),
        f"{PACKAGE}.client.sync": ("from . import _core\ndef f(c):\n    return c._core\n",
                                   False),
        f"{PACKAGE}.client._core": ("class C:\n    def __init__(self):\n        "
                                    "self._core = 1\n", False),
    })
    assert problems == [
        f"{PACKAGE}.notebook.jobs:1 imports the private name _instance of {PACKAGE}.notebook.magics",
        f"{PACKAGE}.notebook.jobs:3 reaches m._settle, a private name of another module"], problems


MAX_CLASS_LINES = 300


def long_classes(sources: Mapping[str, tuple[str, bool]]) -> list[str]:
    return [f"{name}:{node.lineno} class {node.name} is {node.end_lineno - node.lineno + 1} "
            f"lines (at most {MAX_CLASS_LINES})"
            for name, (source, _) in sources.items() for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None
            and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES]


def test_no_class_is_over_300_lines() -> None:
    problems = long_classes(_package_sources())
    assert not problems, "\n".join(problems)
    planted = "class Big:\n" + "    x = 1\n" * MAX_CLASS_LINES
    assert long_classes({"m": (planted, False)}) == [
        f"m:1 class Big is {MAX_CLASS_LINES + 1} lines (at most {MAX_CLASS_LINES})"]


# --- loading the extension stays light ----------------------------------------------------------------


def test_loading_the_extension_imports_nothing_heavy() -> None:
    """`%load_ext junis_jupyter` in a fresh interpreter imports none of pandas, ipywidgets,
    starlette, uvicorn or httpx (the client is imported at the first call; the lazy imports
    above are what keeps it so)."""
    code = ("import sys\nfrom IPython.core.interactiveshell import InteractiveShell\n"
            "InteractiveShell.instance().run_line_magic('load_ext', 'junis_jupyter')\n"
            "print(sorted(m for m in ('pandas', 'ipywidgets', 'starlette', 'uvicorn', 'httpx') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
