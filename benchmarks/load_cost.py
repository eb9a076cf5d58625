"""What `%load_ext junis_jupyter` costs a kernel: its time, and which heavy packages it drags in.

Each sample is a fresh interpreter with an IPython shell already up (as in a kernel), so only the
extension's own imports are timed. The figure is a ratio, not a bare number (a bare number moves
with the machine): `import IPython` in a fresh interpreter, timed in the same rounds, is the
yardstick; `import openai` with a shell up is shown beside it.
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
# `%load_ext` over `import IPython` at 5c795d4, the tree before the answer pipeline (issue 20),
# measured side by side with this tree on the same machine, 15 interleaved rounds, three runs:
# 0.56-0.57x (29.1 ms / 52.1 ms in the last; this tree then 26.7 ms, 0.51x). The target is to be
# no slower than that.
BEFORE = 0.57
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

IPYTHON = """
import json, time
started = time.perf_counter()
import IPython
print(json.dumps({"seconds": time.perf_counter() - started, "heavy": []}))
"""


def in_child(what: str, heavy: dict[str, set[str]], home: str) -> Callable[[], float]:
    def measure() -> float:
        env = {**os.environ, "IPYTHONDIR": os.path.join(home, "ipython"), "JUNIS_HOME": home}
        code = IPYTHON if what == "ipython" else CHILD
        found = child_json(["-c", code, what], env, what, timeout=120)
        heavy[what].update(found["heavy"])
        return found["seconds"]
    return measure


def run(ctx: Context) -> list[Figure]:
    heavy: dict[str, set[str]] = {"junis": set(), "ipython": set(), "openai": set()}
    with tempfile.TemporaryDirectory() as home:
        samples = interleave({what: in_child(what, heavy, home) for what in heavy}, ctx.repeat)
    vs_ipython = ratios(samples["junis"], samples["ipython"])
    vs_openai = ratios(samples["junis"], samples["openai"])
    ms = {what: statistics.median(values) * 1e3 for what, values in samples.items()}
    dragged = ", ".join(sorted(heavy["junis"])) or "none"
    return [
        Figure(NAME, "`%load_ext junis_jupyter` time, vs `import IPython` in a fresh interpreter",
               f"{ms['junis']:.0f} ms", f"{ms['ipython']:.0f} ms (import IPython)",
               vs_ipython.format(unit="x"), f"<= {BEFORE}x (before the answer pipeline)",
               vs_ipython.median <= BEFORE),
        Figure(NAME, "`%load_ext junis_jupyter` time, vs `import openai`, for comparison",
               f"{ms['junis']:.0f} ms", f"{ms['openai']:.0f} ms (import openai)",
               vs_openai.format(unit="x"), "", None),
        Figure(NAME, f"heavy packages imported ({', '.join(HEAVY)})", dragged, "",
               dragged, "none", not heavy["junis"]),
    ]
