"""What you have spent, over the usage ledger: what `%junis usage` shows (its words are parsed by
the notebook's command parser, notebook/cmd/status.py).

Failures are calls that ended with an error code (a user's stop, `interrupted`, is not one).
Latency and time-to-first-token percentiles are over successful calls only, so a burst of fast
429s does not make the service look quick; they interpolate linearly (numpy's default).
"""
from __future__ import annotations

import html
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from ..client.types import Usage
from ..errors import ConfigurationError

__all__ = ["summary", "plot", "show", "UsageSummary"]

_METRICS = ("calls", "failures", "prompt_tokens", "completion_tokens", "total_tokens",
            "latency_p50_s", "latency_p95_s", "first_token_p50_s", "first_token_p95_s")
_COUNTS = _METRICS[:5]


def _failed(df: pd.DataFrame) -> pd.Series:
    code = df["error_code"]
    ok = code.isin(["interrupted", "cached"])       # stopped by the user; replayed, no call
    return (code.notna() & ~ok).fillna(False).astype(bool) | \
        (df["status"] >= 400).fillna(False).astype(bool)


def _successful(df: pd.DataFrame, failed: pd.Series) -> pd.DataFrame:
    """The calls that neither failed nor were stopped (the ones latencies are measured on)."""
    return df[~failed & df["error_code"].isna()]


def _metrics(df: pd.DataFrame) -> list[Any]:
    failed = _failed(df)
    ok = _successful(df, failed)
    ttft = ok["first_token_s"].dropna()

    def pct(s: pd.Series, q: float) -> Any:
        return float(s.quantile(q)) if len(s) else pd.NA

    return [len(df), int(failed.sum()), int(df["prompt_tokens"].sum()),
            int(df["completion_tokens"].sum()), int(df["total_tokens"].sum()),
            pct(ok["latency_s"], 0.5), pct(ok["latency_s"], 0.95), pct(ttft, 0.5), pct(ttft, 0.95)]


def _table(df: pd.DataFrame, keys: pd.Series, name: str) -> pd.DataFrame:
    groups = list(df.groupby(keys, sort=True))
    rows = [_metrics(g) for _, g in groups]
    columns = {m: pd.array([r[i] for r in rows], dtype="Int64" if m in _COUNTS else "Float64")
               for i, m in enumerate(_METRICS)}
    index = pd.Index([k for k, _ in groups], name=name)
    return pd.DataFrame(columns, index=index)


def agent_labels(df: pd.DataFrame) -> pd.Series:
    """The agent of each call; calls without one are named by what they were."""
    fallback = df["endpoint"].map(lambda e: "(orchestrator)" if e == "chat" else f"({e})")
    return df["agent"].fillna(fallback).astype(str)


def summary(df: pd.DataFrame) -> dict[str, Any]:
    """Totals (a dict) and the same figures by agent and by UTC day (DataFrames) of a usage
    frame."""
    totals = dict(zip(_METRICS, _metrics(df), strict=True))
    totals["since"] = df["started_at"].min() if len(df) else None
    totals["until"] = df["started_at"].max() if len(df) else None
    day = df["started_at"].dt.floor("D").dt.date
    return {"totals": totals, "by_agent": _table(df, agent_labels(df), "agent"),
            "by_day": _table(df, day, "day")}


@dataclass
class UsageSummary:
    """`summary()` rendered: HTML tables in a notebook, plain text in a terminal."""
    data: dict[str, Any]
    source: str

    def _headline(self) -> str:
        t = self.data["totals"]
        tokens = Usage(t["prompt_tokens"], t["completion_tokens"], t["total_tokens"]).describe()
        return (f"{t['calls']} calls, {t['failures']} failed, {tokens}, "
                f"{t['since']:%Y-%m-%d %H:%M} to {t['until']:%Y-%m-%d %H:%M} UTC")

    def _repr_html_(self) -> str:
        fmt = {m: "{:.3f}".format for m in _METRICS if m not in _COUNTS}
        parts = [f"<p><b>Junis usage</b>: {html.escape(self._headline())}<br>"
                 f"<small>from {html.escape(self.source)}</small></p>"]
        for key, title in (("by_agent", "By agent"), ("by_day", "By day (UTC)")):
            table = self.data[key].to_html(formatters=fmt, na_rep="–", border=0)
            parts.append(f"<h4>{title}</h4>{table}")
        return "\n".join(parts)

    def __repr__(self) -> str:
        blocks = [f"Junis usage: {self._headline()} (from {self.source})"]
        for key, title in (("by_agent", "By agent"), ("by_day", "By day (UTC)")):
            text = self.data[key].to_string(na_rep="-", float_format="{:.3f}".format)
            blocks.append(f"{title}:\n{text}")
        return "\n\n".join(blocks)


def plot(df: pd.DataFrame) -> Any:
    """Tokens over time and latency by agent, as a matplotlib Figure (no pyplot state)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigurationError(
            "`--plot` needs matplotlib: pip install 'junis-jupyter[plot]'.") from None
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    tokens, latency = fig.subplots(1, 2)
    ordered = df.sort_values("started_at")
    times = ordered["started_at"].dt.tz_convert(None).to_numpy()
    tokens.step(times, ordered["total_tokens"].fillna(0).cumsum().to_numpy(dtype=float),
                where="post")
    tokens.set_title("Tokens used (cumulative)")
    tokens.set_ylabel("tokens")
    tokens.tick_params(axis="x", labelrotation=30)
    ok = _successful(df, _failed(df))
    labels = agent_labels(ok)
    names = sorted(labels.unique())
    for i, name in enumerate(names):      # one row of dots per agent, its median marked
        values = ok.loc[labels == name, "latency_s"].to_numpy(dtype=float)
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
         summary_only: bool = False, plot_too: bool = False) -> Any:
    """`%junis usage`: the usage frame of the default ledger (what the cell returns, so
    `usage = %junis usage` keeps it); `summary_only` returns the per-agent and per-day summary
    instead; `plot_too` also draws the charts."""
    from IPython.display import Image, display

    from . import frames
    from .ledger import default_path
    since, until = _utc(since), _utc(until)
    df = frames.usage(since=since, until=until)
    if df.empty:
        window = f" since {since:%Y-%m-%d %H:%M} UTC" if since else ""
        print(f"No Junis calls recorded{window} in {default_path()}.")
        return df
    fig = plot(df) if plot_too else None     # a missing matplotlib fails before any output
    if fig is not None:
        display(Image(data=_png(fig), format="png"))
    return UsageSummary(summary(df), str(default_path())) if summary_only else df
