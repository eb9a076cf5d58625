"""Junis as a Jupyter AI v3 persona ("Junis" in JupyterLab's chat sidebar).

Runs in the Jupyter server process, never in a kernel; sits on `data/` and `client/`, beside
`notebook/`, and imports nothing from it. Needs the extra: `pip install
'junis-jupyter[jupyter-ai]'`. Jupyter AI finds `JunisPersona` through the `jupyter_ai.personas`
entry point; importing this package imports nothing of Jupyter AI until the name is read.
"""
from __future__ import annotations

from .._lazy import lazy_attributes

_LAZY = {"JunisPersona": ".persona"}

__all__ = ["JunisPersona"]

__getattr__ = lazy_attributes(__name__, _LAZY, globals())
