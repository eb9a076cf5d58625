"""`%%junis` beside jupyter-ai's `%%ai` (jupyter-ai-magics 2.x), both against the emulator.

The contender lives in its own environment (`.venv-jupyter-ai`, which `make bench` creates when
missing; `JUPYTER_AI_PYTHON` names another interpreter) and is driven through its
`openai-chat-custom` provider, pointed at the emulator's OpenAI-compatible `/v1` by
`OPENAI_API_BASE` and `OPENAI_API_KEY` (the key travels in the environment, never on a command
line). When that environment is missing, the rows say "not installed": the contender is optional.

Each sample is a fresh child process (the contender's interpreter, or this one for `%%junis`)
with an IPython shell up as in a kernel, whose display publisher and display hook only note when
something visible arrives. One child measures, in order:

- `%load_ext` time (`jupyter_ai_magics` / `junis_jupyter`);
- after one warm-up cell, the CPU (`time.process_time`, the whole process) of one cell whose
  answer is 20,000 characters (`[[size=20000]]`, no token delay);
- for a slow answer (`[[delay=0.05]] [[chunks=40]]`: about 2 s), the time from running the cell
  to its first visible output, and to the cell's end.

`%%ai` does not stream: it calls the model's `generate` and returns the whole answer as the
cell's result, so its first visible output comes when the whole answer has arrived.
The two run in turn, one child each per round, and every figure is a per-round ratio.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._context import Context
from ._report import Figure
from ._stats import interleave, ratios

NAME = "beside jupyter-ai"
ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-jupyter-ai"
STAMP = VENV / ".installed-stamp"      # written by `make bench` once the install succeeded
MODEL = "openai-chat-custom:bench"     # any model id: the emulator answers every one

CHILD = r"""
import json, sys, time
from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from traitlets import Type
from traitlets.config import Config

SEEN = []   # perf_counter of each visible output (display, update or a cell's result)

def visible(data):
    return any(isinstance(v, str) and v.strip() for v in (data or {}).values())

class Publisher(DisplayPublisher):
    # what a kernel would send: noted, never kept
    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):
        if visible(data):
            SEEN.append(time.perf_counter())
    def clear_output(self, wait=False):
        pass

class Hook(DisplayHook):
    # a cell's result (execute_result in a kernel): its formats are computed, then noted
    def write_output_prompt(self):
        pass
    def write_format_data(self, format_dict, md_dict=None):
        if visible(format_dict):
            SEEN.append(time.perf_counter())
    def finish_displayhook(self):
        pass

class Shell(InteractiveShell):
    display_pub_class = Type(Publisher)
    displayhook_class = Type(Hook)

mode, big, slow, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
config = Config()
config.HistoryManager.enabled = False
shell = Shell.instance(config=config)

def answer_chars():
    if mode == "junis":
        answer = shell.user_ns.get("_junis")
        return len(answer.text) if answer is not None else 0
    out = shell.user_ns.get("_")
    return len(getattr(out, "data", "") or "")

def cell(prompt, whole=False):
    if mode == "junis":
        body = "%%junis --new" + (" --no-stream" if whole else "") + "\n" + prompt
    else:
        shell.run_line_magic("ai", "reset")    # a fresh conversation, as --new is for %%junis
        body = "%%ai " + sys.argv[5] + "\n" + prompt
    shell.user_ns.pop("_junis", None)
    shell.user_ns.pop("_", None)
    del SEEN[:]
    wall, cpu = time.perf_counter(), time.process_time()
    result = shell.run_cell(body, store_history=True)
    cpu, end = time.process_time() - cpu, time.perf_counter()
    result.raise_error()
    if not SEEN:
        raise RuntimeError("the cell showed nothing")
    return {"cpu": cpu, "first": SEEN[0] - wall, "whole": end - wall, "chars": answer_chars()}

started = time.perf_counter()
shell.run_line_magic("load_ext", "junis_jupyter" if mode == "junis" else "jupyter_ai_magics")
load = time.perf_counter() - started
cell(big)                                   # warm: imports, the client, the connection
measured = cell(big)
if measured["chars"] < size:
    raise RuntimeError(f"the answer had {measured['chars']} of {size} characters")
unstreamed = cell(big, whole=True)         # %%ai never streams: the same cell again
slowed = cell(slow)
from importlib.metadata import version
print(json.dumps({"version": version("junis-jupyter" if mode == "junis" else "jupyter-ai-magics"),
                  "load": load, "cpu": measured["cpu"], "cpu_whole": unstreamed["cpu"],
                  "first": slowed["first"], "whole": slowed["whole"]}))
