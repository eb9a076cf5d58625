"""Streaming an answer into a cell without flooding the frontend.

A notebook gets a display handle per answer, updated at most `update_hz` times a second plus once
at the end. Every update resends its whole output, so an answer is not one output: its finished
markdown blocks are settled (shown one last time, never updated again) and only the rest lives in
the display that is updated, which is re-sent as the answer's growth pays for it (`budget.py`).
The frontend thus receives about the answer's size in all (1.7x for a 20,000-character answer in
at most 40 outputs, not 75x), and the saved notebook holds the answer once, in a few outputs.
Chunks are kept in a `TextBuffer`; the shown text is one str shared with
the display; only the block still being written is rendered again (`IncrementalMarkdown`). When
one update still takes long, the next waits four times as long, so rendering stays under a
quarter of the time. A terminal IPython has no display handles: there the new text is written to
stdout as it arrives (at the same bounded rate).

Answers are model output, hence untrusted: in a notebook they are shown as HTML made by
`notebook/markdown.py` (raw HTML escaped, unsafe links dropped, images as links), never as raw
`text/markdown`, which a notebook renders with the page's full trust (scripts included). What a
terminal prints (the `text/plain`, the terminal mode's writes, the footer) has its escape sequences
taken out (`escapes.py`): a terminal would run them.
"""
from __future__ import annotations

import html
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TextIO

from ..client.textbuffer import TextBuffer
from ..data.cuts import Cut, describe
from .budget import ResendBudget
from .escapes import EscapeStripper, strip_escapes
from .fences import block_boundaries, has_link_definition, open_fence, settled_upto

__all__ = ["StreamRenderer", "IncrementalMarkdown", "Footer", "Table", "pick_mode", "MODES"]

MODES = ("markdown", "text", "terminal")


def pick_mode(shell: Any, fmt: str = "markdown") -> str:
    """'terminal' in a terminal IPython (no rich display); else the cell's format."""
    if shell is not None and "Terminal" in type(shell).__name__:
        return "terminal"
    return "text" if fmt == "text" else "markdown"


PIECE = 8192    # finished text rendered at most about this many characters at a time
HIGHLIGHT_UPTO = 1_000_000  # code starting past this many characters of an answer is shown plain


class IncrementalMarkdown:
    """Safe HTML of a growing markdown text that re-renders only the block still being written.

    The text is cut (`fences.block_boundaries`) at a blank line outside a code fence followed by a
    line that starts a new top-level block: not indented, not a list item (list items stay
    together, so a loose list renders as one list). Such blocks render the same apart as together,
    so the finished part is rendered once and kept. A link reference definition can change links
    anywhere before it: once one appears, the whole text is rendered every time.

    `highlight` (a cell's: `highlight.highlight_code`) runs on each finished piece once, as it is
    kept, and on the rest when the answer is `final` or the rest has no code fence still open: a
    code block being written is shown plain, and highlighted once its fence closes. Only code in
    the first HIGHLIGHT_UPTO characters is coloured: coloured code is about four times its plain
    HTML, and a longer answer's memory would grow with it.
    """

    def __init__(self, highlight: Callable[[str], str] | None = None, begins: int = 0) -> None:
        self._html: list[str] = []  # the rendered finished part, a piece per render
        self._upto = 0              # text[:_upto] is what _html renders
        self._highlight = highlight
        self._begins = begins       # where the text begins in the answer (an output after others)

    @property
    def finished(self) -> int:
        """How much of the text is finished blocks (rendered once, kept)."""
        return self._upto

    def _done(self, html: str, at: int) -> str:
        """`html`, rendered from the text from `at` on, highlighted if that is early enough."""
        early = self._begins + at < HIGHLIGHT_UPTO
        return self._highlight(html) if self._highlight is not None and early else html

    def render(self, text: str, final: bool = False) -> str:
        from .markdown import render_markdown
        if has_link_definition(text):
            return self._done(render_markdown(text), 0 if len(text) <= HIGHLIGHT_UPTO
                              else HIGHLIGHT_UPTO)
        start = self._upto
        for cut in self._boundaries(text):
            # Finished text is rendered at most ~PIECE characters at a time: a parser's tree takes
            # many bytes a character, so one parse of a long stretch would dwarf the answer.
            if cut - start >= PIECE:
                self._html.append(self._done(render_markdown(text[start:cut]), start))
                start = cut
        last = self._upto
        if start < last:
            self._html.append(self._done(render_markdown(text[start:last]), start))
        rest = render_markdown(text[last:])
        done = final or self._highlight is None or open_fence(text[last:]) is None
        return "".join([*self._html, self._done(rest, last) if done else rest])

    def _boundaries(self, text: str) -> Iterator[int]:
        """The cuts after `_upto`, in order; `_upto` ends at the last one."""
        for cut in block_boundaries(text, self._upto):
            self._upto = cut
            yield cut


