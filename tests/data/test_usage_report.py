"""The usage summary on hand-built ledger rows: exact counts, credits and percentiles per agent
and day over chat calls only; `%junis usage` (the summary by default, --calls every call)."""
from __future__ import annotations

import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from junis_jupyter import frames
from junis_jupyter.data import usage_report
from junis_jupyter.notebook.cellerror import CellError
from junis_jupyter.client.types import CallRecord, Usage
from junis_jupyter.errors import ConfigurationError
from junis_jupyter.data.ledger import Ledger
from junis_jupyter.notebook.cmd import status


def show(args: list[str] | str) -> object:
    """`%junis usage ARGS`: the command (notebook/cmd/status.py) over data/usage_report.py."""
    return status.usage(None, args.split() if isinstance(args, str) else args)  # type: ignore[arg-type]

DAY1 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
DAY2 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def rec(at: datetime, agent: str | None, latency: float, *, endpoint: str = "agent_chat",
        error: str | None = None, status: int = 200, tokens: int = 10,
        ttft: float | None = None) -> CallRecord:
    return CallRecord(started_at=at, endpoint=endpoint, agent=agent, session_id=None,
                      stream=ttft is not None, status=status, error_code=error,
                      usage=None if error else Usage(tokens - 3, 3, tokens), latency_s=latency,
                      first_token_s=ttft, request_id=None)


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    monkeypatch.setenv("JUNIS_HOME", str(tmp_path))
    led = Ledger()          # the default one, as `%junis usage` reads it
    for i in range(20):     # Research: latencies 1..20 s, day 1
        led.record(rec(DAY1 + timedelta(minutes=i), "Research", float(i + 1)))
    for i in range(2):      # two fast 429s: failures, kept out of the percentiles
        led.record(rec(DAY1 + timedelta(minutes=30 + i), "Research", 0.01,
                       error="rate_limit_exceeded", status=429))
    for i, lat in enumerate([0.5, 1.0, 1.5, 2.0]):   # Writer, streamed, day 2
        led.record(rec(DAY2 + timedelta(minutes=i), "Writer", lat, tokens=100,
                       ttft=0.1 * (i + 1)))
    led.record(rec(DAY2 + timedelta(hours=1), None, 3.0, endpoint="chat", tokens=50))
    led.record(rec(DAY2 + timedelta(hours=2), None, 0.2, endpoint="chat",
                   error="interrupted", status=200))      # a user's stop: not a failure
    for endpoint in ("agents", "sessions", "messages"):   # listings: no tokens, not spend
        led.record(rec(DAY2 + timedelta(hours=3), None, 0.05, endpoint=endpoint, tokens=0))
    led.record(rec(DAY2 + timedelta(hours=4), "Writer", 0.0, endpoint="cache",   # no call
                   error="cached", status=200))
    return led


def test_summary_is_chat_calls_by_day_and_agent(ledger: Ledger) -> None:
    table = usage_report.summary(frames.usage())
    assert table.dtypes.equals(frames.empty("usage_summary").dtypes)
    assert list(table.columns) == ["agent", "day", "calls", "failed", "total_tokens", "credits",
                                   "p50_latency_s", "p95_latency_s"]
    assert [(a, d.date()) for a, d in zip(table["agent"], table["day"])] == [
        ("Research", date(2026, 3, 1)), ("Orchestrator", date(2026, 3, 2)),
        ("Writer", date(2026, 3, 2))]                    # listings and the cache hit left out
    research, orchestrator, writer = (table.iloc[i] for i in range(3))
    assert (research["calls"], research["failed"], research["total_tokens"],
            research["credits"]) == (22, 2, 200, 20)     # 1 credit for each 10-token call
    assert research["p50_latency_s"] == pytest.approx(10.5)     # the 429s left out
    assert research["p95_latency_s"] == pytest.approx(19.05)
    assert (orchestrator["calls"], orchestrator["failed"], orchestrator["total_tokens"],
            orchestrator["credits"]) == (2, 0, 50, 1)    # the stopped call: no failure, no cost
    assert orchestrator["p50_latency_s"] == orchestrator["p95_latency_s"] == 3.0
    assert (writer["calls"], writer["total_tokens"], writer["credits"]) == (4, 400, 4)
    assert writer["p50_latency_s"] == pytest.approx(1.25)
    assert writer["p95_latency_s"] == pytest.approx(1.925)


