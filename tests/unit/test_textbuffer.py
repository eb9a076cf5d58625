"""TextBuffer: the one growing-text buffer (the client's stream, the cell renderer, the panel)."""
from __future__ import annotations

import pytest

from junis_jupyter.client.textbuffer import FOLD, TextBuffer


def pieces(n: int) -> list[str]:
    """Pieces that differ from each other, so a lost, doubled or reordered one shows."""
    return [f"{i}é " if i % 3 else f"{i}\n" for i in range(n)]


@pytest.mark.parametrize("n", [1, FOLD - 1, FOLD, FOLD + 1, 2 * FOLD, 3 * FOLD + 7])
def test_folding_across_fold_boundaries_keeps_the_text_exact(n: int) -> None:
    buf = TextBuffer()
    for piece in pieces(n):
        buf.append(piece)
    assert buf.text == "".join(pieces(n))


def test_the_text_is_exact_after_every_piece_around_the_folds() -> None:
    buf, expected = TextBuffer(), []
    for piece in pieces(2 * FOLD + 3):
        buf.append(piece)
        expected.append(piece)
        assert buf.text == "".join(expected)      # reading in between changes nothing


def test_text_collapses_to_one_block() -> None:
    buf = TextBuffer("start ")
    for piece in pieces(FOLD + 5):
        buf.append(piece)
    text = buf.text
    assert buf.text is text                        # the buffer holds that one str, no copy
    buf.append("more")
    assert buf.text == text + "more"


def test_take_returns_everything_and_empties() -> None:
    buf = TextBuffer("a")
    for piece in pieces(FOLD + 1):
        buf.append(piece)
    assert buf.take() == "a" + "".join(pieces(FOLD + 1))
    assert not buf and buf.text == "" and buf.take() == ""
    buf.append("next")
    assert buf.take() == "next" and not buf


def test_an_empty_buffer() -> None:
    buf = TextBuffer()
    assert not buf and buf.text == "" and buf.take() == ""
    assert not TextBuffer("")                      # empty initial text holds nothing
    assert TextBuffer("x") and TextBuffer("x").text == "x"
    buf.append("")
    assert buf.text == ""
