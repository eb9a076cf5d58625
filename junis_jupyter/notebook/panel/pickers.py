"""The agent and session dropdowns: their options from the listings, and the moves the panel makes
itself, which its own observers must not take for the user's (`quiet`)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import ipywidgets as w

from ...client.types import ORCHESTRATOR
from ..markdown import valid_unicode

__all__ = ["NEW_CHAT", "ORCHESTRATOR", "Pickers"]

NEW_CHAT = "New chat"


class Pickers:
    def __init__(self, wanted_agent: str | None = None) -> None:
        # "" and not None: a Dropdown shows None as "nothing selected".
        self.agent = w.Dropdown(options=[(ORCHESTRATOR, "")], value="", description="Agent",
                                layout=w.Layout(width="260px"))
        self.session = w.Dropdown(options=[(NEW_CHAT, "")], value="", description="Session",
                                  layout=w.Layout(width="360px"))
        self.quiet = False
        self.wanted_agent = wanted_agent     # picked by name or id at the first listing of agents

    @contextmanager
    def quietly(self) -> Iterator[None]:
        self.quiet = True
        try:
            yield
        finally:
            self.quiet = False

    def agent_label(self) -> str:
        for label, value in self.agent.options:
            if value == self.agent.value:
                return label
        return ORCHESTRATOR

    async def load(self, client: Any, advice: Callable[[BaseException], str], *, recent: int,
                   session_id: str | None) -> str:
        """List the agents and the `recent` newest sessions into the dropdowns; returns what
        could not be done, as one notice ("" when all went well). The Orchestrator and New chat
        stay whatever fails."""
        problems, refused = [], ""
        try:
            agents = await client.agents()
        except Exception as exc:
            problems.append(f"Agents could not be listed: {advice(exc)}")
        else:
            self.set_agents(agents)
            if self.wanted_agent is not None:
                refused = self.select_agent(self.wanted_agent, agents)
                self.wanted_agent = None     # once: a later listing keeps the user's pick
        try:
            sessions = await client.sessions()
        except Exception as exc:
            problems.append(f"Sessions could not be listed: {advice(exc)}")
        else:
            self.set_sessions(list(sessions), session_id, recent)
        return " ".join(problems) or refused

    def set_agents(self, agents: list[Any]) -> None:
        """The Orchestrator and the agents that can be chatted with; the pick kept if it still
        is."""
        options = [(ORCHESTRATOR, "")] + [
            (valid_unicode(a.name), a.id) for a in agents
            if a.invocable and a.is_active is not False]
        current = self.agent.value
        with self.quietly():
            self.agent.options = options
            self.agent.value = current if current in {v for _, v in options} else ""

    def select_agent(self, wanted: str, agents: list[Any]) -> str:
        """Pick the agent named (any case) or with id `wanted`; "" or why it could not be."""
        if wanted.lower() == ORCHESTRATOR.lower():
            return ""
        for a in agents:
            if wanted in (a.id, a.name) or wanted.lower() == a.name.lower():
                if a.id not in {v for _, v in self.agent.options}:
                    return (f"Agent {a.name} cannot be chatted with (only active LLM agents can); "
                            "using the Orchestrator.")
                with self.quietly():
                    self.agent.value = a.id
                return ""
        return f"No agent named {wanted!r}; using the Orchestrator."

    def set_sessions(self, sessions: list[Any], current: str | None, limit: int = 20) -> None:
        """The `limit` newest conversations: batch rows left out (each opened a session of its
        own and would crowd the user's conversations out), each titled by its first question
        where this machine logged it (data/transcript.py)."""
        from ...data.transcript import recent_conversations, session_origins
        origins = session_origins()
        titles = {c.session_id: c.title for c in recent_conversations(limit=max(limit, 200))}
        options = [(NEW_CHAT, "")]
        for s in sessions:
            if origins.get(s.session_id) == "batch":
                continue
            if len(options) > limit:
                break
            when = s.last_update_time or s.created_at
            stamp = when.strftime("%Y-%m-%d %H:%M") if when else "?"
            title = titles.get(s.session_id)
            label = f"{title} · {stamp}" if title else f"{stamp} · {s.session_id[:8]}"
            options.append((valid_unicode(label), s.session_id))
        with self.quietly():
            self.session.options = options
        self.show_session(current)

    def show_session(self, session_id: str | None) -> None:
        """Show `session_id` (added as "current" if the list does not have it), or New chat."""
        with self.quietly():
            if session_id is not None and session_id not in {v for _, v in self.session.options}:
                first, *rest = self.session.options
                self.session.options = [first, (f"current · {session_id[:8]}", session_id), *rest]
            self.session.value = session_id or ""
