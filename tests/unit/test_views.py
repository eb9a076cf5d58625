"""Data views for prompts (notebook/views.py): the exact text a known frame becomes."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from junis_jupyter.notebook.interpolate import interpolate
from junis_jupyter.notebook.views import format_value


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
    assert interpolate("{df:schema}", {"df": df}) == 'DataFrame: 6 rows x 4 columns\n| column | dtype | nulls |\n|---|---|---|\n| region | category | 1 |\n| sales | float64 | 1 |\n| units | Int64 | 1 |\n| day | datetime64[us, UTC] | 1 |\n\ndescribe():\n| column | count | unique | top | freq | mean | std | min | 25% | 50% | 75% | max |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n| region | 5 | 3 | North | 2 |  |  |  |  |  |  |  |\n| sales | 5 |  |  |  | 111.8 | 21.64 | 87 | 98 | 110 | 120.5 | 143.2 |\n| units | 5 |  |  |  | 10.8 | 2.387 | 8 | 9 | 11 | 12 | 14 |'

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
