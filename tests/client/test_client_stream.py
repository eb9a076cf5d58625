"""Streaming with JunisClient: the whole answer, each way a stream can break, and stopping one
(KeyboardInterrupt, close, break) against the emulator; wire oddities the emulator never produces
through httpx.MockTransport."""
from __future__ import annotations

import _thread
import asyncio
import gc
import threading
import zlib
from typing import Any, Callable, Iterator

import httpx
import pytest

from junis_jupyter.client import AsyncJunisClient, CallRecord, ChatChunk, JunisClient, Usage
from junis_jupyter.errors import APIError, StreamError

from support.clients import wait_until


def pieces_of(client: JunisClient, prompt: str) -> list[str]:
    """The answer's content chunks, from an unbroken stream of the same (deterministic) prompt."""
    return [chunk.text for chunk in client.stream(prompt) if chunk.text]


def idle(emulator: Any) -> Callable[[], bool]:
    return lambda: emulator.stats()["in_flight"] == 0


# --- the whole answer ---------------------------------------------------------------------------

def test_stream_yields_the_same_answer_as_chat(client: JunisClient,
                                               records: list[CallRecord]) -> None:
    prompt = "Tell me about streams [[chunks=12]]"
    whole = client.chat(prompt)
    records.clear()
    chunks: list[ChatChunk] = []
    with client.stream(prompt) as stream:
        for chunk in stream:
            chunks.append(chunk)
    texts = [c.text for c in chunks if c.text]
    assert len(texts) == 12
    assert "".join(texts) == stream.text == stream.result.text == whole.text
    assert all(c.session_id == stream.session_id for c in chunks) and stream.session_id
    assert chunks[-1].usage is not None and all(c.usage is None for c in chunks[:-1])
    assert stream.usage == chunks[-1].usage == stream.result.usage
    assert stream.result.finish_reason == "stop" and not stream.result.interrupted
    assert stream.result.rate_limit.limit and stream.rate_limit == stream.result.rate_limit
    stored = client.messages(stream.session_id)[-1]
    assert stored.content == stream.text and stored.usage == stream.usage
    record = records[0]
    assert (record.endpoint, record.stream, record.status, record.error_code) == (
        "chat", True, 200, None)
    assert record.usage == stream.usage and record.session_id == stream.session_id
    assert record.first_token_s is not None and record.first_token_s <= record.latency_s


def test_stream_continues_a_session(client: JunisClient) -> None:
    first = client.chat("Start")
    with client.stream("Continue", session_id=first.session_id) as stream:
        list(stream)
    assert stream.session_id == first.session_id
    assert [m.role for m in client.messages(first.session_id)] == [
        "user", "assistant", "user", "assistant"]


def test_agent_stream(client: JunisClient, records: list[CallRecord]) -> None:
    text = "".join(c.text for c in client.stream("Analyse [[chunks=3]]", agent="Analyst"))
    assert text and records[-1].endpoint == "agent_chat" and records[-1].agent == "Analyst"


def test_stream_works_without_a_with_block(client: JunisClient) -> None:
    stream = client.stream("Plain loop [[chunks=5]]")
    assert len([c for c in stream if c.text]) == 5
    assert stream.result is not None and stream.result.text == stream.text


# --- each way a stream breaks -------------------------------------------------------------------

@pytest.mark.parametrize("fault, reason", [
    ({"kind": "cut", "after": 3}, "incomplete"),                 # clean close without [DONE]
    ({"kind": "cut", "after": 3, "abrupt": True}, "connection"),  # TCP connection dropped
    ({"kind": "malformed", "after": 3}, "malformed_chunk"),
    ({"kind": "error_event", "after": 3, "code": "server_error",
      "message": "agent crashed"}, "error_event"),
])
def test_broken_stream_raises_with_the_partial_text(client: JunisClient, emulator: Any,
                                                    records: list[CallRecord],
                                                    fault: dict, reason: str) -> None:
    prompt = "Break me [[chunks=10]]"
    expected = "".join(pieces_of(client, prompt)[:3])
    records.clear()
    before = emulator.stats()["requests"]
    emulator.faults(fault)
    seen: list[str] = []
    with pytest.raises(StreamError) as info:
        with client.stream(prompt) as stream:
            for chunk in stream:
                seen.append(chunk.text)
    err = info.value
    assert err.partial_text == expected == "".join(seen) == stream.text
    assert err.session_id and err.session_id == stream.session_id
    assert stream.result is None
    assert emulator.stats()["requests"] - before == 1            # never retried once it began
    [record] = records
    assert (record.error_code, record.status, record.extra["reason"]) == (
        "stream_error", 200, reason)
    if fault["kind"] == "error_event":
        assert err.code == "server_error" and "agent crashed" in str(err)