"""


def contender_python() -> Path | None:
    """The jupyter-ai environment's interpreter, or None when it is not (fully) installed."""
    named = os.environ.get("JUPYTER_AI_PYTHON")
    if named:
        return Path(named) if Path(named).exists() else None
    python = VENV / "bin" / "python"
    return python if python.exists() and STAMP.exists() else None


def in_child(python: str, mode: str, args: list[str], env: dict[str, str],
             samples: dict[str, list[float]], versions: set[str]) -> Callable[[], float]:
    """One child per call; its figures go to `samples`, its CPU figure is the return value."""
    def measure() -> float:
        done = subprocess.run([python, "-c", CHILD, mode, *args], env=env, capture_output=True,
                              text=True, timeout=300, check=False)
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
            raise RuntimeError(f"the {mode} child failed: {tail[0]}")
        found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        versions.add(found["version"])
        for key in ("load", "cpu_whole", "first", "whole"):
            samples[key].append(found[key])
        return found["cpu"]
    return measure


def not_installed(why: str) -> list[Figure]:
    return [Figure(NAME, measure, "", why, "not installed", "", None) for measure in MEASURES]


MEASURES = ("`%load_ext` time, `junis_jupyter` vs `jupyter_ai_magics`",
            "CPU of one cell, 20,000-character answer, `%%junis` vs `%%ai`",
            "the same, `%%junis --no-stream` (one output, as `%%ai` gives) vs `%%ai`",
            "first visible output, slow answer (~2 s), `%%junis` vs `%%ai`")


def run(ctx: Context) -> list[Figure]:
    python = contender_python()
    if python is None:
        return not_installed("jupyter-ai-magics: no .venv-jupyter-ai (`make bench` makes it)")
    size = ctx.size(20_000, 2_000)
    chunks, delay = (40, 0.05) if not ctx.quick else (5, 0.01)
    big = f"[[size={size}]] Write a long answer."
    slow = f"[[delay={delay}]] [[chunks={chunks}]] Answer slowly."
    args = [big, slow, str(size), MODEL]
    samples: dict[str, dict[str, list[float]]] = {
        who: {"load": [], "cpu_whole": [], "first": [], "whole": []} for who in ("junis", "jupyter-ai")}
    versions: dict[str, set[str]] = {"junis": set(), "jupyter-ai": set()}
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "IPYTHONDIR": os.path.join(home, "ipython"), "JUNIS_HOME": home,
               "JUNIS_BASE_URL": ctx.url, "JUNIS_API_KEY": ctx.key,
               "OPENAI_API_BASE": ctx.url + "/v1", "OPENAI_API_KEY": ctx.key,
               "LANGCHAIN_TRACING_V2": "false", "LANGSMITH_TRACING": "false"}
        cpu = interleave({
            "junis": in_child(sys.executable, "junis", args, env, samples["junis"],
                              versions["junis"]),
            "jupyter-ai": in_child(str(python), "jupyter-ai", args, env,
                                   samples["jupyter-ai"], versions["jupyter-ai"]),
        }, ctx.repeat)
    ours, theirs = samples["junis"], samples["jupyter-ai"]

    def med(values: list[float], fmt: str = "{:.0f} ms", scale: float = 1e3) -> str:
        return fmt.format(statistics.median(values) * scale)

    slow_s = chunks * delay
    return [
        Figure(NAME, MEASURES[0], med(ours["load"]), med(theirs["load"])
               + f" (jupyter-ai-magics {', '.join(sorted(versions['jupyter-ai']))})",
               ratios(ours["load"], theirs["load"]).format(unit="x"), "", None),
        Figure(NAME, MEASURES[1].replace("20,000", f"{size:,}"), med(cpu["junis"]),
               med(cpu["jupyter-ai"]) + " (jupyter-ai)",
               ratios(cpu["junis"], cpu["jupyter-ai"]).format(unit="x"), "", None),
        Figure(NAME, MEASURES[2], med(ours["cpu_whole"]),
               med(theirs["cpu_whole"]) + " (jupyter-ai)",
               ratios(ours["cpu_whole"], theirs["cpu_whole"]).format(unit="x"), "", None),
        Figure(NAME, MEASURES[3].replace("~2 s", f"~{slow_s:.1f} s"),
               f"{med(ours['first'])} (cell {med(ours['whole'], '{:.2f} s', 1)})",
               f"{med(theirs['first'])} (cell {med(theirs['whole'], '{:.2f} s', 1)}; "
               "`%%ai` does not stream)",
               ratios(ours["first"], theirs["first"]).format("{:.3f}", "x"), "", None),
    ]
