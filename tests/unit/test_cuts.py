"""data/cuts.py: a value cut on its way into a prompt is marked, named, and never leaves a key
(or what a cap left of one) in the text."""
from __future__ import annotations

import pytest

from junis_jupyter import config
from junis_jupyter.data.cuts import Cut, cap_text, describe

KEY = "jns_live_" + "Ab3" * 10 + "Zz"          # 32 characters after the prefix


def test_a_long_value_is_cut_marked_and_named() -> None:
    text, cut = cap_text("{notes}", "x" * 2500, 2000)
    assert text == "x" * 2000 + "… 500 more characters"
    assert cut == Cut("{notes}", 2000, 2500, "characters")
    assert describe([cut, Cut("{df}", 20, 3500, "rows")]) == \
        "{notes}: 2,000 of 2,500 characters · {df}: 20 of 3,500 rows"


def test_a_short_value_is_not_cut() -> None:
    assert cap_text("{x}", "hello", 10) == ("hello", None)
    assert describe([]) == ""


@pytest.mark.parametrize("before", [1900, 1960, 1991, 1995, 2000 - 9, 2000 - 3])
def test_a_key_cut_by_the_cap_leaves_nothing_of_it(before: int) -> None:
    """Whole, a key shows as its mask (`jns_live_…` and its last four, as everywhere); cut by
    the cap (issue 21: `'x' * 1960 + key` under a 2,000-character cap once sent 31 of its 32
    characters), nothing of it is left."""
    text, _ = cap_text("{s}", "x" * before + KEY + " tail", 1960 + 20)
    secret = KEY[len("jns_live_"):]
    assert not any(secret[i:i + 5] in text for i in range(len(secret) - 4))


def test_a_key_shaped_beginning_left_at_the_cut_is_masked() -> None:
    """Not a whole key (the mask's pattern does not match), yet the start of one at the cut."""
    text, cut = cap_text("{s}", "x" * 10 + "jns_live_Ab3Ab3Ab3Ab3 and more", 25)
    assert text == "x" * 10 + "jns_live_…… 15 more characters" and cut is not None


def test_the_current_key_is_masked_whatever_its_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUNIS_API_KEY", "odd-but-secret-key-123456")
    config.set_login_key(None)
    text, cut = cap_text("{s}", "my key is odd-but-secret-key-123456", 100)
    assert "odd-but-secret" not in text and cut is None
