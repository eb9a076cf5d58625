"""The streaming renderer: bounded update rate, no lost text, terminal fallback."""
from __future__ import annotations

import io

import pytest

from junis_jupyter.client.types import Usage
from junis_jupyter.notebook.render import Footer, StreamRenderer, Table, pick_mode


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class RecordingDisplay:
    """Stands in for IPython.display.display: records the first show and every update."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.updates: list[str] = []
        self.handles = 0

    def __call__(self, obj, display_id=None, **kwargs):
        assert display_id is True
        self.handles += 1
        self.shown.append(obj.text)
        outer = self

        class Handle:
            def update(self, obj):
                outer.updates.append(obj.text)
        return Handle()


def test_updates_are_bounded_by_the_clock_and_the_last_one_has_everything():
    clock, disp = FakeClock(), RecordingDisplay()
    r = StreamRenderer("markdown", update_hz=10, display=disp, clock=clock)
    pieces = [f"w{i} " for i in range(1000)]
    for i, p in enumerate(pieces):
        clock.now = i * 0.001          # 1000 chunks over one second
        r.feed(p)
    r.finish()
    assert disp.handles == 1           # one display handle for the whole answer
    # at most 10 per second (+1 for the first chunk, +1 for the final update)
    assert r.updates <= 1 * 10 + 2
    assert r.updates == 1 + len(disp.updates)
    assert disp.updates[-1] == "".join(pieces)


def test_every_chunk_shown_when_chunks_are_slower_than_the_rate():
    clock, disp = FakeClock(), RecordingDisplay()
    r = StreamRenderer("markdown", update_hz=15, display=disp, clock=clock)
    for i in range(5):
        clock.now = i * 1.0
        r.feed(str(i))
    assert disp.shown + disp.updates == ["0", "01", "012", "0123", "01234"]


def test_note_is_shown_but_not_part_of_the_text():
    disp = RecordingDisplay()
    r = StreamRenderer("markdown", display=disp, clock=FakeClock())
    r.feed("partial answer")
    assert r.finish(note="interrupted") == "partial answer"
    assert disp.updates[-1].startswith("partial answer")
    assert "interrupted" in disp.updates[-1]


def test_a_note_after_a_cut_code_block_is_outside_it():
    disp = RecordingDisplay()
    r = StreamRenderer("markdown", display=disp, clock=FakeClock())
    r.feed("Here:\n```python\nx = 1\n")
    r.finish(note="interrupted")
    assert disp.updates[-1] == "Here:\n```python\nx = 1\n\n```\n\n*[interrupted]*"


@pytest.mark.parametrize("text", [
    "Here:\n~~~python\nx = 1\n",                      # a tilde fence is closed by tildes
    "Here:\n````md\n```\nx = 1\n```\n",               # four backticks, by four
    "Use ``` fences.\n\nThe end",                      # backticks in prose open nothing
])
def test_a_note_is_never_inside_a_code_block(text):
    from junis_jupyter.notebook.markdown import render_markdown
    disp = RecordingDisplay()
    r = StreamRenderer("markdown", display=disp, clock=FakeClock())
    r.feed(text)
    r.finish(note="interrupted")
    assert disp.updates[-1].startswith(text)
    assert render_markdown(disp.updates[-1]).endswith("<p><em>[interrupted]</em></p>\n")


def test_finish_without_chunks_still_shows_one_output():
    disp = RecordingDisplay()
    r = StreamRenderer("text", display=disp, clock=FakeClock())
    r.finish()
    assert disp.handles == 1 and disp.shown == [""]


def test_markdown_is_shown_as_safe_html_and_text_as_text():
    hostile = "# T\n\n<script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3))"
    shown = {}
    for mode in ("markdown", "text"):
        disp = OutputsDisplay()
        r = StreamRenderer(mode, display=disp)
        r.feed(hostile)
        r.finish()
        shown[mode] = [o._repr_mimebundle_() for o in disp.outputs]
        assert not any(hasattr(o, "_repr_markdown_") for o in disp.outputs)  # never raw markdown
    html = "".join(b["text/html"] for b in shown["markdown"])
    assert "<h1>T</h1>" in html
    assert "<script" not in html and "<img" not in html and "href=\"javascript" not in html
    assert "".join(b["text/plain"] for b in shown["markdown"]) == hostile
    assert "".join(b["text/plain"] for b in shown["text"]) == hostile
    assert all(set(b) == {"text/plain"} for b in shown["text"])


def test_slow_updates_space_themselves_out():
    clock = FakeClock()
    calls = []

    def slow_display(obj, display_id=None):
        clock.now += 0.1                       # each render takes 0.1 s
        calls.append(obj.text)

        class Handle:
            def update(self, obj):
                clock.now += 0.1
                calls.append(obj.text)
        return Handle()

    r = StreamRenderer("markdown", update_hz=15, display=slow_display, clock=clock)
    for i in range(1000):
        clock.now += 0.001
        r.feed("x")
    r.finish()
    elapsed = clock.now
    # each update is followed by at least 4x its cost of not updating
    assert len(calls) <= elapsed / 0.4 + 2
    assert calls[-1] == "x" * 1000


def test_terminal_mode_writes_each_delta_once():
    out, clock = io.StringIO(), FakeClock()
    r = StreamRenderer("terminal", update_hz=2, stdout=out, clock=clock)
    for i in range(10):
        clock.now = i * 0.1
        r.feed(f"{i},")
    r.finish(note="interrupted")
    assert out.getvalue() == "0,1,2,3,4,5,6,7,8,9,\n[interrupted]"
    assert r.updates <= 1 * 2 + 2


def test_bad_mode_is_refused():
    with pytest.raises(ValueError):
        StreamRenderer("html")


def test_pick_mode():
    class TerminalInteractiveShell:
        pass

    class ZMQInteractiveShell:
        pass
    assert pick_mode(TerminalInteractiveShell(), "markdown") == "terminal"
    assert pick_mode(ZMQInteractiveShell(), "markdown") == "markdown"
    assert pick_mode(ZMQInteractiveShell(), "text") == "text"


HOSTILE = ("Fine \x1b]0;pwned\x07answer \x1b[2J\x1b[31mred\x1b[0m, "
           "\x1b]52;c;cm0gLXJmIH4=\x07copied\n")


class AnswerDisplay:
    """Keeps every answer object shown or updated, to read their text/plain after."""

    def __init__(self) -> None:
        self.answers: list = []

    def __call__(self, obj, display_id=None, **kwargs):
        answers = self.answers
        answers.append(obj)

        class Handle:
            def update(self, obj):
                answers.append(obj)
        return Handle()


@pytest.mark.parametrize("mode", ["markdown", "text"])
def test_text_plain_has_no_escape_sequences_the_text_keeps_them(mode):
    from IPython.lib.pretty import pretty
    disp = AnswerDisplay()
    r = StreamRenderer(mode, display=disp, clock=FakeClock())
    r.feed(HOSTILE)
    assert r.finish(note="interrupted") == HOSTILE                 # what `_junis.text` gets
    answer = disp.answers[-1]
    plain = answer._repr_mimebundle_()["text/plain"]
    assert plain.startswith("Fine answer red, copied\n") and "interrupted" in plain
    assert "\x1b" not in plain and pretty(answer) == plain


def test_terminal_writes_no_escape_sequence_even_one_cut_between_writes():
    clock, out = FakeClock(), io.StringIO()
    r = StreamRenderer("terminal", update_hz=1, stdout=out, clock=clock)
    for i, ch in enumerate(HOSTILE):                # a write at every character: every cut
        clock.now = float(i)
        r.feed(ch)
    assert r.finish() == HOSTILE
    assert out.getvalue() == "Fine answer red, copied\n"


def test_footer_text_has_no_escape_sequences():
    f = Footer("s\x1b]0;t\x07-1", Usage(1, 1, 2), agent="Evil\x1b[2J\x1b]52;c;eA==\x07")
    assert repr(f) == "[agent Evil · session s-1 · 2 tokens (1 prompt + 1 completion)]"
    assert "\x1b" not in f._repr_html_()


def test_footer_shows_session_and_tokens_small():
    f = Footer("abc-123", Usage(10, 5, 15), agent="Research")
    assert repr(f) == "[agent Research · session abc-123 · 15 tokens (10 prompt + 5 completion)]"
    assert f._repr_html_().startswith("<sub>") and "abc-123" in f._repr_html_()
    assert f.metadata()["junis"]["total_tokens"] == 15


def test_table_escapes_html_and_aligns_text():
    t = Table(("name", "note"), [("<b>x</b>", None), ("y", "two\nlines")], caption="c")
    assert "&lt;b&gt;" in t._repr_html_() and "<b>x" not in t._repr_html_()
    text = repr(t).splitlines()
    assert text[0] == "c" and text[1].startswith("name") and "two lines" in text[-1]


# -- incremental markdown ---------------------------------------------------------------------

_PIECES = [
    "## Heading\n\nA paragraph with **bold**, `code <b>` and a [link](https://example.org).\n",
    "1. one\n\n2. two\n\n3. three\n", "- a\n- b\n\n  continued paragraph\n\n- c\n",
    "> quote\n\n> again\n", "    indented code\n\n    more code\n",
    "```python\nx = 1\n\n\ny = '<script>'\n```\nafter the fence\n", "Title\n=====\n", "***\n",
    "| x | y |\n|---|---|\n| 1 | <i>2</i> |\n", "~~~~\nfence ``` inside\n\n~~~~\n",
    "text <script>alert(1)</script> <img src=x onerror=alert(2)>\n", "1) paren\n\n2) list\n",
    "  two-space paragraph\n\nnext\n", "* * *\n", "```\nnever closed\n\nstill code\n",
]


def test_incremental_markdown_equals_a_whole_render_at_every_step():
    import random

    from junis_jupyter.notebook.render import IncrementalMarkdown
    from junis_jupyter.notebook.markdown import render_markdown
    rng = random.Random(7)
    for _ in range(150):
        text = "\n".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 10)))
        inc, pos = IncrementalMarkdown(), 0
        while pos < len(text):
            pos = min(len(text), pos + rng.randint(1, 60))
            assert inc.render(text[:pos]) == render_markdown(text[:pos]), text[:pos]


@pytest.mark.parametrize("begun, cut", [
    ("A second paragraph, still bei", True),   # a long one-line paragraph: known at its start
    ("--", True), ("```py", True), ("| x |", True),
    ("-", False), ("*", False), ("12", False), ("3.", False), ("4)", False),   # may be a list
    ("- item", False), ("7. item", False), ("  indented", False), ("", False),
])
def test_a_block_is_finished_as_soon_as_the_line_after_it_has_begun_far_enough_to_tell(begun, cut):
    from junis_jupyter.notebook.markdown import render_markdown
    from junis_jupyter.notebook.fences import settled_upto
    first = "The first paragraph, all on one line.\n\n"
    text = first + begun
    assert settled_upto(text) == (len(first) if cut else 0)
    if cut:                                     # apart, the pieces render as the whole does
        assert render_markdown(first) + render_markdown(begun) == render_markdown(text)


def test_incremental_markdown_renders_finished_blocks_once(monkeypatch):
    from junis_jupyter.notebook import markdown as safe_markdown
    from junis_jupyter.notebook.render import IncrementalMarkdown
    rendered = []
    real = safe_markdown.render_markdown
    monkeypatch.setattr(safe_markdown, "render_markdown", lambda t: rendered.append(len(t)) or real(t))
    paragraph = "A finished paragraph of some length, " * 5 + "\n\n"
    text = paragraph * 200
    inc = IncrementalMarkdown()
    for end in range(len(paragraph), len(text) + 1, len(paragraph)):
        inc.render(text[:end] + "A paragraph still being writ")
    # each update renders the new finished block plus the unfinished tail, not the whole text
    assert max(rendered) < 3 * len(paragraph)
    assert sum(rendered) < 3 * len(text)


def test_a_link_definition_anywhere_means_whole_renders():
    from junis_jupyter.notebook.render import IncrementalMarkdown
    from junis_jupyter.notebook.markdown import render_markdown
    text = "See [the docs][d].\n\nMore text.\n\n[d]: https://example.org\n"
    inc = IncrementalMarkdown()
    inc.render(text[:30])
    assert inc.render(text) == render_markdown(text) and 'href="https://example.org"' in inc.render(text)


@pytest.mark.parametrize("mode", ["markdown", "text", "terminal"])
def test_thousands_of_chunks_between_updates_lose_nothing(mode):
    from junis_jupyter.client.textbuffer import FOLD
    clock, disp, out = FakeClock(), OutputsDisplay(), io.StringIO()
    r = StreamRenderer(mode, update_hz=1, display=disp, clock=clock, stdout=out)
    pieces = [f"{i}é " if i % 7 else f"\n\n{i}\n" for i in range(3 * FOLD + 11)]

    def settled() -> str:      # the outputs before the current one (the current one is r.text)
        return "".join(o.text for o in disp.outputs[:r.outputs - (r._handle is not None)])
    for i, p in enumerate(pieces):
        clock.now = i * 0.0004         # about one update per 2,500 chunks: folds in between
        r.feed(p)
        if i in (FOLD - 1, FOLD, 2 * FOLD + 1):
            assert (settled() if mode != "terminal" else "") + r.text == "".join(pieces[:i + 1])
    r.finish()
    if mode == "terminal":
        assert out.getvalue() == r.text == "".join(pieces)
    else:
        assert "".join(o.text for o in disp.outputs) == "".join(pieces)


def test_a_long_finished_stretch_is_rendered_in_pieces_that_add_up(monkeypatch):
    # one update may bring megabytes of finished blocks: rendering them in one parse would hold
    # markdown-it's tokens (~80 bytes a character) for all of it at once
    from junis_jupyter.notebook import markdown as safe_markdown
    from junis_jupyter.notebook.render import PIECE, IncrementalMarkdown
    rendered = []
    real = safe_markdown.render_markdown
    monkeypatch.setattr(safe_markdown, "render_markdown", lambda t: rendered.append(len(t)) or real(t))
    block = "## Title\n\nA paragraph with *emphasis*.\n\n- one\n- two\n\n```\ncode\n```\n\n"
    text = block * (4 * PIECE // len(block)) + "Unfinished"
    html = IncrementalMarkdown().render(text)
    assert html == real(text)
    assert len(rendered) > 4 and max(rendered) < PIECE + len(block)


class OutputsDisplay:
    """Records each display output's latest object, in order."""

    def __init__(self) -> None:
        self.outputs: list = []

    def __call__(self, obj, display_id=None, **kwargs):
        index = len(self.outputs)
        self.outputs.append(obj)
        outer = self

        class Handle:
            def update(self, obj):
                outer.outputs[index] = obj
        return Handle()


