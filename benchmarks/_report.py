"""Figures, the markdown table they make, and the machine they were measured on."""
from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata

PACKAGES = ("junis-jupyter", "httpx", "openai", "pandas", "ipython", "cmarkgfm", "nh3", "markdown-it-py")


@dataclass(frozen=True)
class Figure:
    """One line of the table: what was compared, the absolute values, the compared figure, the target.

    `result` is already formatted (`0.04x (0.03-0.05)`); `met` is None where there is no target.
    """
    benchmark: str
    measure: str
    ours: str
    baseline: str
    result: str
    target: str
    met: bool | None


def table(figures: list[Figure]) -> str:
    head = ["benchmark", "measure", "junis-jupyter", "baseline", "result: median (min-max)",
            "target", "met"]
    rows = [head, ["---"] * len(head)]
    for f in figures:
        met = "" if f.met is None else ("yes" if f.met else "**no**")
        rows.append([f.benchmark, f.measure, f.ours, f.baseline, f.result, f.target, met])
    return "\n".join("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
                     for row in rows)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, str]:
    """Where the figures came from: enough to tell two RESULTS.md files apart."""
    info = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        # a shared machine's figures move with its load: say how busy it was
        "load average (1, 5, 15 min) at the end": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
    }
    for name in PACKAGES:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "not installed"
    return info


def document(figures: list[Figure], info: dict[str, str], options: str, seconds: float) -> str:
    lines = ["# Benchmark results", "",
             "Written by `make bench` (`python -m benchmarks.run`); see docs/performance.md for "
             "what each line measures.", "",
             table(figures), "",
             "## Machine", ""]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    lines += [f"- options: `{options}`", f"- whole run: {seconds:.0f} s", ""]
    return "\n".join(lines)
