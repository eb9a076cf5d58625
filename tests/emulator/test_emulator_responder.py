"""The scripted responder and the tokenizer, without a server."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from junis_jupyter.emulator.responder import (
    DirectiveError, answer_text, compose, parse_directives, split_pieces)
from junis_jupyter.emulator.tokens import count_tokens, truncate_tokens


def test_tokenizer_rule() -> None:
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("  ") == 0
    assert count_tokens("naïve café_2 -> x") == 5      # \w is unicode-aware; '-' and '>' are one each


def test_truncate_tokens_keeps_whole_tokens() -> None:
    assert truncate_tokens("one, two three", 2) == ("one,", True)
    assert truncate_tokens("one two", 2) == ("one two", False)
    assert truncate_tokens("one two", 5) == ("one two", False)


def test_directives_are_parsed_and_removed() -> None:
    directives, rest = parse_directives("Hi [[chunks=3]] there [[size=40]][[echo]] [[delay=0.5]]")
    assert (directives.chunks, directives.size, directives.echo, directives.delay) == (3, 40, True, 0.5)
    assert "[[" not in rest and rest.split() == ["Hi", "there"]


@pytest.mark.parametrize("bad", ["[[chunks=0]]", "[[chunks=x]]", "[[size=-1]]", "[[delay=-2]]",
                                 "[[delay=abc]]"])
def test_bad_directive_values(bad: str) -> None:
    with pytest.raises(DirectiveError):
        parse_directives(bad)


def test_size_allows_the_10_mb_benchmark_answer_but_stays_capped() -> None:
    assert parse_directives("[[size=10000000]]")[0].size == 10_000_000
    with pytest.raises(DirectiveError):
        parse_directives("[[size=64000001]]")


def test_answer_is_markdown_with_heading_list_table_and_code() -> None:
    text = compose("Why did Q3 sales fall?")
    lines = text.splitlines()
    assert lines[0] == "## Why did Q3 sales fall"
    assert sum(line.startswith("- ") for line in lines) == 3
    assert "| measure | value |" in lines and "|---|---|" in lines
    assert "```python" in lines and lines[-1] == "```"


@given(st.text(max_size=200))
def test_same_prompt_same_answer(prompt: str) -> None:
    assert answer_text(prompt) == answer_text(prompt)


@given(st.text(min_size=0, max_size=300), st.integers(min_value=1, max_value=400))
def test_split_into_exactly_n_pieces_rebuilds_the_text(text: str, n: int) -> None:
    pieces = split_pieces(text, n)
    assert len(pieces) == n
    if len(text) >= n:
        assert "".join(pieces) == text
    assert all(pieces)


@given(st.text(min_size=1, max_size=500))
def test_default_pieces_are_a_few_characters(text: str) -> None:
    pieces = split_pieces(text, None)
    assert "".join(pieces) == text
    assert all(1 <= len(p) <= 6 for p in pieces)


def test_size_and_echo() -> None:
    assert len(answer_text("x [[size=1234]]")[0]) == 1234
    assert answer_text("[[echo]]  keep <b>this</b> ")[0] == "keep <b>this</b>"


def test_key_never_in_reprs(make_emulator) -> None:
    from junis_jupyter.emulator.options import EmulatorOptions
    key = "jns_live_" + "r" * 32
    server = make_emulator(key=key)
    record = server.emulator.store.keys[key]
    for thing in (EmulatorOptions(key=key), record, server, server.emulator.options):
        assert key not in repr(thing)