@pytest.mark.parametrize("mode", ["markdown", "text"])
def test_a_long_answer_goes_on_in_new_outputs_that_add_up_to_it(mode):
    from junis_jupyter.notebook.highlight import highlight_code
    from junis_jupyter.notebook.markdown import render_markdown
    clock, disp = FakeClock(), OutputsDisplay()
    r = StreamRenderer(mode, update_hz=10, display=disp, clock=clock, segment_chars=500)
    block = "## Part\n\nSome *text*.\n\n```python\nx = 1\n\ny = 2\n```\n\n- a\n\n- b\n\n"
    text = block * 40
    for i in range(0, len(text), 7):
        clock.now += 0.05
        r.feed(text[i:i + 7])
    r.finish()
    shown = [o._repr_mimebundle_() for o in disp.outputs]
    assert len(shown) == r.outputs > 3
    assert "".join(b["text/plain"] for b in shown) == text       # nothing lost or repeated
    assert all(len(b["text/plain"]) < 500 + 2 * len(block) for b in shown)
    if mode == "markdown":   # cut between blocks: each output renders as its own markdown
        assert all(b["text/html"] == highlight_code(render_markdown(b["text/plain"]), copy=False,
                                                    inline=True) for b in shown)
        assert all(b["text/plain"].count("```") % 2 == 0 for b in shown)
    else:
        assert all(b["text/plain"].endswith("\n") for b in shown[:-1])


