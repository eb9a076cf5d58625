"""`%junis COMMAND`: the line commands, mixed into `JunisMagics` (magics.py).

Each returns what the user asked for: a DataFrame (agents, sessions, history, conversation,
usage, jobs), which as a cell's last line is the one table shown, or nothing where it only shows
or changes something (config, status, login, new, chat, wait, cancel). `explain` and `fix` are
turns of the conversation, asked through the cell's own path (`_ask`).
"""
from __future__ import annotations

import getpass
import os
import re
import shlex
import time
from typing import Any

from IPython.core.error import StdinNotImplementedError

from .. import config, errors

__all__ = ["LineCommands", "HELP"]

HELP = """\
%%junis [options]     ask the agent; the rest of the cell is the prompt ({name} takes a variable)
  --agent NAME        an agent by name or id (default: the orchestrator)
  --new               start a new conversation (default: continue the current one)
  --session ID        continue that session
  --format F          markdown (default) | text | code (next cell gets the code block) | json
  --out VAR           store the result in VAR (_junis always holds the last one)
  --no-stream         wait for the whole answer
  --system TEXT       a system message for this turn
  --temperature T     sampling temperature
  --max-tokens N      cap the answer's length
  --no-interpolate    send {braces} as written
  --cache MODE        off | use | replay | refresh (default: %config JunisMagics.cache)
  --context N         put the sources of the last N code cells run before the prompt
  --dry-run           show the exact messages and a token estimate; send nothing
  --background        return at once; the answer streams into this cell while others run
Prompts: {name}, {obj.attr}, {In[n]}, {Out[n]}, {Err} (the last error), {Err[n]};
  views: {df:schema} {df:head=N} {df:sample=N} {df:csv} {df:json}; `code` and ``` fences
  are sent as written; {{ and }} are literal braces
%junis login          enter the API key (hidden; kept in memory for this kernel)
%junis config         effective settings and where each came from (key masked)
%junis agents         the organisation's agents (returns the agents frame)
%junis sessions       recent sessions (returns the sessions frame)
%junis history [ID] [--markdown]  a session's messages (default: the current one; a frame,
                      or printed as Markdown)
%junis conversation   the notebook's conversation: a turn per cell, in notebook order (a frame)
%junis new            start a new conversation with the next %%junis cell
%junis explain [N]    ask why cell N (default: the last that failed) failed
%junis fix [N]        ask for a corrected cell N; the code goes into the next cell, not run
%junis status         the current session's status and the last rate-limit figures
%junis usage [--plot] what you have spent (from the local usage ledger; returns a frame)
%junis chat [--side] the chat panel (--side: in JupyterLab's side area, beside the notebook)
%junis jobs           the background cells: id, cell, agent, state, tokens, elapsed, error
%junis wait [ID ...]  until those jobs (default: all) end; fails if one failed
%junis cancel [ID ..] stop those jobs (default: all), keeping the text that arrived
%junis help           this text
Defaults: %config JunisMagics.agent = "Research" (and format, stream, system, temperature,
max_tokens, interpolate, new, out, cache, cache_path, on_error, max_prompt_chars, max_table_rows,
max_string_chars, update_hz, timeout, max_retries, context, dry_run, background,
max_concurrent: requests in flight at once, shared by background cells, the panel and batches)."""


EXPLAIN = ("A cell in my Jupyter notebook failed. Explain briefly why, and how to fix it.\n\n")
FIX = ("A cell in my Jupyter notebook failed. Reply with the whole corrected cell in one ```python "
       "code block, then one sentence saying what you changed.\n\n")


