"""Without the `emulator` extra (starlette, uvicorn) the emulator says so in one line.

Each case runs in a fresh interpreter where `sys.modules` marks starlette and uvicorn as absent,
which is what `importlib` sees on a kernel where they were never installed (scripts/wheel-check
checks the same on a real venv holding only the built wheel).
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from junis_jupyter.emulator._extra import MESSAGE

BLOCK = "import sys\nfor name in {names!r}: sys.modules[name] = None\n"


def run(code: str, *args: str, names: tuple[str, ...] = ("starlette", "uvicorn")) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK.format(names=names) + code, *args],
                          capture_output=True, text=True, timeout=60)


def test_the_message_names_the_extra() -> None:
    assert MESSAGE == ("The Junis emulator needs starlette and uvicorn: "
                       "pip install 'junis-jupyter[emulator]'")


@pytest.mark.parametrize("statement", [
    "from junis_jupyter.emulator import start_emulator_thread",
    "from junis_jupyter.emulator import create_app",
    "import junis_jupyter.emulator.app",
    "import junis_jupyter.emulator.server",
    "import junis_jupyter.emulator.wire",
    "from junis_jupyter.emulator import start_emulator_process; start_emulator_process()",
])
@pytest.mark.parametrize("names", [("starlette", "uvicorn"), ("uvicorn",)], ids=["both", "uvicorn"])
def test_server_parts_raise_one_line_naming_the_extra(statement: str, names) -> None:
    code = (f"try:\n    {statement}\n"
            "except ImportError as exc:\n"
            "    from junis_jupyter.emulator import MissingExtraError\n"
            "    assert isinstance(exc, MissingExtraError), type(exc)\n"
            "    print(exc)\n"
            "else:\n    print('imported')\n")
    result = run(code, names=names)
    assert result.returncode == 0, result.stderr
    assert result.stdout == MESSAGE + "\n"


def test_the_package_options_and_cli_arguments_still_import() -> None:
    code = ("import junis_jupyter.emulator, junis_jupyter.emulator.main, junis_jupyter.emulator.options\n"
            "from junis_jupyter import cli\n"
            "assert 'starlette' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
            "print('ok')\n")
    result = run(code)
    assert (result.returncode, result.stdout) == (0, "ok\n"), result.stderr


@pytest.mark.parametrize("command", [
    "import runpy; runpy.run_module('junis_jupyter.emulator', run_name='__main__')",
    "from junis_jupyter import cli; sys.exit(cli.main(sys.argv[1:]))",
])
def test_the_command_line_prints_the_line_and_exits_1(command: str) -> None:
    args = ("--port", "0") if "runpy" in command else ("emulator", "--port", "0")
    result = run(command, *args)
    assert result.returncode == 1
    assert result.stderr == MESSAGE + "\n" and result.stdout == ""