class _Answer:
    """The answer so far: safe HTML from its markdown (if `markdown`), and the text as text/plain,
    without the escape sequences a terminal printing it would run. `final`: this output is not
    updated again (it ended, or settled), so all of its code is highlighted."""

    def __init__(self, text: str, markdown: IncrementalMarkdown | None,
                 final: bool = False, html: str | None = None) -> None:
        self.text = text
        self.markdown = markdown
        self.final = final
        self.html = html            # made already (a settled output's)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        # The text itself, not a pretty-printed copy: a long answer is not held twice more.
        bundle = {"text/plain": strip_escapes(self.text)}
        if self.html is not None:
            bundle["text/html"] = self.html
        elif self.markdown is not None:
            bundle["text/html"] = self.markdown.render(self.text, self.final)
        return bundle

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(strip_escapes(self.text))    # verbatim (a __repr__ would lose a trailing newline)


_BYTES_A_CHARACTER = 4      # an output's text and its HTML, about, for a character of answer


def _cell_code(html: str) -> str:
    """A cell's code blocks, highlighted as the panel's are, in colours a cell output keeps."""
    from .highlight import highlight_code
    return highlight_code(html, copy=False, inline=True)


def _default_display(obj: Any, **kwargs: Any) -> Any:
    from IPython.display import display
    return display(obj, **kwargs)


SEGMENT = 1     # an output this long is settled at its last finished block (1: at every one)
# JupyterLab and Notebook 7 show a cell's first 50 outputs (their maxNumberOutputs) and hide the
# rest behind "Show more outputs", the footer too: an answer takes at most MAX_OUTPUTS (the
# renderer's `max_outputs`, `JunisMagics.max_outputs`: more is lighter where more show). They are
# spent as the answer goes on: settling waits SPAN / max_outputs seconds at first, twice as long
# after each quarter of them (so all of them last about five SPANs); and the updated output is
# settled whenever its finished part is SHARE_LIVE of all that is shown, so it stays a small part
# of a long answer. Re-sending that output is paid for from a `budget.ResendBudget`, as the panel's
# redraws are: an update the answer's growth cannot pay for waits for more text (at most a second).
MAX_OUTPUTS = 40
SPAN = 10.0
SHARE_LIVE = 0.25
SHARE_RESENT = 0.8      # of the answer's bytes, what re-sending the updated output may cost


