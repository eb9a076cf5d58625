"""Every setting of `%%junis`, declared once, in `CellOptions`: each field carries its trait
(`%config JunisMagics.NAME`), its help (one wording, for `%config`, the flag and `%junis help`)
and, for those a cell may set, its flag. The magic's traits (`Settings`), the cell's parser and
the help text are all made from it, so they cannot drift apart.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from traitlets import Bool, Enum, Float, Integer, TraitType, Unicode
from traitlets.config import Configurable

from ..data.cache import CACHE_ENV, CACHE_PATH_ENV, CacheMode
from ..errors import ConfigurationError

if TYPE_CHECKING:
    from .cmd.parser import Parser

__all__ = ["CellOptions", "Option", "Settings", "cell_options", "options_help", "FORMATS"]

FORMATS = ("markdown", "text", "code", "json")
ON_ERROR = ("raise", "print")


@dataclass(frozen=True)
class Option:
    trait: TraitType[Any, Any]
    help: str
    flag: str | None = None             # None: a %config setting only
    metavar: str | None = None          # None: a switch, which sets `switch`
    switch: Any = None
    parse: Callable[[str], Any] | None = None


def _option(trait: TraitType[Any, Any], help: str, flag: str | None = None,
            metavar: str | None = None, *, switch: Any = None,
            parse: Callable[[str], Any] | None = None) -> Any:
    trait.help = help
    return field(metadata={"option": Option(trait.tag(config=True), help, flag, metavar, switch,
                                            parse)})


@dataclass(frozen=True)
class CellOptions:
    """What one cell runs with: each setting's `%config` value, or the cell's flag."""
    agent: str | None = _option(
        Unicode(None, allow_none=True), "an agent by name or id (default: the orchestrator)",
        "--agent", "NAME")
    new: bool = _option(
        Bool(False), "start a new conversation (default: continue the current one)", "--new",
        switch=True)
    session: str | None = _option(
        Unicode(None, allow_none=True), "continue that session (as a setting: used when none "
        "is current)", "--session", "ID")
    format: str = _option(
        Enum(FORMATS, "markdown"), "markdown (default) | text | code (next cell gets the code "
        "block) | json", "--format", "F")
    out: str | None = _option(
        Unicode(None, allow_none=True), "store the result in VAR (_junis always holds the last "
        "one)", "--out", "VAR")
    stream: bool = _option(
        Bool(True), "stream answers as they arrive (--no-stream: wait for the whole answer)",
        "--no-stream", switch=False)
    system: str | None = _option(
        Unicode(None, allow_none=True), "a system message sent with the prompt", "--system",
        "TEXT")
    temperature: float | None = _option(
        Float(None, allow_none=True), "sampling temperature", "--temperature", "T", parse=float)
    max_tokens: int | None = _option(
        Integer(None, allow_none=True), "cap the answer's length", "--max-tokens", "N",
        parse=int)
    interpolate: bool = _option(
        Bool(True), "replace {name} with values from the notebook (--no-interpolate: send "
        "{braces} as written)", "--no-interpolate", switch=False)
    cache: str = _option(
        Enum(tuple(m.value for m in CacheMode)), "answer cache: off | use (hits shown, misses "
        "asked and stored) | replay (misses are errors; no network) | refresh (always ask, "
        f"store); default ${CACHE_ENV}, else off", "--cache", "MODE")
    context: int = _option(
        Integer(0, min=0), "put the sources of the last N code cells run before the prompt",
        "--context", "N", parse=int)
    dry_run: bool = _option(
        Bool(False), "show the exact messages and a token estimate; send nothing", "--dry-run",
        switch=True)
    background: bool = _option(
        Bool(False), "return at once; the answer streams into this cell while others run "
        "(`%junis wait` waits)", "--background", switch=True)
    max_prompt_chars: int = _option(
        Integer(100_000), "refuse prompts longer than this after interpolation")
    warn_prompt_tokens: int = _option(
        Integer(8000, min=0), "the footer warns when an answer's prompt passed this many tokens "
        "(later cells carry the whole conversation, tables sent earlier too; 0: never)")
    max_table_rows: int = _option(Integer(20), "rows of a DataFrame put into a prompt")
    max_string_chars: int = _option(
        Integer(2000), "characters of a string value put into a prompt")
    update_hz: float = _option(Float(15.0), "most display updates per second while streaming")
    highlight: bool = _option(
        Bool(True), "colour the code blocks of answers, as the chat panel does (Pygments lexes "
        "about a microsecond a character of code: False saves that on code-heavy answers)")
    max_outputs: int = _option(
        Integer(40, min=1), "most outputs a streamed answer takes (JupyterLab shows a cell's "
        "first 50, its maxNumberOutputs); more sends fewer bytes where more are shown")
    timeout: float = _option(Float(60.0), "seconds to wait for the service's next byte")
    max_retries: int = _option(
        Integer(2, min=0), "tries again after a 429, a 5xx or a connection error, before the "
        "error is shown")
    on_error: str = _option(
        Enum(ON_ERROR, "raise"), "'raise': a failing cell fails (Run All stops there); "
        "'print': print the line and let the cell succeed")
    max_concurrent: int = _option(
        Integer(5, min=1), "requests in flight at once in this kernel: background cells, the "
        "chat panel and batches share it (the plan's cap; Basic 5, Pro 20)")
    cache_path: str | None = _option(
        Unicode(None, allow_none=True), "the answer cache's file (default: beside the notebook, "
        f"else ${CACHE_PATH_ENV}, else the user data directory)")
    given: frozenset[str] = frozenset()     # the options the cell's own line set


def _options() -> list[tuple[str, Option]]:
    return [(f.name, f.metadata["option"]) for f in fields(CellOptions) if "option" in f.metadata]


# The magic's traits, one per setting: `class JunisMagics(Magics, Settings)`. A type checker sees
# a plain Configurable (it cannot read a class made at run time): settings are read by name.
if TYPE_CHECKING:
    Settings = Configurable
else:
    Settings = type("Settings", (Configurable,), {
        "__doc__": "The settings of `%%junis`, each also a cell's flag where it has one.",
        **{name: option.trait for name, option in _options()}})


def _parser() -> Parser:
    from .cmd.parser import Parser  # argparse: at the first cell, not at %load_ext
    flagged = [(name, o.flag, o) for name, o in _options() if o.flag]
    parser = Parser("%%junis", "%%junis " + " ".join(
        f"[{flag}{' ' + o.metavar if o.metavar else ''}]" for _, flag, o in flagged))
    for name, flag, option in flagged:
        if option.metavar is None:
            parser.add(flag, dest=name, action="store_const", const=option.switch, default=None)
        else:
            choices = getattr(option.trait, "values", None)
            parser.add(flag, dest=name, default=None, type=option.parse or str,
                       choices=tuple(choices) if choices else None, metavar=option.metavar)
    return parser


_parsers: list[Parser] = []       # made at the first cell, not at %load_ext


def cell_options(line: str, settings: Configurable) -> CellOptions:
    """The options of a `%%junis` line, every one not given taken from `settings`."""
    given: dict[str, Any] = {}
    if line.strip():
        if not _parsers:
            _parsers.append(_parser())
        given = vars(_parsers[0].parse(line))
    values = {name: getattr(settings, name) if given.get(name) is None else given[name]
              for name, _ in _options()}
    opts = CellOptions(**values, given=frozenset(k for k, v in given.items() if v is not None))
    if given.get("new") and given.get("session"):
        raise ConfigurationError("bad option: --new and --session cannot go together.")
    if opts.context < 0:
        raise ConfigurationError("bad option: --context takes a number of cells, 0 or more.")
    if opts.out is not None and not opts.out.isidentifier():
        raise ConfigurationError(f"bad option: --out {opts.out!r} is not a variable name.")
    return opts


def options_help() -> str:
    """The `%%junis` part of `%junis help`: each flag, then the settings only %config sets."""
    lines = []
    for _, option in _options():
        if option.flag:
            label = f"{option.flag} {option.metavar}" if option.metavar else option.flag
            lines.append(f"  {label:<18}{option.help}")
    settings = [name for name, option in _options() if not option.flag]
    lines.append("Every option's default: %config JunisMagics.NAME (agent, format, ...); "
                 "settings only %config sets:")
    lines.extend(f"  {name:<18}{option.help}" for name, option in _options()
                 if name in settings)
    return "\n".join(lines)
