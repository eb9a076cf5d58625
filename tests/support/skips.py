"""JUNIS_FAIL_ON_SKIP=1 (`make test-pythons` sets it): a skipped test fails the run.

The other Pythons' venvs hold pyproject's `test` extra, not `dev`. A test whose package is missing
there skips itself (`importorskip`), and a green run would then hide that it never ran on that
Python. Expected failures (xfail) are not skips."""
from __future__ import annotations

import os
from typing import Any

import pytest

_skipped: list[str] = []


def _note(report: pytest.CollectReport | pytest.TestReport) -> None:
    if os.environ.get("JUNIS_FAIL_ON_SKIP") != "1":
        return
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        _skipped.append(f"{report.nodeid}: {str(reason).removeprefix('Skipped: ')}")


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _note(report)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _note(report)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped:
        terminalreporter.write_line(
            f"JUNIS_FAIL_ON_SKIP=1: {len(_skipped)} skip(s) fail this run (install what they "
            "need in the `test` extra):", red=True)
        for line in _skipped:
            terminalreporter.write_line(f"  SKIPPED {line}", red=True)
