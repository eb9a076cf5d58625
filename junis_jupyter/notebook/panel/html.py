"""What the panel puts into the page: its CSS, the Enter key hook, and the HTML of turns.

Model output reaches the page only through `markdown.render_markdown` (while an answer streams,
through `render.IncrementalMarkdown`, which re-renders only its unfinished block); everything else
(the user's words, notices, names) goes through `escape_html`. Both make the text valid Unicode
first: Jupyter sends widget values as UTF-8, which a lone surrogate cannot be.
"""
from __future__ import annotations

from ...client.types import RateLimitInfo, Usage
from ..markdown import escape_html, render_markdown
from ..render import IncrementalMarkdown
from .conversation import Turn, TurnState

__all__ = ["CSS", "EMPTY", "KEYS_JS", "SUBMIT_MARK", "TurnHtml", "footer_html", "notice_html"]

# The front-end key hook appends this to the textarea on Enter; the kernel sees it in the value,
# strips it and sends. Putting the "submit" signal into the value itself means it can never
# overtake the last keystrokes (ipywidgets buffers value syncs but not custom messages).
SUBMIT_MARK = "\ue000"

KEYS_JS = """
(function () {
  if (window.__junisChatKeys) { return; }
  window.__junisChatKeys = true;
  window.addEventListener('keydown', function (e) {
    var t = e.target;
    if (!t || t.tagName !== 'TEXTAREA' || !t.closest || !t.closest('.junis-chat-input')) { return; }
    if (e.key !== 'Enter' || e.isComposing || e.altKey || e.ctrlKey || e.metaKey) { return; }
    e.stopPropagation();              /* never let JupyterLab run the cell */
    if (e.shiftKey) { return; }       /* Shift+Enter: the textarea adds a line */
    e.preventDefault();
    t.value = t.value + '%s';
    t.dispatchEvent(new Event('input', {bubbles: true}));
  }, true);
})();
""" % SUBMIT_MARK.encode("unicode_escape").decode()

CSS = """<style>
.junis-chat-panel { max-width: 900px; }
.junis-chat-conversation { border: 1px solid var(--jp-border-color2, #ddd); border-radius: 6px;
  padding: 6px; }
.junis-turn { margin: 6px 0; padding: 6px 10px; border-radius: 8px; line-height: 1.45; }
.junis-turn p { margin: 0.3em 0; }
.junis-user { background: var(--jp-brand-color3, #e3f0fd); margin-left: 15%; }
.junis-user .junis-body { white-space: pre-wrap; }
.junis-assistant { background: var(--jp-layout-color2, #f3f3f3); margin-right: 10%; }
.junis-who { font-size: 0.8em; opacity: 0.7; margin-bottom: 2px; }
.junis-turn pre { background: var(--jp-layout-color0, #fff); padding: 6px; overflow-x: auto; }
.junis-turn table { border-collapse: collapse; }
.junis-turn th, .junis-turn td { border: 1px solid var(--jp-border-color2, #ccc); padding: 2px 6px; }
.junis-mark { font-size: 0.8em; font-weight: bold; color: var(--jp-warn-color0, #b35c00); }
.junis-empty { opacity: 0.6; padding: 8px; }
.junis-notice { padding: 4px 8px; border-radius: 4px; }
.junis-error { background: var(--jp-error-color3, #fde7e9); color: var(--jp-error-color0, #8a1f11); }
.junis-info { background: var(--jp-info-color3, #e8f4fb); }
.junis-footer { font-size: 0.85em; opacity: 0.8; }
</style>"""

EMPTY = '<div class="junis-empty">Ask a question below. Answers stream in here.</div>'

_MARKS = {TurnState.STOPPED: "■ stopped", TurnState.FAILED: "■ interrupted by an error"}


class TurnHtml:
    """Each turn's HTML, kept until the turn changes, so a redraw renders only what changed.

    A turn's text only grows while it streams and is replaced only when its state changes, so
    (length, state, agent) tells whether the kept HTML is still right. A streaming answer renders
    through its own `IncrementalMarkdown`; once it settles it is rendered whole, once.
    """

    def __init__(self) -> None:
        self._kept: dict[Turn, tuple[tuple[int, TurnState, str | None], str]] = {}
        self._growing: dict[Turn, IncrementalMarkdown] = {}

    def turns(self, turns: list[Turn] | tuple[Turn, ...]) -> str:
        return "".join(self.turn(t) for t in turns)

    def turn(self, turn: Turn) -> str:
        text = turn.text()
        stamp = (len(text), turn.state, turn.agent_name)
        kept = self._kept.get(turn)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        if turn.role == "user":
            who, body = "You", escape_html(text)
        else:
            who = turn.agent_name or turn.role.capitalize()
            body = self._markdown(turn, text)
        mark = _MARKS.get(turn.state)
        html = (f'<div class="junis-turn junis-{escape_html(turn.role)}" '
                f'data-state="{turn.state.value}">'
                f'<div class="junis-who">{escape_html(who)}</div>'
                f'<div class="junis-body">{body}</div>'
                + (f'<div class="junis-mark">{mark}</div>' if mark else "") + "</div>")
        self._kept[turn] = (stamp, html)
        return html

    def _markdown(self, turn: Turn, text: str) -> str:
        if turn.state is TurnState.STREAMING:
            return self._growing.setdefault(turn, IncrementalMarkdown()).render(text)
        self._growing.pop(turn, None)
        return render_markdown(text)

    def keep_only(self, turns: list[Turn]) -> None:
        """Forget the HTML of turns no longer in the conversation."""
        known = set(turns)
        for cache in (self._kept, self._growing):
            for turn in [t for t in cache if t not in known]:
                del cache[turn]


def notice_html(message: str, kind: str = "info") -> str:
    """A notice under the conversation (plain text, escaped here); "" clears it."""
    return (f'<div class="junis-notice junis-{kind}">{escape_html(message)}</div>'
            if message else "")


def footer_html(tokens: Usage, rate_limit: RateLimitInfo | None) -> str:
    # No reset countdown: the footer is redrawn only after a call, so one would go stale.
    limit = rate_limit.describe() if rate_limit is not None else None
    line = (f"Tokens used in this panel: {tokens.describe()} · "
            f"Rate limit: {limit or 'not known yet'}")
    return f'<div class="junis-footer">{escape_html(line)}</div>'
