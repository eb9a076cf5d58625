"""A package's names imported on first use: what keeps `%load_ext` and `import` cheap.

`__getattr__ = lazy_attributes(__name__, {"Name": ".module"}, globals())` in a package's
`__init__`: the module is imported when the name is first read, and the value kept in the
package's namespace, so the second read costs nothing. A name that is the module itself
(`frames`: `junis_jupyter.data.frames`) gives the module.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, names: Mapping[str, str],
                    namespace: dict[str, Any]) -> Callable[[str], Any]:
    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = import_module(names[name], package)
        value = module if module.__name__.rsplit(".", 1)[-1] == name else getattr(module, name)
        namespace[name] = value
        return value
    return __getattr__
