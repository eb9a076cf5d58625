"""`junis-jupyter`: the package's command line (emulator, demo)."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="junis-jupyter",
                                     description="Junis AI agents in Jupyter: command-line tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from .emulator.main import add_arguments
    add_arguments(commands.add_parser(
        "emulator", help="run the local Junis API emulator",
        description="Run a local emulator of the Junis External API."))
    commands.add_parser("demo", help="run the demonstration (options: junis-jupyter demo --help)",
                        add_help=False)
    if argv[:1] == ["demo"]:
        from .demo import main as demo_main
        return demo_main(argv[1:])
    from .emulator.main import run
    return run(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