def test_a_long_answer_ending_at_an_output_end_adds_no_empty_output():
    clock, disp = FakeClock(), OutputsDisplay()
    r = StreamRenderer("text", update_hz=10, display=disp, clock=clock, segment_chars=10)
    r.feed("0123456789abc\n")
    r.finish()
    assert [o.text for o in disp.outputs] == ["0123456789abc\n"]


@pytest.mark.parametrize("mode", ["markdown", "text"])
def test_the_last_update_shows_the_rest_and_settles_nothing(mode):
    # the final batch takes the output past its size: it is shown whole in the live output (no
    # later update would resend it, so cutting it would only cost a second message)
    clock, disp = FakeClock(), OutputsDisplay()
    r = StreamRenderer(mode, update_hz=10, display=disp, clock=clock, segment_chars=10)
    r.feed("x")
    r.feed("0123456789\n\nabc\n\nde")   # no update due yet: it arrives with finish()
    updates = r.updates
    r.finish()
    assert "".join(o.text for o in disp.outputs) == "x0123456789\n\nabc\n\nde"
    assert len(disp.outputs) == r.outputs == 1 and r.updates == updates + 1


class ByteCountingDisplay:
    """Counts the bytes of every message sent to the frontend, and which outputs were updated."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent = 0
        self.messages: list[float] = []       # the clock time of each message
        self.outputs: list = []
        self.updated_after_settling: list[int] = []

    def _count(self, obj) -> None:
        self.sent += sum(len(v.encode()) for v in obj._repr_mimebundle_().values())
        self.messages.append(self.clock())

    def __call__(self, obj, display_id=None, **kwargs):
        self._count(obj)
        index = len(self.outputs)
        self.outputs.append(obj)
        outer = self

        class Handle:
            def update(self, obj):
                if index < len(outer.outputs) - 1:
                    outer.updated_after_settling.append(index)
                outer._count(obj)
                outer.outputs[index] = obj
        return Handle()

    def final_bytes(self) -> int:
        return sum(sum(len(v.encode()) for v in o._repr_mimebundle_().values()) for o in self.outputs)


@pytest.mark.parametrize("size, seconds, max_outputs, most", [
    # As many outputs as it likes (a frontend showing them all): 1.3x, 15 updates a second.
    (20_000, 10, 10**6, 2), (60_000, 10, 10**6, 2),
    # At most 40 (JupyterLab shows a cell's first 50): the output being updated holds more, so
    # re-sending it is budgeted: 1.7-1.8x (75x before any of this), about 7 updates a second.
    (20_000, 10, None, 2), (60_000, 10, None, 2), (200_000, 20, None, 2),
    # A person-paced model (333 characters a second): the 40 outputs run out after about 50 s,
    # and the last one is re-sent once a second: 3.1x.
    (20_000, 60, None, 4)])
def test_a_streamed_answer_sends_a_small_multiple_of_its_own_size_in_few_outputs(
        size, seconds, max_outputs, most):
    from junis_jupyter.emulator.responder import answer_text, split_pieces
    from junis_jupyter.notebook.highlight import highlight_code
    from junis_jupyter.notebook.markdown import render_markdown
    from junis_jupyter.notebook.render import MAX_OUTPUTS
    text, _ = answer_text(f"[[size={size}]] Explain the quarterly trend")
    pieces = split_pieces(text, None)
    clock = FakeClock()
    disp = ByteCountingDisplay(clock)
    r = StreamRenderer("markdown", update_hz=15, display=disp, clock=clock,
                       max_outputs=max_outputs or MAX_OUTPUTS)
    for i, piece in enumerate(pieces):
        clock.now = i * seconds / len(pieces)
        r.feed(piece)
    streaming = list(disp.messages)                     # the final update comes on top
    r.finish()
    assert "".join(o.text for o in disp.outputs) == text
    assert "".join(o._repr_mimebundle_()["text/html"] for o in disp.outputs) == \
        highlight_code(render_markdown(text), copy=False, inline=True)     # code highlighted
    assert disp.updated_after_settling == []            # a settled output is never sent again
    assert disp.sent <= most * disp.final_bytes()       # was 75x: every update resent it all
    assert len(disp.outputs) <= (max_outputs or MAX_OUTPUTS)
    assert len(disp.outputs) > 5                        # it did settle as it went
    per_second = max(sum(1 for t in streaming if s <= t < s + 1) for s in range(seconds))
    assert per_second <= 16
    gaps = [b - a for a, b in zip(streaming, streaming[1:])]
    assert max(gaps) <= 1.1                             # new text never waits long to show


def test_an_answer_in_one_display_is_re_sent_at_the_budget_s_pace_not_the_clock_s():
    # A background cell's answer is one display updated in place (a finished cell takes no new
    # output): it cannot settle, but re-sending it is budgeted as any output's is. Before, every
    # update of the clock (15 a second) re-sent all of it: 75x for this answer.
    from junis_jupyter.emulator.responder import answer_text, split_pieces
    text, _ = answer_text("[[size=20000]] Explain the quarterly trend")
    pieces = split_pieces(text, None)
    clock = FakeClock()
    disp = ByteCountingDisplay(clock)
    r = StreamRenderer("markdown", update_hz=15, display=disp, clock=clock, segment_chars=1 << 62)
    for i, piece in enumerate(pieces):
        clock.now = i * 10.0 / len(pieces)
        r.feed(piece)
    r.finish()
    assert len(disp.outputs) == 1 and disp.outputs[0].text == text
    assert disp.sent <= 8 * disp.final_bytes()                # 5.7x measured
    gaps = [b - a for a, b in zip(disp.messages, disp.messages[1:])]
    assert len(disp.messages) >= 10 and max(gaps) <= 1.1      # still shown at least once a second


def test_the_magic_and_the_renderer_agree_on_the_most_outputs():
    from junis_jupyter.notebook.magics import JunisMagics
    from junis_jupyter.notebook.render import MAX_OUTPUTS
    assert JunisMagics.max_outputs.default_value == MAX_OUTPUTS < 50


def test_a_note_goes_on_the_last_output_and_nothing_is_lost():
    clock, disp = FakeClock(), OutputsDisplay()
    r = StreamRenderer("markdown", update_hz=10, display=disp, clock=clock)
    for i, piece in enumerate(["# Title\n\n", "Para one.\n\n", "```py\nx = 1\n"]):
        clock.now = i
        r.feed(piece)
    r.finish(note="interrupted")
    texts = [o.text for o in disp.outputs]
    assert "".join(texts[:-1]) + texts[-1].split("\n```\n\n*[interrupted]*")[0] == \
        "# Title\n\nPara one.\n\n```py\nx = 1\n"
    assert texts[-1].endswith("\n```\n\n*[interrupted]*")      # the open fence is closed first
