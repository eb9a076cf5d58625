"""The one parser of `%junis` words and `%%junis` options: argparse, made to fail as a notebook
does, with one `ConfigurationError` line (what was wrong and how to write it), never argparse's
usage dump and `SystemExit`."""
from __future__ import annotations

import argparse
import shlex
from typing import Any, NoReturn

from ...errors import ConfigurationError

__all__ = ["Parser", "split"]


def split(line: str) -> list[str]:
    """The words of a magic's line, quoted as in a shell."""
    try:
        return shlex.split(line)
    except ValueError as exc:           # an unclosed quote
        raise ConfigurationError(f"bad command line: {exc}.") from None


class Parser(argparse.ArgumentParser):
    """`usage` is the line shown when the words do not parse."""

    def __init__(self, prog: str, usage: str) -> None:
        super().__init__(prog=prog, usage=usage, add_help=False, exit_on_error=False)

    def error(self, message: str) -> NoReturn:
        raise ConfigurationError(f"bad option for `{self.prog}`: {message}; usage: {self.usage}")

    def parse(self, words: list[str] | str) -> argparse.Namespace:
        try:
            return self.parse_args(shlex.split(words) if isinstance(words, str) else list(words))
        except (argparse.ArgumentError, ValueError) as exc:     # a bad value; an unclosed quote
            self.error(str(exc))

    def add(self, *flags: str, **kwargs: Any) -> Parser:
        self.add_argument(*flags, **kwargs)
        return self
