"""Where things stand: `%junis status` (the session, the last answer, the rate limit) and
`%junis usage` (what was spent, from the usage ledger)."""
from __future__ import annotations

import argparse
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .parser import Parser

if TYPE_CHECKING:
    from ..state import KernelState

__all__ = ["status", "usage"]


def status(state: KernelState, args: list[str]) -> None:
    Parser("%junis status", "%junis status").parse(args)
    rows: list[tuple[Any, ...]] = []
    if state.session_id:
        st = state.client.session_status(state.session_id)
        rows.append(("session", st.session_id))
        rows.append(("status", st.status))
        rows.append(("active", st.is_active))
        rows.append(("last update", _when(st.last_update_time)))
    else:
        rows.append(("session", "(none yet: the next %%junis cell opens one)"))
    if state.last_result is not None:
        rows.append(("last answer", state.last_result.usage.describe()))
    made = state.client_if_made
    rl = made.rate_limit if made is not None else None      # None before the first call
    said = rl.describe(time.time()) if rl is not None else None
    rows.append(("rate limit", said or "(no call made yet)"))
    from ..render import Table
    state.show(Table(("", ""), rows))


def _when(t: Any) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S") if t is not None else ""


def date_arg(text: str) -> datetime:
    """A command's DATE (2026-03-01, or a full time), refused in one line when it is not one."""
    import pandas as pd  # only when a date is given
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        ts = pd.NaT
    if pd.isna(ts):                     # pd.Timestamp("") is NaT, not an error
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (try 2026-03-01)")
    return ts.to_pydatetime()


USAGE = "%junis usage [--calls] [--plot] [--since DATE] [--until DATE]"
# --summary was the summary before it became the default: still taken, so old notebooks run.
_USAGE = Parser("%junis usage", USAGE).add("--plot", action="store_true") \
    .add("--calls", action="store_true").add("--summary", action="store_true") \
    .add("--since", metavar="DATE", type=date_arg).add("--until", metavar="DATE", type=date_arg)


def usage(state: KernelState, args: list[str]) -> Any:
    """The summary frame (chat calls by agent and day), or with --calls every call."""
    opts = _USAGE.parse(args)
    from ...data.usage_report import show
    return show(since=opts.since, until=opts.until, calls=opts.calls, plot_too=opts.plot)
