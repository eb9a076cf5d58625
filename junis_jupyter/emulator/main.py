"""`python -m junis_jupyter.emulator` and `junis-jupyter emulator`: serve until stopped."""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import fields

from .options import PLANS, EmulatorOptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765,
                        help="port; 0 picks a free one (default 8765)")
    parser.add_argument("--plan", choices=sorted(PLANS), default="pro",
                        help="plan of the printed key: basic 60 rpm/5 concurrent, pro 300/20 "
                             "(default pro)")
    parser.add_argument("--key", help="use this API key instead of a random one")
    parser.add_argument("--credits", type=int,
                        help="credits of the printed key (default 1,000,000)")
    parser.add_argument("--token-delay", type=float, default=0.01, metavar="S",
                        help="seconds between streamed chunks (default 0.01)")
    parser.add_argument("--state", metavar="FILE", help="keep sessions and keys in this JSON file")
    parser.add_argument("--rpm", type=int, help="override the plan's requests per minute")
    parser.add_argument("--concurrency", type=int,
                        help="override the plan's concurrent-request cap")
    parser.add_argument("--admin", action="store_true",
                        help="enable /_emulator/* (faults, extra keys, statistics): for tests only")


def options_from(args: argparse.Namespace) -> EmulatorOptions:
    """Each option's flag is its field's name (`--token-delay` is `token_delay`)."""
    return EmulatorOptions(**{f.name: getattr(args, f.name) for f in fields(EmulatorOptions)})


def serve(options: EmulatorOptions) -> int:
    """Bind, print the URL and the key (the first two lines, flushed), then serve until stopped."""
    from ._extra import MissingExtraError
    try:
        from .server import base_url, bind, build_server
    except MissingExtraError as exc:      # starlette or uvicorn absent: one line, no traceback
        print(exc, file=sys.stderr)
        return 1
    from .store import StateError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        sock = bind(options.host, options.port)
    except OSError as exc:
        print(f"Cannot listen on {options.host}:{options.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    try:
        server, emulator = build_server(options)
    except StateError as exc:
        sock.close()
        print(exc, file=sys.stderr)
        return 1
    print(f"Junis emulator listening on {base_url(sock)}", flush=True)
    print(f"API key: {emulator.key}", flush=True)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


def run(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse (`parser` holds `add_arguments`, perhaps in a subcommand), then serve. Values the
    options refuse (a negative --rpm...) are usage errors like a bad flag: exit 2 with usage."""
    args = parser.parse_args(argv)
    try:
        options = options_from(args)
    except ValueError as exc:
        parser.error(str(exc))
    return serve(options)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m junis_jupyter.emulator",
                                     description="A local emulator of the Junis External API.")
    add_arguments(parser)
    return run(parser, argv)
