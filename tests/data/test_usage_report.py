"""The usage summary on hand-built ledger rows: exact counts and percentiles; `%junis usage`."""
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
    return led


def test_summary_numbers_on_known_data(ledger: Ledger) -> None:
    s = usage_report.summary(frames.usage())
    t = s["totals"]
    assert (t["calls"], t["failures"]) == (28, 2)
    assert t["total_tokens"] == 20 * 10 + 4 * 100 + 50
    assert t["prompt_tokens"] == 20 * 7 + 4 * 97 + 47 and t["completion_tokens"] == 25 * 3
    by_agent = s["by_agent"]
    assert list(by_agent.index) == ["(orchestrator)", "Research", "Writer"]
    research, writer = by_agent.loc["Research"], by_agent.loc["Writer"]
    assert (research["calls"], research["failures"], research["total_tokens"]) == (22, 2, 200)
    assert research["latency_p50_s"] == pytest.approx(10.5)
    assert research["latency_p95_s"] == pytest.approx(19.05)
    assert pd.isna(research["first_token_p50_s"])
    assert writer["latency_p50_s"] == pytest.approx(1.25)
    assert writer["latency_p95_s"] == pytest.approx(1.925)
    assert writer["first_token_p50_s"] == pytest.approx(0.25)
    assert writer["first_token_p95_s"] == pytest.approx(0.385)
    orch = by_agent.loc["(orchestrator)"]
    assert (orch["calls"], orch["failures"], orch["latency_p50_s"]) == (2, 0, 3.0)
    by_day = s["by_day"]
    assert list(by_day.index) == [date(2026, 3, 1), date(2026, 3, 2)]
    assert by_day["calls"].tolist() == [22, 6]
    assert by_day["total_tokens"].tolist() == [200, 450]
    assert str(by_day["calls"].dtype) == "Int64" and str(by_day["latency_p95_s"].dtype) == "Float64"


def test_summary_of_an_empty_frame() -> None:
    s = usage_report.summary(frames.empty("usage"))
    assert s["totals"]["calls"] == 0 and s["totals"]["total_tokens"] == 0
    assert len(s["by_agent"]) == 0 and len(s["by_day"]) == 0


def test_show_returns_the_frame_or_the_summary_and_since_filters(ledger: Ledger) -> None:
    df = show(["--since", "2026-03-02"])
    assert len(df) == 6 and df["total_tokens"].sum() == 450
    assert df.dtypes.equals(frames.empty("usage").dtypes)
    out = repr(show(["--summary", "--since", "2026-03-02"]))
    assert "Junis usage: 6 calls, 0 failed, 450 tokens" in out
    assert "Writer" in out and "Research" not in out
    assert "28 calls, 2 failed, 650 tokens" in repr(show("--summary"))
    assert len(show("")) == 28


def test_html_rendering_escapes_and_holds_both_tables(ledger: Ledger) -> None:
    summary = usage_report.UsageSummary(usage_report.summary(frames.usage()), "<path>")
    page = summary._repr_html_()
    assert "&lt;path&gt;" in page and "<path>" not in page
    assert page.count("<table") == 2 and "19.050" in page


def test_show_with_nothing_recorded_says_so(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("JUNIS_HOME", str(tmp_path))
    show([])
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
    assert "usage: %junis usage [--summary] [--plot] [--since DATE] [--until DATE]" in lines[0]
    assert ": 2" not in lines[0] and "Traceback" not in lines[0]


def test_plot_draws_tokens_and_latency(ledger: Ledger, capsys) -> None:
    fig = usage_report.plot(frames.usage())
    tokens, latency = fig.axes
    assert tokens.lines[0].get_ydata()[-1] == 650           # cumulative tokens end at the total
    assert [t.get_text() for t in latency.get_yticklabels()] == ["(orchestrator)", "Research",
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
