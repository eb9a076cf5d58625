"""`junis-jupyter`: the package's command line (emulator, demo, login, logout)."""
from __future__ import annotations

import argparse
import os
import re
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
    login = commands.add_parser(
        "login", help="store an API key for kernels and the Jupyter server (Jupyter AI's chat)",
        description="Store a Junis API key in your user configuration directory, readable by "
                    "you only. Kernels and the Jupyter server (where Jupyter AI's chat runs) use "
                    "it wherever JUNIS_API_KEY is not set, from their next call. The key is read "
                    "without echo; it is never printed.")
    login.add_argument("--base-url", metavar="URL",
                       help="also store the API's base URL (used where JUNIS_BASE_URL is not set)")
    login.add_argument("--stdin", action="store_true",
                       help="read the key from the first line of standard input (for scripts)")
    commands.add_parser("logout", help="remove the key stored by `junis-jupyter login`")
    if argv[:1] == ["demo"]:
        from .demo import main as demo_main
        return demo_main(argv[1:])
    if argv[:1] in (["login"], ["logout"]):
        args = parser.parse_args(argv)
        return _login(args) if args.command == "login" else _logout()
    from .emulator.main import run
    return run(parser, argv)


def _login(args: argparse.Namespace) -> int:
    from . import config
    from .errors import ConfigurationError
    if args.stdin:
        key = sys.stdin.readline().strip()
    else:
        import getpass
        key = getpass.getpass("Junis API key (not shown): ").strip()
    try:
        path = config.save_login(key, args.base_url)
    except ConfigurationError as exc:
        print(f"junis-jupyter login: {exc}", file=sys.stderr)
        return 1
    print(f"Stored the key {config.mask_key(key)} in {path} (readable by you only).")
    if not re.fullmatch(r"jns_live_[A-Za-z0-9]{32}", key):
        print("Note: it does not look like a Junis key (jns_live_ and 32 letters or digits).")
    if os.environ.get(config.KEY_ENV):
        print(f"Note: {config.KEY_ENV} is set here, and where it is set it comes first.")
    return 0


def _logout() -> int:
    from . import config
    path = config.login_path()
    print(f"Removed {path}." if config.forget_login() else f"No key stored ({path}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