class StreamRenderer:
    """Shows one answer as it streams: `feed` each delta, then `finish` once."""

    def __init__(self, mode: str = "markdown", *, update_hz: float = 15.0,
                 display: Callable[..., Any] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 stdout: TextIO | None = None, segment_chars: int = SEGMENT,
                 max_outputs: int = MAX_OUTPUTS, highlight: bool = True) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self._code = _cell_code if highlight else None
        self.interval = 1.0 / update_hz if update_hz > 0 else 0.0
        self._display = display or _default_display
        self._clock = clock
        self._stdout = stdout
        self._shown = TextBuffer()   # the text already shown
        self._pending = TextBuffer() # not shown yet
        self._handle: Any = None
        self._last = float("-inf")
        self._gap = self.interval    # grows when an update takes long
        self._before = 0             # characters in the outputs settled before this one
        self._markdown = self._fresh()
        self._plain = EscapeStripper()   # the terminal's writes, a sequence cut between two held
        self.segment_chars = segment_chars
        self.max_outputs = max_outputs
        self._settled_at = float("-inf")
        self._budget = ResendBudget(share=SHARE_RESENT)
        self.updates = 0             # display updates / stdout writes done, for tests and demos
        self.outputs = 0             # display outputs used: a long answer takes several

    @property
    def text(self) -> str:
        """The current output's text: the whole answer unless it took several outputs."""
        if not self._pending:
            return self._shown.text
        return self._shown.text + self._pending.text

    def feed(self, delta: str) -> None:
        if not delta:
            return
        self._pending.append(delta)
        now = self._clock()
        if now - self._last >= self._gap and (self._settle_cut(now) or self._paid(now)):
            self._last = now
            self._flush()

    def finish(self, note: str | None = None) -> str:
        """Final update; `note` (e.g. 'interrupted') is appended to what is shown, not to the text.
        Nothing is settled now: no later update would resend it, so one message is enough."""
        self._flush(note=note, final=True)
        return self.text

    def _take_new(self) -> str:
        """The text not shown yet, now counted as shown."""
        new = self._pending.take()
        if new:
            self._shown.append(new)
        return new

    def _flush(self, note: str | None = None, final: bool = False) -> None:
        new = self._take_new()
        if self.mode == "terminal":
            new = self._plain.feed(new) + (self._plain.flush() if final else "")
            if note:
                new += f"\n[{note}]"
            if new:
                out = self._stdout or sys.stdout
                out.write(new)
                out.flush()
                self.updates += 1
            return
        if self._handle is not None and note is None and not new and not (
                final and self._plain_code()):
            return                       # nothing new since the last update
        text = self.text
        if self._handle is None and not text and self.outputs and not note:
            return                       # a long answer ended right at an output's end
        began, sent = self._clock(), self.updates
        if not final:
            cut = self._settle_cut(began, text)
            if cut:                      # the finished blocks are shown one last time
                self._send(self._settling(text[:cut]))
                self._handle = None
                self._settled_at, self._before = began, self._before + cut
                self._markdown = self._fresh()
                text = text[cut:]
                self._shown = TextBuffer(text)
        if text or note or self._handle is not None or not self.outputs:
            self._show(text, note, final)
        # a flush may send two messages (the settled output, the new one): space the next by both
        self._gap = max(self.interval * max(1, self.updates - sent), 4 * (self._clock() - began))
        self._budget.spend(len(text) * _BYTES_A_CHARACTER, began)

    def _settling(self, head: str) -> _Answer:
        """The output's finished blocks, `head`, as shown one last time: its HTML made from the
        pieces the live output rendered (and highlighted) already, the rest rendered once."""
        markdown = self._markdown
        if markdown is None:
            return _Answer(head, None)
        if len(head) < markdown.finished:        # not past what it kept: made afresh
            markdown = IncrementalMarkdown(self._code, self._before)
        return _Answer(head, None, html=markdown.render(head, final=True))

    def _plain_code(self) -> bool:
        """Whether the shown output ends in a code block shown plain: the last update showed it
        while its fence was open."""
        if self._markdown is None:
            return False
        return open_fence(self._shown.text[self._markdown.finished:]) is not None

    def _fresh(self) -> IncrementalMarkdown | None:
        return IncrementalMarkdown(self._code, self._before) if self.mode == "markdown" else None

    def _paid(self, now: float) -> bool:
        """Whether the budget pays for re-sending the updated output with what is pending."""
        if self._handle is None or self.mode == "terminal":
            return True
        size = (len(self._shown) + len(self._pending)) * _BYTES_A_CHARACTER
        return self._budget.paid(size, self._before * _BYTES_A_CHARACTER + size, now)

    def _settle_cut(self, now: float, text: str | None = None) -> int:
        """Where the updated output's finished blocks (of `text`, or all the text so far) end if
        they settle now (see MAX_OUTPUTS), else 0: a flush that settles is worth its bytes."""
        if self._handle is None or self.mode == "terminal" or self.outputs >= self.max_outputs:
            return 0
        text = self.text if text is None else text
        if len(text) < self.segment_chars:
            return 0
        wait = SPAN / self.max_outputs * 2 ** (4 * (self.outputs - 1) / self.max_outputs)
        if now - self._settled_at < wait and len(text) < SHARE_LIVE * (self._before + len(text)):
            return 0
        return self._settled(text)

    def _settled(self, text: str) -> int:
        """Where this output's finished part ends (0: nothing finished yet)."""
        if self._markdown is None:
            return text.rfind("\n") + 1
        return settled_upto(text)

    def _show(self, text: str, note: str | None, final: bool = False) -> None:
        shown = text
        if note and self.mode == "markdown":
            fence = open_fence(text)           # cut inside a code block: close it first
            shown = f"{text}\n{fence}\n\n*[{note}]*" if fence else f"{text}\n\n*[{note}]*"
        elif note:
            shown = f"{text}\n[{note}]"
        self._send(_Answer(shown, self._markdown, final))

    def _send(self, answer: _Answer) -> None:
        if self._handle is None:
            self._handle = self._display(answer, display_id=True)
            self.outputs += 1
        else:
            self._handle.update(answer)
        self.updates += 1


