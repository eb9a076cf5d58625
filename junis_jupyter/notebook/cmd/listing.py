"""What the service, the notebook and this machine hold, as frames: agents, sessions, a
session's history (or who took part in it), the notebook's conversation, the transcript log."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ... import errors
from ...client.types import ORCHESTRATOR
from .parser import Parser
from .status import date_arg

if TYPE_CHECKING:
    from ..state import KernelState

__all__ = ["agents", "sessions", "history", "conversation", "log", "LOG"]


def agents(state: KernelState, args: list[str]) -> Any:
    Parser("%junis agents", "%junis agents").parse(args)
    from ...data import frames
    return frames.agents(state.client)


def sessions(state: KernelState, args: list[str]) -> Any:
    Parser("%junis sessions", "%junis sessions").parse(args)
    from ...data import frames
    return frames.sessions(state.client)


HISTORY = "%junis history [ID] [--markdown | --agents]"
_HISTORY = Parser("%junis history", HISTORY) \
    .add("session", nargs="?", default=None).add("--markdown", action="store_true") \
    .add("--agents", action="store_true")


def history(state: KernelState, args: list[str]) -> Any:
    opts = _HISTORY.parse(args)
    session_id = opts.session or state.session_id
    if not session_id:
        raise errors.ConfigurationError(
            "no current session yet: ask something with %%junis first, or give a session id.")
    if opts.markdown and opts.agents:
        _HISTORY.error("--markdown and --agents are two views: pick one")
    if opts.agents:
        from ...data import frames
        return frames.session_agents(state.client, [session_id])
    if opts.markdown:
        from ..escapes import strip_escapes
        from ..panel.export import turns_to_markdown
        print(strip_escapes(turns_to_markdown((m.role, m.content, m.agent_name)
                                              for m in state.client.messages(session_id))), end="")
        return None
    from ...data import frames
    return frames.messages(state.client, [session_id])


def conversation(state: KernelState, args: list[str]) -> Any:
    Parser("%junis conversation", "%junis conversation").parse(args)
    import pandas as pd
    turns = state.chain.turns
    return pd.DataFrame({
        # `[n]` as the notebook shows the cell that asked, where it ran; else its id
        "cell": pd.array([f"[{t.count}]" if t.count is not None else t.cell_id for t in turns],
                         dtype="string"),
        "cell_id": pd.array([t.cell_id for t in turns], dtype="string"),
        "prompt": pd.array([t.prompt[:60] for t in turns], dtype="string"),
        "agent": pd.array([t.agent or ORCHESTRATOR for t in turns], dtype="string"),
        "session_id": pd.array([t.session_id for t in turns], dtype="string"),
        "total_tokens": pd.array([t.usage.total_tokens for t in turns], dtype="Int64"),
        "cached": pd.array([t.cached for t in turns], dtype="boolean"),
    })


LOG = ("%junis log [-q TEXT] [--since DATE] [--until DATE] [--agent NAME] [--notebook PATH] "
       "[-n N] [--off | --on]")
_SHOWN = 50
_LOG = Parser("%junis log", LOG).add("-q", metavar="TEXT", default=None) \
    .add("--since", metavar="DATE", type=date_arg).add("--until", metavar="DATE", type=date_arg) \
    .add("--agent", metavar="NAME").add("--notebook", metavar="PATH") \
    .add("-n", metavar="N", type=int, default=_SHOWN) \
    .add("--off", action="store_true").add("--on", action="store_true")


def log(state: KernelState, args: list[str]) -> Any:
    """The newest turns of the transcript log that match (a frame), or logging turned off or on
    for this kernel."""
    opts = _LOG.parse(args)
    from ...data import transcript
    where = transcript.default_path()
    if opts.off or opts.on:
        if opts.off and opts.on:
            _LOG.error("--off and --on: pick one")
        transcript.configure(enabled=opts.on)
        print(f"Junis: the transcript log is {'on' if opts.on else 'off'} for this kernel"
              + (f": answers are written to {where}." if opts.on else
                 f": nothing more is written to {where} (`%junis log --on` turns it back on)."))
        return None
    if opts.n < 0:
        _LOG.error(f"-n must be 0 (all) or more, not {opts.n}")
    found = transcript.default_transcript()
    filters = dict(q=opts.q, since=opts.since, until=opts.until, agent=opts.agent,
                   notebook=opts.notebook)
    frame = found.frame(**filters, limit=opts.n or None)
    total = found.count(**filters) if len(frame) == opts.n else len(frame)
    off = "" if transcript.enabled() else " (logging is off: `%junis log --on` turns it on)"
    if not total:
        print(f"No logged turn matches in {where}{off}." if any(filters.values()) else
              f"Nothing logged yet in {where}{off}.")
    elif total > len(frame):
        print(f"The newest {len(frame):,} of {total:,} matching turns (-n 0 shows all){off}.")
    return frame
