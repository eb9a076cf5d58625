"""Interpolation records every cut it makes (notebook/interpolate.py, views.py, context.py through
data/cuts.Cutter), and no cap leaves part of a key: `{In[n]}`, `{Err}`, an array, a view,
`--context`."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from junis_jupyter.data.cuts import Cut, Cutter
from junis_jupyter.errors import ConfigurationError
from junis_jupyter.notebook.context import recent_code
from junis_jupyter.notebook.interpolate import interpolate

KEY = "jns_live_" + "Kx7" * 10 + "Qz"          # key-shaped: masked wherever it is found


def secret_left(text: str) -> bool:
    secret = KEY[len("jns_live_"):]
    return any(secret[i:i + 5] in text for i in range(len(secret) - 4))


def cuts_of(text: str, ns: dict, **kwargs) -> tuple[str, list[Cut]]:
    cutter = Cutter()
    return interpolate(text, ns, cutter=cutter, **kwargs), cutter.cuts


@pytest.mark.parametrize("before", [1960, 1985, 1990, 1995])
def test_history_and_errors_are_masked_before_the_cap(before: int) -> None:
    source = "#" + "x" * before + KEY + " and more"
    text, cuts = cuts_of("{In[1]} {Err}", {"In": ["", source]}, errors=lambda n: source)
    assert not secret_left(text)
    over = len("#") + before + len("jns_live_…x7Qz") + len(" and more") > 2000
    assert [c.name for c in cuts] == (["{In[1]}", "{Err}"] if over else [])


def test_an_arrays_rows_and_characters_are_cuts() -> None:
    text, cuts = cuts_of("{a}", {"a": np.arange(3_000_000).reshape(10_000, 300)})
    assert cuts[0] == Cut("{a}", 20, 10_000, "rows")
    assert cuts[1].name == "{a}" and cuts[1].unit == "characters"
    assert text.endswith("more characters")


def test_a_views_text_cap_is_a_cut_and_an_asked_size_is_not() -> None:
    df = pd.DataFrame({f"c{i}": range(3) for i in range(2_000)})
    _, cuts = cuts_of("{df:schema}", {"df": df})
    assert cuts == [Cut("{df:schema}", 20_000, cuts[0].total, "characters")]
    big = pd.DataFrame({"n": range(30_000)})
    text, cuts = cuts_of("{big:csv=30000}", {"big": big}, max_prompt_chars=1_000_000)
    assert cuts == [] and text.endswith("\n29999")


def test_an_asked_size_over_the_cap_is_one_line_naming_it() -> None:
    big = pd.DataFrame({"n": range(30_000)})
    with pytest.raises(ConfigurationError) as raised:
        cuts_of("{big:json=30000}", {"big": big}, max_prompt_chars=50_000)
    line = str(raised.value)
    assert "\n" not in line and "over the prompt cap of 50,000" in line
    assert line.endswith("%config JunisMagics.max_prompt_chars = 360000")


def test_context_is_masked_and_its_cuts_named() -> None:
    history = ["", "a = 1", "x = '" + "y" * 3000 + KEY + "'", "%%junis\n{x}"]
    shell = SimpleNamespace(history_manager=SimpleNamespace(input_hist_raw=history))
    cutter = Cutter()
    text = recent_code(shell, 2, cutter=cutter, max_chars=3000)
    assert not secret_left(text) and "a = 1" in text
    assert cutter.cuts == [Cut("--context In[2]", 3000, 3000 + 5 + 14 + 1, "characters")]
