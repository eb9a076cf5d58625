"""{name} interpolation: values in, code and unknown names left alone, big things capped."""
from __future__ import annotations

import pandas as pd

from junis_jupyter.notebook.interpolate import format_value, frame_to_markdown, interpolate


def test_names_and_attributes_are_replaced():
    class Obj:
        label = "L"
    ns = {"city": "Paris", "n": 3, "o": Obj()}
    assert interpolate("{city} has {n} parks; {o.label}", ns) == "Paris has 3 parks; L"


def test_unknown_names_and_code_survive():
    ns = {"x": 1, "y": [1, 2]}
    for text in ('d = {"a": 1}', "{x for x in y}", "{missing}", "{{x}}", "f({})", "{ x + 1 }",
                 "{o._private}", "{In[99]}", "{y.nope}", "{\nx\n}"):
        assert interpolate(text, ns) == text, text


def test_private_attributes_are_not_read():
    class Obj:
        _secret = "s"
    assert interpolate("{o._secret}", {"o": Obj()}) == "{o._secret}"


def test_in_and_out_history():
    ns = {"In": ["", "df.describe()", "1 + 1"], "Out": {2: 2}}
    assert interpolate("code: {In[1]} gave {Out[2]}", ns) == "code: df.describe() gave 2"
    assert interpolate("{Out[1]}", ns) == "{Out[1]}"


def test_long_strings_are_capped_saying_how_much():
    text = interpolate("{s}", {"s": "a" * 5000}, max_string_chars=100)
    assert text.startswith("a" * 100) and text.endswith("[4900 more characters]")
    assert len(text) < 200


def test_frame_becomes_a_capped_markdown_table():
    df = pd.DataFrame({"region": [f"r{i}" for i in range(1000)], "sales": range(1000)})
    text = interpolate("Look: {df}", {"df": df}, max_table_rows=5)
    lines = text.splitlines()
    assert lines[0] == "Look: | region | sales |"
    assert lines[1] == "|---|---|"
    assert lines[2] == "| r0 | 0 |" and lines[6] == "| r4 | 4 |"
    assert lines[7] == "(995 more rows omitted; 1000 rows x 2 columns in all)"
    assert len(lines) == 8


def test_small_frame_has_no_omission_note_and_escapes_pipes():
    df = pd.DataFrame({"a": ["x|y", "two\nlines"]})
    assert frame_to_markdown(df) == "| a |\n|---|\n| x\\|y |\n| two lines |"


def test_named_index_is_kept_and_series_work():
    df = pd.DataFrame({"v": [1, 2]}, index=pd.Index(["p", "q"], name="k"))
    assert frame_to_markdown(df).splitlines()[0] == "| k | v |"
    assert format_value(pd.Series([7, 8], name="s")).splitlines()[:3] == ["| s |", "|---|", "| 7 |"]
