"""What you have spent, over the usage ledger: what `%junis usage` shows (its words are parsed by
the notebook's command parser, notebook/cmd/status.py).

The summary is one row per agent and UTC day, over chat calls only: the listings behind `%junis
agents` or `sessions` use no tokens and a cache hit makes no call, so neither is spend. Credits
are estimated (credits.py: the service does not report them). Failures are calls that ended with
an error code (a user's stop, `interrupted`, is not one). Latency percentiles are over successful
calls only, so a burst of fast 429s does not make the service look quick; they interpolate
linearly (numpy's default).
"""
from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import pandas as pd

from ..client.types import ORCHESTRATOR
from ..errors import ConfigurationError
from . import credits

__all__ = ["summary", "plot", "show", "chat_calls", "agent_labels", "credit_rule", "CHAT"]

CHAT = ("chat", "agent_chat")     # the ledger's endpoints of chat calls


def _failed(df: pd.DataFrame) -> pd.Series:
    code = df["error_code"]
    ok = code.isin(["interrupted", "cached"])       # stopped by the user; replayed, no call
    return (code.notna() & ~ok).fillna(False).astype(bool) | \
        (df["status"] >= 400).fillna(False).astype(bool)


def chat_calls(df: pd.DataFrame) -> pd.DataFrame:
    """The chat calls of a usage frame (what spends tokens)."""
    return df[df["endpoint"].isin(CHAT)]


def agent_labels(df: pd.DataFrame) -> pd.Series:
    """The agent of each chat call; one without an agent went to the Orchestrator."""
    return df["agent"].fillna(ORCHESTRATOR).astype(str)


def credit_rule() -> str:
    """The estimate's rule, in words, for labels."""
    rule = credits.rule()
    return (f"estimated: 1 per started {rule.tokens_per_credit:,} total tokens, at least "
            f"{rule.minimum} a call")


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """The usage summary frame of a usage frame: its chat calls by agent and UTC day (agent,
    day, calls, failed, total_tokens, credits, p50_latency_s, p95_latency_s), day then agent."""
    from .schemas import build
    chats = chat_calls(df)
    failed = _failed(chats)
    ok = ~failed & chats["error_code"].isna()
    parts = pd.DataFrame({
        "agent": agent_labels(chats),
        "day": chats["started_at"].dt.floor("D").dt.tz_localize(None),
        "failed": failed.astype("int64"),
        "tokens": chats["total_tokens"].fillna(0).astype("int64"),
        "credits": chats["credits"].fillna(0).astype("int64"),
        "latency": chats["latency_s"].where(ok),
    })
    groups = parts.groupby(["day", "agent"], sort=True)
    counts = groups.agg(calls=("failed", "size"), failed=("failed", "sum"),
                        total_tokens=("tokens", "sum"), credits=("credits", "sum"))
    latency = groups["latency"]
    keys = counts.index
    return build("usage_summary", {
        "agent": list(keys.get_level_values("agent")),
        "day": list(keys.get_level_values("day")),
        **{name: counts[name].tolist() for name in ("calls", "failed", "total_tokens",
                                                   "credits")},
        "p50_latency_s": latency.quantile(0.5).reindex(keys).tolist(),
        "p95_latency_s": latency.quantile(0.95).reindex(keys).tolist(),
    })


def headline(table: pd.DataFrame, source: str) -> str:
    """One line over the summary: what it totals, where from, how credits are estimated."""
    calls, failed = int(table["calls"].sum()), int(table["failed"].sum())
    return (f"Junis usage from {source}: {calls:,} chat calls, {failed:,} failed, "
            f"{int(table['total_tokens'].sum()):,} tokens, {int(table['credits'].sum()):,} "
            f"credits ({credit_rule()}). `%junis usage --calls` lists every call.")


def plot(df: pd.DataFrame) -> Any:
    """Tokens by agent, tokens by UTC day and latency by agent, over chat calls, as a matplotlib
    Figure (no pyplot state)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigurationError(
            "`--plot` needs matplotlib: pip install 'junis-jupyter[plot]'.") from None
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    by_agent, by_day, latency = fig.subplots(1, 3)
    chats = chat_calls(df)
    labels = agent_labels(chats)
    tokens = chats["total_tokens"].fillna(0).astype("int64")
    spent = tokens.groupby(labels).sum().sort_index()
    by_agent.barh(list(spent.index), spent.to_numpy(dtype=float))
    by_agent.set_title("Tokens by agent")
    by_agent.set_xlabel("tokens")
    days = tokens.groupby(chats["started_at"].dt.strftime("%Y-%m-%d")).sum().sort_index()
    by_day.bar(list(days.index), days.to_numpy(dtype=float))
    by_day.set_title("Tokens by day (UTC)")
    by_day.tick_params(axis="x", labelrotation=30)
    failed = _failed(chats)
    ok = chats[~failed & chats["error_code"].isna()]
    names = sorted(agent_labels(ok).unique())
    for i, name in enumerate(names):      # one row of dots per agent, its median marked
        values = ok.loc[agent_labels(ok) == name, "latency_s"].to_numpy(dtype=float)
        latency.scatter(values, [i] * len(values), alpha=0.5, s=14)
        latency.plot([float(pd.Series(values).median())], [i], marker="|", markersize=18,
                     color="black")
    latency.set_yticks(range(len(names)), names)
    latency.set_title("Latency by agent (successful calls; | = median)")
    latency.set_xlabel("seconds")
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    return buf.getvalue()


def _utc(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    stamp = pd.Timestamp(ts)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
            ).to_pydatetime()


def show(*, since: datetime | None = None, until: datetime | None = None,
         calls: bool = False, plot_too: bool = False) -> Any:
    """`%junis usage`: the summary frame of the default ledger, after a line of totals (what the
    cell returns, so `spend = %junis usage` keeps it); `calls` returns the per-call usage frame
    instead; `plot_too` also draws the charts."""
    from IPython.display import Image, display

    from . import frames
    from .ledger import default_path
    since, until = _utc(since), _utc(until)
    df = frames.usage(since=since, until=until)
    window = f" since {since:%Y-%m-%d %H:%M} UTC" if since else ""
    if df.empty:
        print(f"No Junis calls recorded{window} in {default_path()}.")
        return df if calls else summary(df)
    fig = plot(df) if plot_too else None     # a missing matplotlib fails before any output
    table = None if calls else summary(df)
    if table is not None:
        print(headline(table, str(default_path())) if len(table) else
              f"No Junis chat calls recorded{window} in {default_path()}: `%junis usage "
              f"--calls` lists the {len(df):,} other calls.")
    if fig is not None:
        display(Image(data=_png(fig), format="png"))
    return df if table is None else table
