"""The benchmarks keep running: `python -m benchmarks.run --quick` yields every figure.

No timing is asserted here (a benchmark measures, a test asserts behaviour): only that each
benchmark produced its rows, none crashed, the results file names the machine, and no key leaked.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import run as bench_run
from benchmarks._stats import Spread, differences, interleave, ratios

ROOT = Path(__file__).resolve().parents[2]
KEY_SHAPE = re.compile(r"jns_live_[A-Za-z0-9]{32}")


def _module_names() -> dict[str, str]:
    """Benchmark name (as in --only) -> the NAME its rows carry in the table."""
    import importlib
    return {name: importlib.import_module(module).NAME
            for name, module in bench_run.BENCHMARKS.items()}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, str]:
    out = tmp_path_factory.mktemp("bench") / "RESULTS.md"
    done = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--repeat", "1",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=240)
    return done, out.read_text(encoding="utf-8") if out.exists() else ""


def test_quick_run_succeeds_and_writes_results(quick_run) -> None:
    done, results = quick_run
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| benchmark | measure |" in done.stdout
    for field in ("- cpu:", "- cores:", "- python:", "- httpx:", "- openai:", "- pandas:",
                  "- ipython:", "- junis-jupyter:"):
        assert field in results


@pytest.mark.parametrize("name", list(bench_run.BENCHMARKS))
def test_each_benchmark_produces_its_figures(quick_run, name: str) -> None:
    done, results = quick_run
    label = _module_names()[name]
    rows = [line for line in results.splitlines() if line.startswith(f"| {label} |")]
    assert rows, f"{name}: no rows in the results\n{done.stderr[-2000:]}"
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert cells[1] != "crashed", row
        assert cells[4], f"{name}: a row without a result: {row}"


def test_no_key_in_any_output(quick_run) -> None:
    done, results = quick_run
    for text in (done.stdout, done.stderr, results):
        assert not KEY_SHAPE.search(text)


def test_interleave_alternates_contenders() -> None:
    order: list[str] = []
    samples = interleave({"a": lambda: order.append("a") or 1.0,
                          "b": lambda: order.append("b") or 2.0}, 3)
    assert order == ["a", "b"] * 3
    assert samples == {"a": [1.0] * 3, "b": [2.0] * 3}


def test_ratios_and_differences_are_paired_by_round() -> None:
    assert ratios([2.0, 9.0, 4.0], [1.0, 3.0, 4.0]) == Spread(2.0, 1.0, 3.0)
    assert differences([5.0, 1.0], [4.0, 1.0]) == Spread(0.5, 0.0, 1.0)
    with pytest.raises(ValueError):
        ratios([1.0], [1.0, 2.0])
    assert Spread(1.234, 1.0, 1.5).format(unit="x") == "1.23x (1.00-1.50)"
