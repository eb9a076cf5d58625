"""tests/support/skips.py: with JUNIS_FAIL_ON_SKIP=1 (`make test-pythons`) a skip fails the run,
so a package missing from a side Python's venv cannot pass as a green run."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

SUITE = '''
import pytest
def test_runs(): pass
def test_needs_a_package(): pytest.importorskip("no_such_package_junis")
@pytest.mark.xfail(reason="known")
def test_expected_to_fail(): assert False
'''


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_suite.py").write_text(SUITE)
    (tmp_path / "test_module_skip.py").write_text(
        'import pytest\npytest.importorskip("no_such_package_junis")\ndef test_x(): pass\n')
    environ = {k: v for k, v in os.environ.items() if k != "JUNIS_FAIL_ON_SKIP"}
    environ.update(env, PYTHONPATH=str(TESTS), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "support.skips",
                           "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120)


def test_a_skip_fails_the_run_when_asked(tmp_path: Path) -> None:
    run = _run(tmp_path, JUNIS_FAIL_ON_SKIP="1")
    assert run.returncode == 1, run.stdout
    assert "JUNIS_FAIL_ON_SKIP=1: 2 skip(s) fail this run" in run.stdout
    assert "test_suite.py::test_needs_a_package: could not import 'no_such_package_junis'" \
        in run.stdout
    assert "SKIPPED test_module_skip.py: could not import" in run.stdout
    assert "test_expected_to_fail" not in run.stdout.split("JUNIS_FAIL_ON_SKIP=1")[1]


def test_a_skip_is_only_a_skip_otherwise(tmp_path: Path) -> None:
    run = _run(tmp_path)
    assert run.returncode == 0, run.stdout
    assert "JUNIS_FAIL_ON_SKIP" not in run.stdout
