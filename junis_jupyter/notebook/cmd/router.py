"""`%junis WORD ...`: which function runs a word, and the help text, both from one table.

Each command is a function `(state, args) -> what the cell returns`: a DataFrame for a listing
(`agents = %junis agents`), nothing where it only shows or changes something. A command raises
one `JunisError` line when it cannot do what was asked; the magic shows it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ... import errors
from ..options import options_help
from . import account, jobs, listing, panel, status, turns
from .parser import split

if TYPE_CHECKING:
    from ..state import KernelState

__all__ = ["Command", "COMMANDS", "run", "help_text"]


@dataclass(frozen=True)
class Command:
    usage: str
    help: str
    run: Callable[[KernelState, list[str]], Any]


def _help(state: KernelState, args: list[str]) -> None:
    print(help_text())


COMMANDS: dict[str, Command] = {c.usage.split()[1]: c for c in (
    Command("%junis login", "enter the API key (hidden; kept in memory for this kernel)",
            account.login),
    Command("%junis config", "effective settings and where each came from (key masked)",
            account.show_config),
    Command("%junis agents", "the organisation's agents (returns the agents frame)",
            listing.agents),
    Command("%junis sessions", "your sessions, newest first, with titles, where each began and "
            "its tokens (returns the sessions frame)", listing.sessions),
    Command(listing.HISTORY, "a session's messages (default: the current one; a frame, or "
            "printed as Markdown; --agents: who took part, with their tokens)", listing.history),
    Command(listing.LOG, "search what was asked and answered from this machine (the local "
            "transcript log; returns a frame; --off/--on: stop or resume logging)", listing.log),
    Command("%junis conversation", "the notebook's conversation: a turn per cell, in notebook "
            "order (a frame)", listing.conversation),
    Command("%junis new", "start a new conversation with the next %%junis cell", turns.new),
    Command("%junis explain [N]", "ask why cell N (default: the last that failed) failed",
            turns.explain),
    Command("%junis fix [N]", "ask for a corrected cell N; the code goes into the next cell, "
            "not run", turns.fix),
    Command("%junis status", "the current session's status and the last rate-limit figures",
            status.status),
    Command(status.USAGE, "what you have spent: chat calls by agent and day, with estimated "
            "credits and latency (from the local usage ledger; --calls: every call)",
            status.usage),
    Command("%junis chat [--side]", "the chat panel (--side: in JupyterLab's side area, beside "
            "the notebook)", panel.chat),
    Command("%junis jobs", "the background cells and batches: id, cell, agent, state, tokens, "
            "elapsed, error", jobs.jobs),
    Command("%junis wait [ID ...]", "until those jobs (default: all) end; fails if one failed",
            jobs.wait),
    Command("%junis cancel [ID ...]", "stop those jobs (default: all), keeping the text that "
            "arrived", jobs.cancel),
    Command("%junis help", "this text", _help),
)}

_PROMPTS = """\
Prompts: {name}, {obj.attr}, {In[n]}, {Out[n]}, {Err} (the last error), {Err[n]};
  views: {df:schema} {df:head=N} {df:sample=N} {df:csv} {df:json}; `code` and ``` fences
  are sent as written; {{ and }} are literal braces"""


def help_text() -> str:
    lines = ["%%junis [options]     ask the agent; the rest of the cell is the prompt ({name} "
             "takes a variable)", options_help(), _PROMPTS]
    for command in COMMANDS.values():
        lines.append(f"{command.usage:<22}{command.help}" if len(command.usage) < 22 else
                     f"{command.usage}\n{'':<22}{command.help}")
    return "\n".join(lines)


def run(state: KernelState, line: str) -> Any:
    """The command the line names, run; its result is the cell's."""
    words = split(line)
    name, args = (words[0], words[1:]) if words else ("help", [])
    command = COMMANDS.get(name)
    if command is None:
        if name.startswith("-"):
            raise errors.ConfigurationError(
                "options go on a `%%junis` cell (two percent signs) with the prompt below it; "
                "see `%junis help`.")
        raise errors.ConfigurationError(
            f"unknown command {name!r}: try {', '.join(COMMANDS)}.")
    return command.run(state, args)