def test_error_before_the_first_chunk_keeps_empty_partial_text(client: JunisClient,
                                                               emulator: Any) -> None:
    emulator.faults({"kind": "error_event", "after": 0})
    with pytest.raises(StreamError) as info:
        list(client.stream("Nothing arrives"))
    assert info.value.partial_text == ""


# --- stopping a stream --------------------------------------------------------------------------

SLOW = "Slow answer [[chunks=40]] [[delay=0.25]]"      # ten seconds if nobody stops it


def test_keyboard_interrupt_in_the_loop_closes_the_connection(client: JunisClient, emulator: Any,
                                                              records: list[CallRecord]) -> None:
    seen: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        with client.stream(SLOW) as stream:
            for chunk in stream:
                seen.append(chunk.text)
                if len(seen) == 2:
                    raise KeyboardInterrupt
    assert wait_until(idle(emulator)), "the server still streams to a closed stream"
    result = stream.result
    assert result.interrupted and result.text == "".join(seen) == stream.text
    assert result.session_id
    stored = client.messages(result.session_id)[-1]
    assert stored.role == "assistant" and stored.content.startswith(result.text)
    assert len(stored.content) < len(client.chat("Slow answer [[chunks=40]]").text)
    record = records[0]
    assert (record.error_code, record.stream, record.status) == ("interrupted", True, 200)
    assert record.first_token_s is not None