class Footer:
    """The small line under an answer: session id and token usage, and every value shortened on
    its way into the prompt (`cuts`, data/cuts.py). Its output's metadata also says where the
    answer came from (`provenance`, data/provenance.py), for a saved notebook, and the cuts."""

    def __init__(self, session_id: str | None, usage: Any = None, *, agent: str | None = None,
                 note: str | None = None, provenance: dict[str, Any] | None = None,
                 warning: str | None = None, cuts: Sequence[Cut] = ()) -> None:
        self.session_id = session_id
        self.usage = usage
        self.agent = agent
        self.note = note
        self.provenance = provenance or {}
        self.warning = warning
        self.cuts = tuple(cuts)

    def parts(self) -> list[str]:
        parts = []
        if self.agent:
            parts.append(f"agent {self.agent}")
        if self.session_id:
            parts.append(f"session {self.session_id}")
        u = self.usage
        if u is not None and u.total_tokens:
            parts.append(u.describe())
        if self.note:
            parts.append(self.note)
        if self.cuts:
            parts.append("shortened: " + describe(self.cuts))
        if self.warning:
            parts.append(self.warning)
        return [strip_escapes(part) for part in parts]     # the agent's name is the service's

    def metadata(self) -> dict[str, Any]:
        """Machine-readable copy in the output's metadata (the demo's summary reads it)."""
        u = self.usage
        cuts = {"cuts": [cut.as_dict() for cut in self.cuts]} if self.cuts else {}
        return {"junis": {**self.provenance, "session_id": self.session_id, "agent": self.agent,
                          "total_tokens": getattr(u, "total_tokens", 0) if u else 0,
                          "note": self.note, **cuts}}

    def _repr_html_(self) -> str:
        return f"<sub>{html.escape(' · '.join(self.parts()))}</sub>"

    def __repr__(self) -> str:
        return "[" + " · ".join(self.parts()) + "]"


class Table:
    """A small table with HTML and plain-text forms, so listing agents needs no pandas."""

    def __init__(self, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                 *, caption: str | None = None) -> None:
        self.columns = list(columns)
        self.rows = [["" if v is None else str(v) for v in row] for row in rows]
        self.caption = caption

    def _repr_html_(self) -> str:
        left = ' style="text-align:left"'    # notebooks right-align table cells by default
        head = "".join(f"<th{left}>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td{left}>{html.escape(v)}</td>" for v in row) + "</tr>"
                       for row in self.rows)
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        flat = [[v.replace("\n", " ") for v in row] for row in self.rows]
        widths = [max([len(c)] + [len(r[i]) for r in flat]) for i, c in enumerate(self.columns)]
        def line(cells: Sequence[str]) -> str:
            return "  ".join(v.ljust(w) for v, w in zip(cells, widths, strict=True)).rstrip()
        lines = [line(self.columns), line(["-" * w for w in widths])] + [line(r) for r in flat]
        if self.caption:
            lines.insert(0, self.caption)
        return "\n".join(lines)
