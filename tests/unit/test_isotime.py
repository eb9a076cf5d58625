"""client/_isotime.py: ISO 8601 times read the same on Python 3.10 as on 3.11 and later
(`make test-pythons` runs this on 3.10, where datetime.fromisoformat reads less)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from junis_jupyter.client._bodies import parse_time
from junis_jupyter.client._isotime import fromisoformat

UTC = timezone.utc
SECOND = datetime(2025, 1, 10, 10, 0, 0, tzinfo=UTC)

# what a server may write, each as Python 3.11's fromisoformat reads it
READ = [
    ("2025-01-10T10:00:00Z", SECOND),
    ("2025-01-10T10:00:00+00:00", SECOND),
    ("2025-01-10T10:00:00+0000", SECOND),
    ("2025-01-10T10:00:00+00", SECOND),
    ("2025-01-10 10:00:00Z", SECOND),
    ("2025-01-10T10:00:00.1Z", SECOND.replace(microsecond=100_000)),
    ("2025-01-10T10:00:00.12Z", SECOND.replace(microsecond=120_000)),
    ("2025-01-10T10:00:00.123Z", SECOND.replace(microsecond=123_000)),
    ("2025-01-10T10:00:00.1234Z", SECOND.replace(microsecond=123_400)),
    ("2025-01-10T10:00:00.123456Z", SECOND.replace(microsecond=123_456)),
    ("2025-01-10T10:00:00.123456789Z", SECOND.replace(microsecond=123_456)),   # cut, not rounded
    ("2025-01-10T10:00:00,5Z", SECOND.replace(microsecond=500_000)),
    ("2025-01-10T11:30:00.25+01:30", SECOND.replace(microsecond=250_000)),
    ("2025-01-10T05:00:00-0500", SECOND),
]


@pytest.mark.parametrize(("text", "when"), READ)
def test_read_as_python_3_11_reads_it(text: str, when: datetime) -> None:
    assert fromisoformat(text) == when
    assert parse_time(text) == when
    assert parse_time(text.replace("Z", "z")) == when


def test_the_offset_is_kept_not_only_the_instant() -> None:
    assert fromisoformat("2025-01-10T11:30:00+0130").utcoffset() == timedelta(hours=1, minutes=30)


def test_naive_times_and_dates_stay_as_fromisoformat_reads_them() -> None:
    assert fromisoformat("2025-01-10T10:00:00") == datetime(2025, 1, 10, 10)
    assert fromisoformat("2025-01-10T10:00:00.5") == datetime(2025, 1, 10, 10, 0, 0, 500_000)
    assert fromisoformat("2025-01-10") == datetime(2025, 1, 10)
    assert parse_time("2025-01-10T10:00:00.12") == SECOND.replace(microsecond=120_000)  # naive: UTC


@pytest.mark.parametrize("text", ["not a time", "2025-13-01T00:00:00Z", "2025-01-10T25:00:00Z",
                                  "2025-01-10T10:00:00+99:00", "2025-01-10T10:00:00.5+1", ""])
def test_what_is_no_time_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        fromisoformat(text)
    assert parse_time(text) is None


def test_usage_bounds_given_as_text_read_alike(tmp_path) -> None:
    """frames.usage(since=..., until=...) takes ISO text: the ledger reads it as 3.11 does."""
    from junis_jupyter.client.types import CallRecord, Usage
    from junis_jupyter.data.ledger import Ledger

    ledger = Ledger(tmp_path / "usage.sqlite3")
    for i in range(4):
        ledger.record(CallRecord(
            started_at=SECOND + timedelta(seconds=i), endpoint="/v1/chat/completions", agent=None,
            session_id=f"s{i}", stream=False, status=200, error_code=None, usage=Usage(1, 1, 2),
            latency_s=0.1, first_token_s=None, request_id=None, attempts=1))
    picked = ledger.rows(since="2025-01-10T10:00:00.5+0000", until="2025-01-10T12:00:03,25+0200")
    assert [r["session_id"] for r in picked] == ["s1", "s2", "s3"]
