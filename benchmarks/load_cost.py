"""What `%load_ext junis_jupyter` costs a kernel: its time, and which heavy packages it drags in.

Each sample is a fresh interpreter with an IPython shell already up (as in a kernel), so only the
extension's own imports are timed. `import openai` in the same situation is the comparison.
"""
from __future__ import annotations

import os
import statistics
import tempfile
from typing import Callable

from ._context import Context, child_json
from ._report import Figure
from ._stats import interleave, ratios

NAME = "load cost"
HEAVY = ("pandas", "ipywidgets", "starlette", "uvicorn", "httpx")

CHILD = """
import json, sys, time
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config
config = Config()
config.HistoryManager.enabled = False
shell = InteractiveShell.instance(config=config)
started = time.perf_counter()
if sys.argv[1] == "junis":
    shell.run_line_magic("load_ext", "junis_jupyter")
else:
    import openai
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "heavy": [m for m in %r if m in sys.modules]}))
""" % (HEAVY,)


def in_child(what: str, heavy: dict[str, set[str]], home: str) -> Callable[[], float]:
    def measure() -> float:
        env = {**os.environ, "IPYTHONDIR": os.path.join(home, "ipython"), "JUNIS_HOME": home}
        found = child_json(["-c", CHILD, what], env, what, timeout=120)
        heavy[what].update(found["heavy"])
        return found["seconds"]
    return measure


def run(ctx: Context) -> list[Figure]:
    heavy: dict[str, set[str]] = {"junis": set(), "openai": set()}
    with tempfile.TemporaryDirectory() as home:
        samples = interleave({what: in_child(what, heavy, home) for what in heavy}, ctx.repeat)
    vs = ratios(samples["junis"], samples["openai"])
    ms = {what: statistics.median(values) * 1e3 for what, values in samples.items()}
    dragged = ", ".join(sorted(heavy["junis"])) or "none"
    return [
        Figure(NAME, "`%load_ext junis_jupyter` time, vs `import openai`",
               f"{ms['junis']:.0f} ms", f"{ms['openai']:.0f} ms (import openai)",
               vs.format(unit="x"), "under 20 ms", ms["junis"] < 20),
        Figure(NAME, f"heavy packages imported ({', '.join(HEAVY)})", dragged, "",
               dragged, "none", not heavy["junis"]),
    ]
