"""{name} interpolation: values in, code and unknown names left alone, big things capped."""
from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from junis_jupyter.errors import ConfigurationError
from junis_jupyter.notebook.fences import code_regions
from junis_jupyter.notebook.interpolate import interpolate
from junis_jupyter.notebook.views import format_value, frame_to_markdown


def test_names_and_attributes_are_replaced():
    class Obj:
        label = "L"
    ns = {"city": "Paris", "n": 3, "o": Obj()}
    assert interpolate("{city} has {n} parks; {o.label}", ns) == "Paris has 3 parks; L"


def test_unknown_names_and_code_survive():
    ns = {"x": 1, "y": [1, 2]}
    for text in ('d = {"a": 1}', "{x for x in y}", "{missing}", "f({})", "{ x + 1 }", "{ x }",
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
    assert text.startswith("a" * 100) and text.endswith("… 4,900 more characters")
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


# -- code is left alone, braces escape ----------------------------------------------------------

NS = {"x": 42, "d": {"k": 1}}


@pytest.mark.parametrize("text", [
    'Run `print(f"{x}")` please',
    "Double ``a `{x}` b`` ticks",
    '```python\nprint(f"{x}")\n{x}\n```',
    '~~~\n{"x": {x}}\n~~~',
    "```\nan unclosed fence keeps {x} to the end",
])
def test_code_spans_and_fences_are_sent_as_written(text):
    assert interpolate(text, NS) == text


def test_outside_code_names_are_replaced_and_double_braces_are_literal():
    text = 'x is {x}; `{x}` stays; {{x}} is literal; so is }} and {{'
    assert interpolate(text, NS) == "x is 42; `{x}` stays; {x} is literal; so is } and {"


def test_an_unmatched_backtick_is_not_code():
    assert interpolate("a ` then {x}", NS) == "a ` then 42"


def test_backticks_in_prose_open_no_fence():
    # A backtick fence's info string holds no backtick: this line is text with a code span.
    text = "```python``` opens a block, like this: {x}\n\nand {x}"
    assert interpolate(text, NS) == "```python``` opens a block, like this: 42\n\nand 42"


def test_fence_closed_by_a_longer_run_only():
    text = "````\n{x}\n```\n{x}\n````\nafter {x}"
    assert interpolate(text, NS) == "````\n{x}\n```\n{x}\n````\nafter 42"


_pieces = st.lists(st.one_of(
    st.sampled_from(["{x}", "{d}", "{{", "}}", "text ", "\n", "{ x }", "{missing}"]),
    st.text(alphabet="ab{}x `\n", max_size=8)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(before=_pieces, code=st.text(alphabet="ab{}x:=\"'\n ", min_size=1, max_size=30)
       .filter(lambda c: c.strip()), after=_pieces, fenced=st.booleans())
def test_property_code_is_sent_byte_for_byte(before, code, after, fenced):
    """Whatever surrounds it and whatever the namespace holds, code arrives unchanged."""
    block = f"\n```\n{code}\n```\n" if fenced else "`" + code.replace("\n", " ") + "`"
    text = "".join(before).replace("`", "") + block + "".join(after).replace("`", "")
    assert block in interpolate(text, NS)
    assert any(block.strip("\n") in text[a:b] for a, b in code_regions(text))


# -- errors and views --------------------------------------------------------------------------

def test_err_and_err_n_come_from_the_errors_callback():
    known = {3: "cell 3 failed", None: "the last failure"}
    out = interpolate("{Err} / {Err[3]} / {Err[9]}", {}, errors=known.get)
    assert out == "the last failure / cell 3 failed / {Err[9]}"
    assert interpolate("{Err}", {}) == "{Err}"


def test_an_unknown_view_is_one_clear_error_naming_the_views():
    df = pd.DataFrame({"a": [1]})
    with pytest.raises(ConfigurationError, match="unknown view 'nope': the views are schema, head"):
        interpolate("{df:nope}", {"df": df})


def test_a_view_on_something_else_is_a_clear_error():
    with pytest.raises(ConfigurationError, match="for DataFrames and Series, not int"):
        interpolate("{x:schema}", NS)


def test_a_view_on_a_missing_name_is_left_alone():
    assert interpolate("{nothing:schema}", NS) == "{nothing:schema}"
