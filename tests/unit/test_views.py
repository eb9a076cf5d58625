"""Data views for prompts (notebook/views.py): the exact text a known frame becomes.

The same text on every pandas CI runs (2.x on Python 3.10, 3.x on the others): `make test-pythons`
runs this file on both."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from junis_jupyter.notebook.interpolate import interpolate
from junis_jupyter.notebook.views import dtype_name, format_value


@pytest.fixture
def df() -> pd.DataFrame:
    """Nulls in every column, a category, a nullable integer and UTC datetimes."""
    return pd.DataFrame({
        "region": pd.Categorical(["North", "South", None, "North", "East", "South"]),
        "sales": [120.5, None, 98.0, 143.25, 87.0, 110.0],
        "units": pd.array([12, 9, None, 14, 8, 11], dtype="Int64"),
        "day": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", None, "2024-01-05",
                               "2024-01-06"], utc=True),
    })


def test_schema_view(df):
    assert interpolate("{df:schema}", {"df": df}) == 'DataFrame: 6 rows x 4 columns\n| column | dtype | nulls |\n|---|---|---|\n| region | category | 1 |\n| sales | float64 | 1 |\n| units | Int64 | 1 |\n| day | datetime (UTC) | 1 |\n\ndescribe():\n| column | count | unique | top | freq | mean | std | min | 25% | 50% | 75% | max |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n| region | 5 | 3 | North | 2 |  |  |  |  |  |  |  |\n| sales | 5 |  |  |  | 111.8 | 21.64 | 87 | 98 | 110 | 120.5 | 143.2 |\n| units | 5 |  |  |  | 10.8 | 2.387 | 8 | 9 | 11 | 12 | 14 |'

def test_head_view(df):
    assert interpolate("{df:head=2}", {"df": df}) == '| region | sales | units | day |\n|---|---|---|---|\n| North | 120.5 | 12 | 2024-01-01 00:00:00+00:00 |\n| South | nan | 9 | 2024-01-02 00:00:00+00:00 |\n(4 more rows omitted; 6 rows x 4 columns in all)'

def test_sample_view(df):
    assert interpolate("{df:sample=3}", {"df": df}) == '|  | region | sales | units | day |\n|---|---|---|---|---|\n| 5 | South | 110.0 | 11 | 2024-01-06 00:00:00+00:00 |\n| 2 | nan | 98.0 | <NA> | 2024-01-03 00:00:00+00:00 |\n| 1 | South | nan | 9 | 2024-01-02 00:00:00+00:00 |\n(3 of 6 rows, sampled with seed 0)'

def test_csv_view(df):
    assert interpolate("{df:csv=4}", {"df": df}) == 'region,sales,units,day\nNorth,120.5,12,2024-01-01 00:00:00+00:00\nSouth,,9,2024-01-02 00:00:00+00:00\n,98.0,,2024-01-03 00:00:00+00:00\nNorth,143.25,14,\n… 2 more rows'

def test_json_view(df):
    assert interpolate("{df:json=2}", {"df": df}) == '[{"region":"North","sales":120.5,"units":12,"day":"2024-01-01T00:00:00.000Z"},{"region":"South","sales":null,"units":9,"day":"2024-01-02T00:00:00.000Z"}]\n… 4 more rows'


def test_sample_is_seeded_so_a_rerun_sends_the_same_rows(df):
    assert interpolate("{df:sample=3}", {"df": df}) == interpolate("{df:sample=3}", {"df": df.copy()})


def test_a_series_takes_the_views():
    text = interpolate("{s:head=1}", {"s": pd.Series([1, 2, 3], name="n")})
    assert text == "| n |\n|---|\n| 1 |\n(2 more rows omitted; 3 rows x 1 columns in all)"


def test_big_containers_are_capped_with_a_marker():
    assert format_value(list(range(10_000)), max_table_rows=3) == "[0, 1, 2, … 9,997 more items]"
    assert format_value({i: i for i in range(30)}, max_table_rows=2) == "{0: 0, 1: 1, … 28 more items}"
    assert format_value(np.arange(30).reshape(10, 3), max_table_rows=2) == \
        "array of 10x3 int64: [[0, 1, 2], [3, 4, 5]]; … 8 more rows"
    assert format_value([1, 2], max_table_rows=3) == "[1, 2]"


# -- the same text whichever pandas the kernel has ----------------------------------------------

def _as_pandas_2_builds_it(unit: str) -> pd.DataFrame:
    """One table as each pandas builds it from the same input: pandas 2 gives `object` text (None
    kept) and ns datetimes; pandas 3 gives `str` text (NaN) and often us. Both kinds are made
    here explicitly, so each pandas checks both."""
    times = pd.to_datetime(["2024-03-01 09:30", None, "2024-03-02 17:05"], format="ISO8601")
    return pd.DataFrame({
        "city": pd.Series(["Oslo", None, "Lima"], dtype=object),
        "seen": times.astype(f"datetime64[{unit}]"),
        "seen_utc": times.tz_localize("UTC").astype(f"datetime64[{unit}, UTC]"),
        "local": times.tz_localize("Europe/Oslo").astype(f"datetime64[{unit}, Europe/Oslo]"),
        "took": pd.to_timedelta(["1.5s", None, "2h"]).astype(f"timedelta64[{unit}]"),
    })


def test_datetimes_and_durations_are_named_without_their_unit():
    for unit in ("s", "ms", "us", "ns"):
        df = _as_pandas_2_builds_it(unit)
        assert [dtype_name(df[c]) for c in df.columns] == \
            ["str", "datetime", "datetime (UTC)", "datetime (Europe/Oslo)", "timedelta"], unit


def test_text_is_str_whether_pandas_made_it_object_or_str():
    assert dtype_name(pd.Series(["a", None], dtype=object)) == "str"
    assert dtype_name(pd.Series(["a", None])) == "str"     # object in pandas 2, str in pandas 3
    # what is not all text stays object, and pandas' explicit string dtype keeps its name
    assert dtype_name(pd.Series(["a", 1], dtype=object)) == "object"
    assert dtype_name(pd.Series([None, None], dtype=object)) == "object"
    assert dtype_name(pd.Series(["a", None], dtype="string")) == "string"


def test_every_view_reads_the_same_for_ns_object_and_us_str_frames():
    old = _as_pandas_2_builds_it("ns")
    new = _as_pandas_2_builds_it("us").astype({"city": pd.Series(["x"]).dtype})
    for field in ("{df}", "{df:schema}", "{df:head=2}", "{df:sample=2}", "{df:csv}", "{df:json}"):
        assert interpolate(field, {"df": old}) == interpolate(field, {"df": new}), field


def test_schema_of_datetimes_durations_and_text():
    assert interpolate("{df:schema}", {"df": _as_pandas_2_builds_it("ns")}) == (
        "DataFrame: 3 rows x 5 columns\n"
        "| column | dtype | nulls |\n|---|---|---|\n"
        "| city | str | 1 |\n| seen | datetime | 1 |\n| seen_utc | datetime (UTC) | 1 |\n"
        "| local | datetime (Europe/Oslo) | 1 |\n| took | timedelta | 1 |\n\n"
        "describe():\n"
        "| column | count | mean | std | min | 25% | 50% | 75% | max |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
        "| took | 2 | 0 days 01:00:00.750000 | 0 days 01:24:50.108000 | 0 days 00:00:01.500000 "
        "| 0 days 00:30:01.125000 | 0 days 01:00:00.750000 | 0 days 01:30:00.375000 "
        "| 0 days 02:00:00 |")


def test_a_missing_text_value_reads_nan_as_pandas_3_stores_it():
    df = pd.DataFrame({"city": pd.Series(["Oslo", None], dtype=object),
                       "any": pd.Series([1, None], dtype=object)})
    assert interpolate("{df}", {"df": df}) == \
        "| city | any |\n|---|---|\n| Oslo | 1 |\n| nan | None |"


def test_json_view_sends_what_json_has_no_type_for_as_text():
    df = pd.DataFrame({"month": pd.period_range("2024-01", periods=2, freq="M"), "n": [1, 2]})
    assert interpolate("{df:json}", {"df": df}) == \
        '[{"month":"2024-01","n":1},{"month":"2024-02","n":2}]'


def test_json_view_writes_durations_of_every_unit_as_they_are():
    took = pd.to_timedelta(["1.5s", None])
    for unit in ("ms", "us", "ns"):
        df = pd.DataFrame({"took": took.astype(f"timedelta64[{unit}]")})
        assert interpolate("{df:json}", {"df": df}) == \
            '[{"took":"P0DT0H0M1.500S"},{"took":null}]', unit
    # a duration longer than ns can hold (292 years) is sent as text, not an error
    long = pd.DataFrame({"took": pd.Series([pd.Timedelta(days=1)], dtype="m8[s]") * 200_000})
    assert interpolate("{df:json}", {"df": long}) == '[{"took":"P200000DT0H0M0S"}]'


def test_schema_of_a_frame_with_a_column_name_twice():
    df = pd.DataFrame([[1, "a"], [2, None]], columns=["x", "x"])
    assert interpolate("{df:schema}", {"df": df}).startswith(
        "DataFrame: 2 rows x 2 columns\n| column | dtype | nulls |\n|---|---|---|\n"
        "| x | int64 | 0 |\n| x | str | 1 |\n")