class LineCommands:
    """The `_cmd_*` methods `%junis WORD` runs; the rest of the magic is `JunisMagics`."""

    def _command(self, line: str) -> Any:
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise errors.ConfigurationError(f"bad command: {exc}.") from None
        name, args = (words[0], words[1:]) if words else ("help", [])
        handler = getattr(self, f"_cmd_{name}", None)
        if handler is None:
            if name.startswith("-"):
                raise errors.ConfigurationError(
                    "options go on a `%%junis` cell (two percent signs) with the prompt below it; "
                    "see `%junis help`.")
            raise errors.ConfigurationError(
                f"unknown command {name!r}: try agents, sessions, history, conversation, new, "
                "explain, fix, status, usage, chat, jobs, wait, cancel, config, login or help.")
        return handler(args)

    def _cmd_help(self, args: list[str]) -> None:
        print(HELP)

    def _cmd_login(self, args: list[str]) -> None:
        if args:      # a key typed into a cell would be saved with the notebook
            raise errors.ConfigurationError(
                "do not put the key in the cell (it would be saved with the notebook): run "
                "`%junis login` alone and paste the key at the hidden prompt.")
        try:
            key = getpass.getpass("Junis API key: ").strip()
        except StdinNotImplementedError:
            raise errors.ConfigurationError(
                "this frontend cannot prompt for input: set the JUNIS_API_KEY environment "
                "variable before starting the kernel instead.") from None
        except KeyboardInterrupt:
            raise errors.ConfigurationError("login cancelled; nothing changed.") from None
        if not key:
            raise errors.ConfigurationError("no key entered; nothing changed.")
        config.set_login_key(key)
        self.reset_client()
        shape = "" if re.fullmatch(r"jns_live_[A-Za-z0-9]{32}", key) else (
            " (it does not look like a Junis key, jns_live_ + 32 characters: check it)")
        print(f"Key {config.mask_key(key)} set for this kernel{shape}.")

    def _cmd_config(self, args: list[str]) -> None:
        rows = []
        env_key = os.environ.get(config.KEY_ENV)
        try:
            key = config.resolve_key()
            source = "JUNIS_API_KEY" if env_key and env_key.strip() == key else "%junis login"
        except errors.ConfigurationError:
            key, source = None, "not set: run %junis login"
        rows.append(("api key", config.mask_key(key), source))
        url_source = config.URL_ENV if os.environ.get(config.URL_ENV) else "default"
        rows.append(("base url", self._base_url() or os.environ.get(config.URL_ENV), url_source))
        configured = self.config.get("JunisMagics", {})
        for name in self.trait_names(config=True):
            value = getattr(self, name)
            source = "%config" if name in configured else "default"
            rows.append((name, "None" if value is None else repr(value), source))
        rows.append(("current session", self.session_id or "(none yet)", "this kernel"))
        from .render import Table
        self._show(Table(("setting", "value", "from"), rows))

    def _cmd_agents(self, args: list[str]) -> Any:
        from ..data import frames
        return frames.agents(self.client)

    def _cmd_sessions(self, args: list[str]) -> Any:
        from ..data import frames
        return frames.sessions(self.client)

    def _cmd_history(self, args: list[str]) -> Any:
        from ..data import frames
        markdown = "--markdown" in args
        rest = [a for a in args if a != "--markdown"]
        if len(rest) > 1 or any(a.startswith("-") for a in rest):
            raise errors.ConfigurationError("usage: %junis history [ID] [--markdown]")
        session_id = rest[0] if rest else self.session_id
        if not session_id:
            raise errors.ConfigurationError(
                "no current session yet: ask something with %%junis first, or give a session id.")
        if markdown:
            from .panel.export import turns_to_markdown
            print(turns_to_markdown((m.role, m.content, m.agent_name)
                                    for m in self.client.messages(session_id)), end="")
            return None
        return frames.messages(self.client, [session_id])

    def _cmd_conversation(self, args: list[str]) -> Any:
        import pandas as pd
        turns = self.chain.turns
        return pd.DataFrame({
            "cell": pd.array([t.cell_id for t in turns], dtype="string"),
            "prompt": pd.array([t.prompt[:60] for t in turns], dtype="string"),
            "agent": pd.array([t.agent for t in turns], dtype="string"),
            "session_id": pd.array([t.session_id for t in turns], dtype="string"),
            "total_tokens": pd.array([t.usage.total_tokens for t in turns], dtype="Int64"),
            "cached": pd.array([t.cached for t in turns], dtype="boolean"),
        })

    def _failure(self, args: list[str], verb: str) -> Any:
        if len(args) > 1 or (args and not args[0].lstrip("-").isdigit()):
            raise errors.ConfigurationError(f"usage: %junis {verb} [N], N a cell's execution count.")
        number = int(args[0]) if args else None
        found = self.failures.get(number)
        if found is not None:
            return found
        if not len(self.failures):
            raise errors.ConfigurationError(f"no cell has failed yet in this kernel: nothing to {verb}.")
        raise errors.ConfigurationError(f"cell [{number}] did not fail; `%junis {verb}` alone takes "
                                        "the last cell that did.")

    def _cmd_explain(self, args: list[str]) -> None:
        failure = self._failure(args, "explain")
        self._ask("--no-interpolate", EXPLAIN + failure.text())

    def _cmd_fix(self, args: list[str]) -> None:
        failure = self._failure(args, "fix")
        self._ask("--no-interpolate --format code", FIX + failure.text())

    def _cmd_new(self, args: list[str]) -> None:
        self.chain.start()
        print("The next %%junis cell starts a new conversation.")

    def _cmd_status(self, args: list[str]) -> None:
        rows: list[tuple[Any, ...]] = []
        if self.session_id:
            st = self.client.session_status(self.session_id)
            rows.append(("session", st.session_id))
            rows.append(("status", st.status))
            rows.append(("active", st.is_active))
            rows.append(("last update", _when(st.last_update_time)))
        else:
            rows.append(("session", "(none yet: the next %%junis cell opens one)"))
        if self.last_result is not None:
            rows.append(("last answer", self.last_result.usage.describe()))
        rl = getattr(self._client, "rate_limit", None)      # None before the first call
        said = rl.describe(time.time()) if rl is not None else None
        rows.append(("rate limit", said or "(no call made yet)"))
        from .render import Table
        self._show(Table(("", ""), rows))

    def _cmd_usage(self, args: list[str]) -> Any:
        from ..data.usage_report import show
        return show(self.shell, args)

    def _cmd_jobs(self, args: list[str]) -> Any:
        return self.jobs.frame()

    def _cmd_wait(self, args: list[str]) -> None:
        """Reached when the line was not made an awaited wait (jobs.await_wait): in a terminal,
        or inside other code. A kernel's loop cannot run its jobs under a blocking wait."""
        from .jobs import running_loop
        jobs = [j for j in self.jobs.pick(args, "wait") if not j.state.over]
        if jobs and running_loop() is not None:
            raise errors.ConfigurationError(
                "`%junis wait` waits only on a line of its own at the top of a cell (the jobs run "
                "on this kernel's loop, which a blocking wait would stop).")
        for job in jobs:            # no loop: only background batches (threads) can be running
            try:
                job.future.result()
            except Exception:       # noqa: BLE001 - the job keeps it; the line below says it
                pass
        failed = [j for j in self.jobs.pick(args, "wait") if j.state.value == "failed"]
        if failed:
            raise errors.ConfigurationError(f"job {failed[0].id} failed: {failed[0].error}")

    def _cmd_cancel(self, args: list[str]) -> None:
        stopped = self.jobs.cancel(self.jobs.pick(args, "cancel"))
        print(f"Junis: {stopped} job{'' if stopped == 1 else 's'} stopped; the text that arrived "
              "is kept.")

    def _cmd_chat(self, args: list[str]) -> None:
        from .panel import ChatPanel
        if [a for a in args if a != "--side"]:
            raise errors.ConfigurationError("usage: %junis chat [--side]")
        if "--side" in args:
            ChatPanel(client=self.client).show(side=True)
        else:
            self._show(ChatPanel(client=self.client))


def _when(t: Any) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S") if t is not None else ""