@pytest.fixture
def no_gc() -> Iterator[None]:
    """The connection must close when the loop lets go of the stream (refcount), not whenever
    the cycle collector happens to run: with it off, a reference cycle fails the test."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_keyboard_interrupt_without_a_with_block(client: JunisClient, emulator: Any,
                                                 records: list[CallRecord], no_gc: None) -> None:
    with pytest.raises(KeyboardInterrupt):
        for chunk in client.stream(SLOW):
            if chunk.text:
                raise KeyboardInterrupt
    assert wait_until(idle(emulator))
    assert records[0].error_code == "interrupted"


def test_keyboard_interrupt_while_waiting_for_bytes(client: JunisClient, emulator: Any,
                                                    records: list[CallRecord]) -> None:
    stream = client.stream(SLOW)
    timer = threading.Timer(0.6, _thread.interrupt_main)   # Ctrl-C, as the kernel delivers it
    with pytest.raises(KeyboardInterrupt):
        with stream:
            timer.start()
            for _ in stream:
                pass
    timer.join()
    assert wait_until(idle(emulator))
    assert stream.result.interrupted and records[0].error_code == "interrupted"


def test_close_and_break_keep_what_arrived(client: JunisClient, emulator: Any,
                                           records: list[CallRecord]) -> None:
    with client.stream(SLOW) as stream:
        for chunk in stream:
            if chunk.text:
                break
    assert wait_until(idle(emulator))
    assert stream.result.interrupted and stream.result.text == stream.text != ""
    other = client.stream(SLOW)
    first = next(other)
    other.close()
    assert list(other) == []                       # a closed stream yields nothing more
    assert other.result.interrupted and other.result.text == first.text
    other.close()                                  # closing twice is harmless
    assert [r.error_code for r in records] == ["interrupted", "interrupted"]


def test_a_stream_never_started_makes_no_request(client: JunisClient, emulator: Any,
                                                 records: list[CallRecord]) -> None:
    before = emulator.stats()["requests"]
    stream = client.stream("never sent")
    stream.close()
    assert emulator.stats()["requests"] == before and records == [] and stream.result is None


# --- wire situations the emulator cannot produce (MockTransport) ---------------------------------

def mock_client(body_reads: list[bytes], status: int = 200) -> JunisClient:
    """A client whose server answers a stream with exactly these network reads."""
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"content-type": "text/event-stream"},
                              content=iter(body_reads))
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return JunisClient("jns_live_" + "m" * 32, "http://127.0.0.1:1", http_client=http)


def chunk(text: str, **extra: Any) -> str:
    import json
    body = {"id": "c1", "object": "chat.completion.chunk", "session_id": "s1",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}], **extra}
    return json.dumps(body, ensure_ascii=False)


def test_usage_counts_that_are_not_finite_do_not_break_the_stream() -> None:
    # MockTransport: the emulator never sends NaN or Infinity; a Python server using json.dumps'
    # defaults may, and json.loads reads them. int() of one raised a bare ValueError out of the
    # loop, and the call was recorded as interrupted.
    records: list[CallRecord] = []
    reads = [f"data: {chunk('hi')}\n\n".encode(),
             b'data: {"choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": NaN, '
             b'"total_tokens": Infinity}}\n\n', b"data: [DONE]\n\n"]
    with mock_client(reads) as c, c.stream("hi") as stream:
        c.add_observer(records.append)
        assert "".join(ch.text for ch in stream) == "hi"
    assert stream.result.usage == Usage(2, 0, 2) and not stream.result.interrupted
    assert [(r.error_code, r.usage) for r in records] == [(None, Usage(2, 0, 2))]


def test_crlf_comments_fields_and_reads_split_mid_character() -> None:
    # a proxy may re-frame with CRLF, send keep-alive comments and split reads anywhere
    raw = (": ping\r\n\r\nevent: message\r\nid: 1\r\nretry: 500\r\n"
           f"data: {chunk('héllo ')}\r\n\r\n: ping\r\n\r\n"
           f"data: {chunk('wörld 🙂', extra_field=1)}\r\n\r\n"
           'data: {"choices": [], "session_id": "s1", "usage": {"prompt_tokens": 2, '
           '"completion_tokens": 3, "total_tokens": 5}}\r\n\r\ndata: [DONE]\r\n\r\n').encode()
    cut_at = raw.index("🙂".encode()) + 1
    reads = [raw[:7], raw[7:cut_at], raw[cut_at:cut_at + 1], raw[cut_at + 1:]]
    with mock_client(reads) as c, c.stream("hi") as stream:
        texts = [ch.text for ch in stream]
    assert "".join(texts) == "héllo wörld 🙂" == stream.result.text
    assert stream.result.usage.total_tokens == 5 and stream.session_id == "s1"


def test_an_oversized_event_is_a_clear_stream_error() -> None:
    reads = [f"data: {chunk('ok')}\n\n".encode()] + [b"data: " + b"x" * 65536] * 100
    with mock_client(reads) as c, pytest.raises(StreamError, match="exceeded") as info:
        list(c.stream("hi"))
    assert info.value.partial_text == "ok"


def test_done_without_final_blank_line_completes() -> None:
    reads = [f"data: {chunk('all')}\n\ndata: [DONE]\n".encode()]
    with mock_client(reads) as c, c.stream("hi") as stream:
        assert [ch.text for ch in stream] == ["all"]
    assert stream.result.text == "all"


@pytest.mark.parametrize("bad", [
    '{"choices": [{"delta": {"content": 5}}]}',                      # text that is not text
    '{"choices": [{"delta": {"content": ["a"]}}]}',
    '{"choices": {"0": {"delta": {"content": "a"}}}}',               # choices as an object
    '{"session_id": {"id": "s1"}, "choices": []}',                   # ids that are not strings
    '{"choices": [{"delta": {}, "finish_reason": 7}]}'])
def test_a_chunk_with_fields_of_the_wrong_type_is_a_stream_error(bad: str) -> None:
    # They used to surface as a bare KeyError or TypeError, or as a dict where a str belongs.
    reads = [f"data: {chunk('kept ')}\n\ndata: {bad}\n\ndata: {chunk('never')}\n\n"
             "data: [DONE]\n\n".encode()]
    with mock_client(reads) as c, pytest.raises(StreamError, match="unexpected shape") as info:
        list(c.stream("hi"))
    assert (info.value.partial_text, info.value.session_id) == ("kept ", "s1")


def test_a_result_id_or_model_of_the_wrong_type_reads_as_none() -> None:
    reads = [f"data: {chunk('a', id=[1], model={'m': 1})}\n\ndata: [DONE]\n\n".encode()]
    with mock_client(reads) as c, c.stream("hi") as stream:
        list(stream)
    assert (stream.result.text, stream.result.id, stream.result.model) == ("a", None, None)


def gzip_then_garbage() -> list[bytes]:
    """A gzip-encoded stream whose first read decodes to one chunk and whose next does not."""
    encoder = zlib.compressobj(wbits=31)
    good = encoder.compress(f"data: {chunk('kept')}\n\n".encode())
    good += encoder.flush(zlib.Z_SYNC_FLUSH)
    return [good, b"not gzip " * 10]


def test_a_body_that_will_not_decode_is_a_junis_error_sync_and_async() -> None:
    # httpx raises DecodingError, which is no TransportError: it used to escape bare.
    def whole(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-encoding": "gzip"},
                              content=iter([b"not gzip at all"]))

    def streamed(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-encoding": "gzip",
                                            "content-type": "text/event-stream"},
                              content=iter(gzip_then_garbage()))

    async def astreamed(request: httpx.Request) -> httpx.Response:
        async def body() -> Any:
            for part in gzip_then_garbage():
                yield part
        return httpx.Response(200, headers={"content-encoding": "gzip",
                                            "content-type": "text/event-stream"}, content=body())

    key = "jns_live_" + "d" * 32
    with JunisClient(key, "https://junis.test", max_retries=0,
                     http_client=httpx.Client(transport=httpx.MockTransport(whole))) as c:
        with pytest.raises(APIError, match="could not be decoded") as info:
            c.chat("hi")
        assert info.value.code == "bad_response"
    with JunisClient(key, "https://junis.test",
                     http_client=httpx.Client(transport=httpx.MockTransport(streamed))) as c:
        with pytest.raises(StreamError, match="decompressing") as broken:
            list(c.stream("hi"))
        assert broken.value.partial_text == "kept"

    async def go() -> StreamError:
        http = httpx.AsyncClient(transport=httpx.MockTransport(astreamed))
        async with AsyncJunisClient(key, "https://junis.test", http_client=http) as ac:
            try:
                async for _ in ac.stream("hi"):
                    pass
            except StreamError as exc:
                return exc
            finally:
                await http.aclose()
        raise AssertionError("no StreamError")
    assert asyncio.run(go()).partial_text == "kept"


# --- long answers: the text is kept in blocks, never lost or reordered ------------------------

def test_thousands_of_chunks_keep_the_exact_text(client: JunisClient) -> None:
    from junis_jupyter.client.textbuffer import FOLD
    prompt = f"Long one [[chunks={3 * FOLD + 7}]]"
    pieces = pieces_of(client, prompt)
    assert len(pieces) == 3 * FOLD + 7
    with client.stream(prompt) as stream:
        for _ in stream:
            pass
    assert stream.result.text == stream.text == "".join(pieces) == client.chat(prompt).text
    assert stream.result.text is stream.text                   # one copy, not two


def test_the_text_is_exact_around_every_fold() -> None:
    # MockTransport: one event per network read, so `text` can be checked after each chunk (the
    # emulator's reads carry several events, and `text` includes all of a read's chunks).
    from junis_jupyter.client.textbuffer import FOLD
    pieces = [f"{i}é " if i % 3 else f"{i}\n" for i in range(2 * FOLD + 5)]
    reads = [f"data: {chunk(p)}\n\n".encode() for p in pieces] + [b"data: [DONE]\n\n"]
    with mock_client(reads) as c, c.stream("hi") as stream:
        for seen, ch in enumerate(stream, 1):
            assert ch.text == pieces[seen - 1]
            assert stream.text == "".join(pieces[:seen])
    assert stream.result.text == "".join(pieces)


def test_an_interrupted_long_stream_keeps_exactly_what_arrived(client: JunisClient,
                                                                emulator: Any) -> None:
    from junis_jupyter.client.textbuffer import FOLD
    prompt = f"Long one [[chunks={3 * FOLD}]]"
    pieces = pieces_of(client, prompt)
    with client.stream(prompt) as stream:
        seen = 0
        for chunk in stream:
            seen += bool(chunk.text)
            if seen == 2 * FOLD + 6:
                break
    assert wait_until(idle(emulator))
    assert stream.result.interrupted
    kept, whole = stream.result.text, "".join(pieces)
    # what arrived: every chunk yielded, plus any already read with them, in order, nothing lost
    assert kept == stream.text and whole.startswith(kept) and kept != whole
    assert kept.startswith("".join(pieces[:2 * FOLD + 6]))


def test_a_long_stream_broken_after_folds_keeps_the_exact_partial_text(
        client: JunisClient, emulator: Any) -> None:
    from junis_jupyter.client.textbuffer import FOLD
    prompt = f"Long one [[chunks={3 * FOLD}]]"
    pieces = pieces_of(client, prompt)
    emulator.faults({"kind": "cut", "after": 2 * FOLD + 1, "abrupt": True})
    with pytest.raises(StreamError) as info:
        with client.stream(prompt) as stream:
            for _ in stream:
                pass
    assert info.value.partial_text == stream.text == "".join(pieces[:2 * FOLD + 1])


def test_texts_give_the_answer_a_read_at_a_time_and_keep_everything_else(emulator: Any) -> None:
    """`texts()` (what the streaming loop reads) joins each read's deltas: the same text in far
    fewer pieces than chunks, and the same result; a stream is read one way only."""
    from junis_jupyter.client.sync import JunisClient
    with JunisClient(emulator.key, emulator.url) as client:
        whole = client.chat("[[chunks=400]] Tell me about rivers")
        stream = client.stream("[[chunks=400]] Tell me about rivers")
        with stream:
            pieces = list(stream.texts())
            with pytest.raises(RuntimeError, match="one way"):
                iter(stream)
        assert "".join(pieces) == whole.text == stream.result.text
        assert 0 < len(pieces) < 400 and all(pieces)
        assert stream.result.usage.total_tokens == whole.usage.total_tokens
