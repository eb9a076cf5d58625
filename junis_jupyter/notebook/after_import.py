"""Run something once a module has been imported, without importing it: how `%load_ext` gives
every DataFrame its `df.junis` whether pandas is imported before or after, and still imports no
pandas itself.

`AfterImport` is a finder put first on `sys.meta_path`. When the module is imported, it finds
the module's spec through the finders after it, and wraps the loader so that, once the module has
run, the module's loader is given back and `then()` is called. A module already imported gets
`then()` at once. A failure in `then()` is a warning: it never fails the user's import.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

__all__ = ["AfterImport"]


class _Loader(importlib.abc.Loader):
    """The module's own loader, and `then()` after its module has run."""

    def __init__(self, loader: Any, finder: AfterImport) -> None:
        self._loader = loader
        self._finder = finder

    def __getattr__(self, name: str) -> Any:         # get_data, get_resource_reader, ...
        return getattr(self._loader, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        spec = module.__spec__
        if spec is not None:
            spec.loader = self._loader
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        self._finder.run()


class AfterImport(importlib.abc.MetaPathFinder):
    """`then()`, once, after `module` is imported (`install`), or at once if it already is."""

    def __init__(self, module: str, then: Callable[[], None]) -> None:
        self.module = module
        self.then = then
        self.done = False

    def install(self) -> None:
        if self.module in sys.modules:
            self.run()
        elif self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def remove(self) -> None:
        while self in sys.meta_path:
            sys.meta_path.remove(self)

    def run(self) -> None:
        self.remove()
        if self.done:
            return
        self.done = True
        try:
            self.then()
        except Exception as exc:    # noqa: BLE001 - never the user's import's failure
            warnings.warn(f"junis_jupyter: after importing {self.module}: "
                          f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.module or self not in sys.meta_path:
            return None
        after = sys.meta_path[sys.meta_path.index(self) + 1:]
        for finder in after:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader, self)
                return spec
        return None
