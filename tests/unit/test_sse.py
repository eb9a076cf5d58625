"""The SSE decoder on its own: the wire format's rules, and that network splits never matter."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from junis_jupyter.client.sse import EventTooLarge, SSEDecoder, SSEEvent


def decode(*reads: bytes, max_event_bytes: int | None = None) -> list[SSEEvent]:
    decoder = SSEDecoder(max_event_bytes) if max_event_bytes else SSEDecoder()
    events: list[SSEEvent] = []
    for read in reads:
        events.extend(decoder.feed(read))
    events.extend(decoder.flush())
    return events


def test_one_event_per_blank_line() -> None:
    events = decode(b'data: {"a": 1}\n\ndata: [DONE]\n\n')
    assert [e.data for e in events] == ['{"a": 1}', "[DONE]"]
    assert events[0].event == "message"


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending(eol: bytes) -> None:
    stream = eol.join([b"event: delta", b"data: one", b"data: two", b"", b"data: three", b"", b""])
    assert [(e.event, e.data) for e in decode(stream)] == [("delta", "one\ntwo"), ("message", "three")]


def test_mixed_line_endings_in_one_stream() -> None:
    assert [e.data for e in decode(b"data: a\r\n\ndata: b\r\rdata: c\n\r\n")] == ["a", "b", "c"]


def test_crlf_split_between_reads_is_one_line_end() -> None:
    # CR at the end of one read, LF at the start of the next: one line end, not an empty line.
    assert [e.data for e in decode(b"data: a\r", b"\ndata: b\r\n\r\n")] == ["a\nb"]


def test_empty_reads_between_cr_and_lf_change_nothing() -> None:
    assert [e.data for e in decode(b"data: a\r", b"", b"\ndata: b\r\n\r\n")] == ["a\nb"]


def test_comments_and_unknown_fields_are_ignored() -> None:
    events = decode(b": ping\n:another\nfoo: bar\ndata: x\nbaz\n\n")
    assert [e.data for e in events] == ["x"]


def test_id_and_retry_fields() -> None:
    events = decode(b"id: 7\nretry: 1500\ndata: a\n\ndata: b\n\nid\nretry: soon\ndata: c\n\n")
    assert [(e.data, e.id, e.retry) for e in events] == [
        ("a", "7", 1500), ("b", "7", None), ("c", "", None)]


def test_id_with_nul_is_ignored() -> None:
    assert decode(b"id: 1\n\nid: a\0b\ndata: x\n\n")[0].id == "1"


def test_field_value_keeps_all_but_one_leading_space() -> None:
    assert [e.data for e in decode(b"data:x\n\ndata:  y\n\ndata\n\n")] == ["x", " y", ""]


def test_blank_lines_without_data_dispatch_nothing() -> None:
    assert decode(b"\n\n\nevent: lonely\n\ndata: a\n\n") == [SSEEvent("a")]


def test_utf8_character_split_across_reads() -> None:
    payload = "data: héllo → 世界 🙂\n\n".encode()
    cut = payload.index("🙂".encode()) + 2          # inside the 4-byte emoji
    assert decode(payload[:cut], payload[cut:])[0].data == "héllo → 世界 🙂"


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert decode(b"data: a\xffb\n\n")[0].data == "a\ufffdb"


def test_data_lines_without_final_blank_line_are_flushed_at_end() -> None:
    # lenient: a server that closes right after "data: [DONE]\n" still delivers it
    assert [e.data for e in decode(b"data: a\n\ndata: [DONE]\n")] == ["a", "[DONE]"]


def test_an_unterminated_last_line_is_dropped() -> None:
    assert [e.data for e in decode(b"data: a\n\ndata: {\"trunc")] == ["a"]


def test_event_size_is_bounded_within_a_read() -> None:
    with pytest.raises(EventTooLarge, match="exceeded 1,024 bytes"):
        decode(b"data: " + b"x" * 2000 + b"\n\n", max_event_bytes=1024)


def test_event_size_is_bounded_across_many_lines_and_reads() -> None:
    decoder = SSEDecoder(1024)
    with pytest.raises(EventTooLarge):
        for _ in range(100):
            decoder.feed(b"data: " + b"y" * 50 + b"\n")


def test_event_size_is_bounded_for_a_line_that_never_ends() -> None:
    decoder = SSEDecoder(1024)
    with pytest.raises(EventTooLarge):
        for _ in range(100):
            decoder.feed(b"z" * 50)


def test_bound_is_per_event_not_per_stream() -> None:
    events = decode(*[b"data: " + b"w" * 500 + b"\n\n"] * 20, max_event_bytes=1024)
    assert len(events) == 20


# --- property: however the bytes are split, the same events come out ----------------------------

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\0"),
                max_size=30)
_line = st.one_of(
    st.builds(lambda v: "data: " + v, _text),
    st.builds(lambda v: "data:" + v, _text),
    st.builds(lambda v: "event: " + v, _text),
    st.builds(lambda v: "id: " + v, _text),
    st.builds(lambda v: "retry: " + v, st.sampled_from(["0", "3000", "x1"])),
    st.builds(lambda v: ":" + v, _text),
    st.just(""),
    st.just("data"),
)
_stream = st.tuples(st.lists(_line, max_size=40), st.sampled_from(["\n", "\r\n", "\r"]))


@settings(max_examples=300, deadline=None)
@given(_stream, st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_same_events_however_the_stream_is_split(stream: tuple[list[str], str],
                                                 cuts: list[int]) -> None:
    lines, eol = stream
    raw = (eol.join(lines) + eol + eol).encode()
    whole = decode(raw)
    points = sorted(c % (len(raw) + 1) for c in cuts)     # repeated points: empty reads too
    pieces = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)])]
    assert decode(*pieces) == whole
    assert decode(*[raw[i:i + 1] for i in range(len(raw))]) == whole   # byte by byte


@settings(max_examples=100, deadline=None)
@given(st.lists(_text, min_size=1, max_size=10), st.sampled_from(["\n", "\r\n", "\r"]))
def test_data_round_trips(values: list[str], eol: str) -> None:
    raw = "".join(f"data: {v}{eol}{eol}" for v in values).encode()
    assert [e.data for e in decode(raw)] == values