def test_credits_follow_the_configured_rule(ledger: Ledger) -> None:
    from junis_jupyter.data import credits
    try:
        credits.configure(tokens_per_credit=50, minimum=2)
        table = usage_report.summary(frames.usage())
        assert table["credits"].tolist() == [20 * 2, 2, 4 * 2]
        assert "1 per started 50 total tokens, at least 2 a call" in usage_report.credit_rule()
    finally:
        credits.configure()


def test_summary_of_an_empty_frame_has_the_schema() -> None:
    table = usage_report.summary(frames.empty("usage"))
    assert len(table) == 0 and table.dtypes.equals(frames.empty("usage_summary").dtypes)


def test_show_returns_the_summary_or_with_calls_every_call(ledger: Ledger, capsys) -> None:
    table = show(["--since", "2026-03-02"])
    assert table["agent"].tolist() == ["Orchestrator", "Writer"]
    assert table["total_tokens"].sum() == 450
    said = capsys.readouterr().out
    assert said.startswith("Junis usage from ") and ": 6 chat calls, 0 failed, 450 tokens, 5 " \
        "credits (estimated: 1 per started 1,000 total tokens, at least 1 a call)." in said
    calls = show(["--calls", "--since", "2026-03-02"])
    assert len(calls) == 10 and calls.dtypes.equals(frames.empty("usage").dtypes)
    assert calls["credits"].tolist() == [1] * 5 + [0] * 5     # estimated per call
    assert len(show("--summary")) == 3                          # the old word still works
    assert len(show("--calls")) == 32


def test_only_listings_recorded_says_so(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("JUNIS_HOME", str(tmp_path))
    Ledger().record(rec(DAY1, None, 0.1, endpoint="agents", tokens=0))
    table = show([])
    assert len(table) == 0 and "No Junis chat calls recorded in " in capsys.readouterr().out


def test_show_with_nothing_recorded_says_so(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("JUNIS_HOME", str(tmp_path))
    assert len(show([])) == 0
    assert capsys.readouterr().out.startswith("No Junis calls recorded in ")


def test_bad_options_are_one_clear_error(ledger: Ledger) -> None:
    with pytest.raises(ConfigurationError, match="bad option for `%junis usage`"):
        show(["--sinse", "2026"])
    with pytest.raises(ConfigurationError, match="bad option"):
        show(["--since", "not a date"])


@pytest.mark.parametrize("options", ["--sinse 2026", "--since", "--since 'not a date'",
                                     "--since ''", "--plot=1", "--help", "extra"])
def test_bad_option_through_the_magic_is_one_line_and_no_argparse_noise(
        ledger: Ledger, capsys: pytest.CaptureFixture[str], options: str) -> None:
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "junis_jupyter")
    try:
        capsys.readouterr()
        result = shell.run_cell(f"%junis usage {options}", store_history=False)
        captured = capsys.readouterr()
    finally:
        shell.run_line_magic("unload_ext", "junis_jupyter")
    assert isinstance(result.error_in_exec, CellError)    # the cell fails, with one line
    lines = (captured.out + captured.err).splitlines()
    assert lines == [f"Junis: {result.error_in_exec.line}"], captured   # no "usage: ..." noise
    assert lines[0].startswith("Junis: bad option for `%junis usage`: ")
    assert "usage: %junis usage [--calls] [--plot] [--since DATE] [--until DATE]" in lines[0]
    assert ": 2" not in lines[0] and "Traceback" not in lines[0]


def test_plot_draws_tokens_by_agent_and_day_and_latency_by_agent(ledger: Ledger,
                                                                  capsys) -> None:
    fig = usage_report.plot(frames.usage())
    by_agent, by_day, latency = fig.axes
    assert [t.get_text() for t in by_agent.get_yticklabels()] == ["Orchestrator", "Research",
                                                                  "Writer"]
    assert [b.get_width() for b in by_agent.patches] == [50, 200, 400]
    assert [t.get_text() for t in by_day.get_xticklabels()] == ["2026-03-01", "2026-03-02"]
    assert [b.get_height() for b in by_day.patches] == [200, 450]
    assert [t.get_text() for t in latency.get_yticklabels()] == ["Orchestrator", "Research",
                                                                 "Writer"]
    assert sum(len(c.get_offsets()) for c in latency.collections) == 25   # successful calls
    assert usage_report._png(fig).startswith(b"\x89PNG")
    show(["--plot"])
    assert "Image" in capsys.readouterr().out


def test_plot_without_matplotlib_is_one_line(ledger: Ledger, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'junis-jupyter\[plot\]'"):
        show(["--plot"])
    assert capsys.readouterr().out == ""      # nothing half-shown before the error
