"""The agents offered in the chat's model picker: the orchestrator (the default; it routes each
request to the right agent) and the agents that can be asked directly (active LLM agents, as in
the chat panel's picker), and the agent a picked id or a typed name stands for.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..client.types import Agent

__all__ = ["ORCHESTRATOR_ID", "Choice", "choices", "pick"]

ORCHESTRATOR_ID = "orchestrator"    # when the listing has no orchestrator of its own


@dataclass(frozen=True)
class Choice:
    id: str
    name: str
    description: str | None
    agent: Agent | None             # None: the orchestrator (`/v1/chat/completions`)


def choices(agents: Sequence[Agent] | None) -> list[Choice]:
    """The orchestrator first, then the invocable agents in the listing's order."""
    orchestrator = next((a for a in agents or () if a.agent_type == "ORCHESTRATOR"), None)
    first = Choice(orchestrator.id if orchestrator else ORCHESTRATOR_ID,
                   orchestrator.name if orchestrator else "Orchestrator",
                   (orchestrator.description if orchestrator else None)
                   or "Routes each request to the right agent.", None)
    return [first] + [Choice(a.id, a.name, a.description, a)
                      for a in agents or () if a.invocable and a.is_active is not False]


def pick(wanted: str | None, agents: Sequence[Agent] | None) -> Agent | str | None:
    """What to ask for `wanted` (a picker id, or a name typed into `%%ai`'s model parameters):
    None for the orchestrator, the Agent when the listing knows it, else `wanted` itself for
    the client to resolve (which names the agents there are when there is none by that name)."""
    if not wanted or wanted.lower() in (ORCHESTRATOR_ID, "orchestrator"):
        return None
    options = choices(agents)
    for choice in options:
        if wanted == choice.id or wanted.lower() == choice.name.lower():
            return choice.agent
    return wanted
