"""What the service and the notebook hold, as frames: agents, sessions, a session's history,
the notebook's conversation."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ... import errors
from .parser import Parser

if TYPE_CHECKING:
    from ..state import KernelState

__all__ = ["agents", "sessions", "history", "conversation"]


def agents(state: KernelState, args: list[str]) -> Any:
    Parser("%junis agents", "%junis agents").parse(args)
    from ...data import frames
    return frames.agents(state.client)


def sessions(state: KernelState, args: list[str]) -> Any:
    Parser("%junis sessions", "%junis sessions").parse(args)
    from ...data import frames
    return frames.sessions(state.client)


_HISTORY = Parser("%junis history", "%junis history [ID] [--markdown]") \
    .add("session", nargs="?", default=None).add("--markdown", action="store_true")


def history(state: KernelState, args: list[str]) -> Any:
    opts = _HISTORY.parse(args)
    session_id = opts.session or state.session_id
    if not session_id:
        raise errors.ConfigurationError(
            "no current session yet: ask something with %%junis first, or give a session id.")
    if opts.markdown:
        from ..panel.export import turns_to_markdown
        print(turns_to_markdown((m.role, m.content, m.agent_name)
                                for m in state.client.messages(session_id)), end="")
        return None
    from ...data import frames
    return frames.messages(state.client, [session_id])


def conversation(state: KernelState, args: list[str]) -> Any:
    Parser("%junis conversation", "%junis conversation").parse(args)
    import pandas as pd
    turns = state.chain.turns
    return pd.DataFrame({
        "cell": pd.array([t.cell_id for t in turns], dtype="string"),
        "prompt": pd.array([t.prompt[:60] for t in turns], dtype="string"),
        "agent": pd.array([t.agent for t in turns], dtype="string"),
        "session_id": pd.array([t.session_id for t in turns], dtype="string"),
        "total_tokens": pd.array([t.usage.total_tokens for t in turns], dtype="Int64"),
        "cached": pd.array([t.cached for t in turns], dtype="boolean"),
    })
