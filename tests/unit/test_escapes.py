"""Escape sequences in an answer are taken out of what a terminal prints, whole, even when a
stream cuts one between two writes."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from junis_jupyter.notebook.escapes import MAX_HELD, EscapeStripper, strip_escapes

HOSTILE = [
    ("\x1b[31mred\x1b[0m", "red"),                               # colours
    ("\x1b[2J\x1b[1;1Hcleared", "cleared"),                        # clear the screen, move the cursor
    ("\x1b]0;pwned\x07title", "title"),                            # window title, ended by BEL
    ("\x1b]2;pwned\x1b\\title", "title"),                          # ... and by ST
    ("\x1b]52;c;cm0gLXJmIH4=\x07clip", "clip"),                    # OSC 52: write the clipboard
    ("\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\", "link"),   # OSC 8 hyperlink
    ("\x9b31mC1 CSI", "C1 CSI"), ("\x9d0;t\x9cC1 OSC", "C1 OSC"),  # the 8-bit forms
    ("\x1bP+q544e\x1b\\DCS", "DCS"), ("\x1bcreset", "reset"), ("\x1b(0charset", "charset"),
    ("\x0eshift\x0f", "shift"), ("bell\x07\x08", "bell"), ("lone\x1b", "lone"),
    ("\x1b]0;never ended\nnext line", "\nnext line"),              # a string ends at the line's end
]


@pytest.mark.parametrize("text, shown", HOSTILE)
def test_escape_sequences_and_controls_are_taken_out(text, shown):
    assert strip_escapes(text) == shown


def test_text_a_terminal_prints_as_is_is_kept_as_is():
    text = "tabs\tand CRLF\r\nlines, ünïcödé, 中文, emoji 🎉, `code` and [links](x)\n"
    assert strip_escapes(text) is text


_PIECES = st.lists(st.one_of(st.sampled_from([t for t, _ in HOSTILE]),
                             st.text(alphabet="ab \n\x1b[];\x07\\\x9b\x9c0m", max_size=6)),
                   max_size=8)


@settings(max_examples=300, deadline=None)
@given(pieces=_PIECES, cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=6))
def test_property_written_in_pieces_the_text_is_stripped_as_a_whole(pieces, cuts):
    """However a stream cuts the text, the writes together are the whole text stripped."""
    text = "".join(pieces)
    stripper, written, start = EscapeStripper(), [], 0
    for cut in sorted(c for c in cuts if c <= len(text)):
        written.append(stripper.feed(text[start:cut]))
        start = cut
    written.append(stripper.feed(text[start:]))
    written.append(stripper.flush())
    assert "".join(written) == strip_escapes(text)


def test_a_sequence_cut_between_writes_prints_none_of_it():
    stripper = EscapeStripper()
    assert stripper.feed("before \x1b]52;c;cm0g") == "before "
    assert stripper.feed("LXJmIH4=") == ""
    assert stripper.feed("\x07after") == "after"
    assert stripper.flush() == ""


def test_an_endless_sequence_is_not_held_for_ever():
    stripper = EscapeStripper()
    stripper.feed("\x1b]0;")
    written = "".join(stripper.feed("x" * 100) for _ in range(2 * MAX_HELD // 100))
    assert written and set(written) == {"x"}        # printed as text once past MAX_HELD, no ESC
