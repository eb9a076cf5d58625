"""What the panel puts into the page: its CSS, the Enter key hook, and the HTML of turns.

Model output reaches the page only through `markdown.render_markdown` (while an answer streams,
through `render.IncrementalMarkdown`, which re-renders only its unfinished block); everything else
(the user's words, notices, names) goes through `escape_html`. Both make the text valid Unicode
first: Jupyter sends widget values as UTF-8, which a lone surrogate cannot be.
"""
from __future__ import annotations

from ...client.types import RateLimitInfo, Usage
from ..markdown import escape_html, render_markdown
from .code import highlight_code
from .conversation import Turn, TurnState

__all__ = ["CSS", "EMPTY", "GONE", "KEYS_JS", "MARKS", "RECALL_MARK", "SUBMIT_MARK", "TurnHtml",
           "answer_html", "footer_html", "notice_html", "turn_close", "turn_open", "who_html"]

# The front-end key hook appends this to the textarea on Enter; the kernel sees it in the value,
# strips it and sends. Putting the "submit" signal into the value itself means it can never
# overtake the last keystrokes (ipywidgets buffers value syncs but not custom messages).
SUBMIT_MARK = "\ue000"

# Up in an empty box appends this instead: the kernel puts the last question back to be edited.
RECALL_MARK = "\ue001"

KEYS_JS = """
(function () {
  if (window.__junisChatKeys) { return; }
  window.__junisChatKeys = true;
  window.addEventListener('keydown', function (e) {
    var t = e.target;
    if (!t || t.tagName !== 'TEXTAREA' || !t.closest || !t.closest('.junis-chat-input')) { return; }
    if (e.isComposing || e.altKey || e.ctrlKey || e.metaKey) { return; }
    var mark;
    if (e.key === 'Enter') {
      e.stopPropagation();            /* never let JupyterLab run the cell */
      if (e.shiftKey) { return; }     /* Shift+Enter: the textarea adds a line */
      mark = '%s';
    } else if (e.key === 'ArrowUp' && !e.shiftKey && t.value === '') {
      e.stopPropagation();
      mark = '%s';                    /* Up in an empty box: the last question, to edit */
    } else { return; }
    e.preventDefault();
    t.value = t.value + mark;
    t.dispatchEvent(new Event('input', {bubbles: true}));
  }, true);
  /* Copy: the code block's text to the clipboard (the page is served from loopback or https,
     where navigator.clipboard exists; otherwise the older execCommand way). */
  window.addEventListener('click', function (e) {
    var c = e.target && e.target.closest && e.target.closest('.junis-chat-panel .junis-copy');
    if (!c) { return; }
    var pre = c.parentNode && c.parentNode.querySelector('pre');
    if (!pre) { return; }
    var text = pre.innerText.replace(/\\n$/, '');
    var said = function (word) { c.textContent = word;
      setTimeout(function () { c.textContent = 'Copy'; }, 1500); };
    var fallback = function () {
      var a = document.createElement('textarea'); a.value = text; document.body.appendChild(a);
      a.select(); var ok = false; try { ok = document.execCommand('copy'); } catch (x) {}
      a.remove(); said(ok ? 'Copied' : 'Copy failed');
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { said('Copied'); }, fallback);
    } else { fallback(); }
  }, true);
})();
""" % (SUBMIT_MARK.encode("unicode_escape").decode(), RECALL_MARK.encode("unicode_escape").decode())  # noqa: UP031 (the script is all braces)

CSS = """<style>
.junis-chat-panel { max-width: 900px; width: 100%; min-width: 0; box-sizing: border-box; }
.junis-chat-panel .junis-row { flex-wrap: wrap; min-width: 0; }
.junis-chat-panel .junis-row > * { min-width: 0; }
.junis-chat-panel .junis-picker { flex: 1 1 220px; width: auto; max-width: 420px; }
.junis-chat-panel .junis-picker select { min-width: 0; }
.junis-chat-panel .junis-buttons button { flex: 0 1 auto; width: auto; min-width: 0; }
.junis-chat-conversation { border: 1px solid var(--jp-border-color2, #ddd); border-radius: 6px;
  padding: 6px; min-width: 0; max-height: 460px; }
.junis-chat-conversation .widget-html, .junis-chat-conversation .widget-box { margin: 0; }
.junis-chat-conversation .widget-html-content { line-height: inherit; min-width: 0; }
.junis-turn { margin: 6px 0; padding: 6px 10px; border-radius: 8px; line-height: 1.45;
  min-width: 0; overflow-wrap: anywhere; }
.junis-chat-conversation .junis-turn.widget-box { margin: 6px 0; }
.junis-turn p { margin: 0.3em 0; }
.junis-user { background: var(--jp-brand-color3, #e3f0fd); margin-left: 15%; }
.junis-user .junis-body { white-space: pre-wrap; }
.junis-assistant { background: var(--jp-layout-color2, #f3f3f3); margin-right: 10%; }
.junis-chat-conversation .junis-assistant.widget-box { margin-right: 10%; }
.junis-who { font-size: 0.8em; opacity: 0.7; margin-bottom: 2px; }
.junis-turn pre { background: var(--jp-layout-color0, #fff); padding: 6px; overflow-x: auto;
  margin: 0.3em 0; }
.junis-chat-panel .junis-turn pre { white-space: pre; overflow-wrap: normal; word-break: normal;
  max-width: 100%; box-sizing: border-box; }
.junis-chat-panel .junis-turn pre code { white-space: inherit; overflow-wrap: inherit; }
.junis-code { position: relative; }
.junis-copy { position: absolute; top: 2px; right: 4px; font-size: 0.75em; cursor: pointer;
  padding: 0 6px; border: 1px solid var(--jp-border-color2, #ccc); border-radius: 4px;
  background: var(--jp-layout-color1, #fff); opacity: 0.8; user-select: none; }
.junis-copy:hover { opacity: 1; }
.junis-chat-panel .junis-code { display: flex; flex-direction: column; min-width: 0;
  margin: 0.3em 0; background: var(--jp-layout-color0, #fff); border-radius: 4px; }
.junis-chat-panel .junis-code .junis-copy { position: static; align-self: flex-end;
  margin: 3px 4px 0 0; line-height: 1.4; }
.junis-chat-panel .junis-code pre { margin: 0; padding-top: 2px; }
.junis-code .k, .junis-code .kd, .junis-code .kn, .junis-code .kr, .junis-code .kc, .junis-code .ow
  { color: var(--jp-mirror-editor-keyword-color, #008000); font-weight: bold; }
.junis-code .s, .junis-code .s1, .junis-code .s2, .junis-code .sa, .junis-code .sb, .junis-code .sd,
.junis-code .se, .junis-code .sh, .junis-code .si, .junis-code .sx, .junis-code .dl
  { color: var(--jp-mirror-editor-string-color, #ba2121); }
.junis-code .c, .junis-code .c1, .junis-code .cm, .junis-code .ch, .junis-code .cs, .junis-code .cp
  { color: var(--jp-mirror-editor-comment-color, #408080); font-style: italic; }
.junis-code .m, .junis-code .mi, .junis-code .mf, .junis-code .mh, .junis-code .mo
  { color: var(--jp-mirror-editor-number-color, #080); }
.junis-code .nf, .junis-code .fm { color: var(--jp-mirror-editor-def-color, #00f); }
.junis-code .nc, .junis-code .nn {
  color: var(--jp-mirror-editor-def-color, #00f); font-weight: bold; }
.junis-code .nb, .junis-code .bp { color: var(--jp-mirror-editor-builtin-color, #008000); }
.junis-code .o { color: var(--jp-mirror-editor-operator-color, #a2f); }
.junis-code .nd { color: var(--jp-mirror-editor-meta-color, #a2f); }
.junis-turn table { border-collapse: collapse; display: block; overflow-x: auto; }
.junis-turn th, .junis-turn td {
  border: 1px solid var(--jp-border-color2, #ccc); padding: 2px 6px; }
.junis-mark { font-size: 0.8em; font-weight: bold; color: var(--jp-warn-color0, #b35c00); }
.junis-empty { opacity: 0.6; padding: 8px; }
.junis-notice { padding: 4px 8px; border-radius: 4px; }
.junis-error {
  background: var(--jp-error-color3, #fde7e9); color: var(--jp-error-color0, #8a1f11); }
.junis-info { background: var(--jp-info-color3, #e8f4fb); }
.junis-footer { font-size: 0.85em; opacity: 0.8; line-height: 1.4; }
.junis-notice { line-height: 1.4; }
.junis-chat-panel button.jupyter-button:disabled {
  background: var(--jp-layout-color2, #eee); color: var(--jp-ui-font-color2, #616161);
  box-shadow: none; cursor: not-allowed; opacity: var(--jp-widgets-disabled-opacity, 0.6); }
.junis-gone { display: none; }
.junis-chat-panel.jupyter-widgets-disconnected .junis-gone { display: block; padding: 6px 8px;
  margin-bottom: 4px; border-radius: 4px; line-height: 1.4;
  background: var(--jp-warn-color3, #fff3e0); color: var(--jp-warn-color0, #8a4b00); }
.junis-chat-panel.jupyter-widgets-disconnected::before,
.junis-chat-panel.jupyter-widgets-disconnected .jupyter-widgets-disconnected::before {
  display: none; }
.junis-chat-panel.jupyter-widgets-disconnected > :not(:first-child) {
  opacity: 0.45; pointer-events: none; }
.jupyterlab-sidecar .junis-chat-panel { max-width: none; height: 100%; }
.jupyterlab-sidecar .junis-chat-panel > * { flex-shrink: 0; }
.jupyterlab-sidecar .junis-chat-panel > .junis-chat-conversation {
  flex: 1 1 0; min-height: 160px; max-height: none; }
.jupyterlab-sidecar .junis-user { margin-left: 8%; }
.jupyterlab-sidecar .junis-assistant,
.jupyterlab-sidecar .junis-chat-conversation .junis-assistant.widget-box { margin-right: 0; }
</style>"""

EMPTY = '<div class="junis-empty">Ask a question below. Answers stream in here.</div>'

# Shown (by the CSS above) only when the frontend has marked the panel's widgets disconnected:
# its kernel restarted or shut down, and nothing in it can reach Python again.
GONE = ('<div class="junis-gone">This panel\'s kernel is gone (restarted or shut down): it can no '
        'longer ask anything. Run the cell that opened it again for a new one (a new side panel '
        'closes this one).</div>')

MARKS = {TurnState.STOPPED: "■ stopped", TurnState.FAILED: "■ interrupted by an error"}


def answer_html(markdown: str) -> str:
    """An answer's (or a piece of it: whole top-level blocks) safe HTML, code highlighted."""
    return highlight_code(render_markdown(markdown))


def who_html(turn: Turn) -> str:
    who = "You" if turn.role == "user" else turn.agent_name or turn.role.capitalize()
    return f'<div class="junis-who">{escape_html(who)}</div>'


def turn_open(turn: Turn, state: TurnState | None = None) -> str:
    """A turn's HTML up to its body's content (its frame, the speaker, the body's opening tag)."""
    return (f'<div class="junis-turn junis-{escape_html(turn.role)}" '
            f'data-state="{(state or turn.state).value}">{who_html(turn)}<div class="junis-body">')


def turn_close(state: TurnState) -> str:
    mark = MARKS.get(state)
    return "</div>" + (f'<div class="junis-mark">{mark}</div>' if mark else "") + "</div>"


class TurnHtml:
    """Each settled turn's HTML, kept until the turn changes, so a redraw renders only what changed.

    A turn's text is replaced only when its state changes, so (length, state, agent) tells
    whether the kept HTML is still right. (A streaming answer is drawn block by block elsewhere:
    `live.LiveAnswer`.)
    """

    def __init__(self) -> None:
        self._kept: dict[Turn, tuple[tuple[int, TurnState, str | None], str]] = {}

    def turns(self, turns: list[Turn] | tuple[Turn, ...]) -> str:
        return "".join(self.turn(t) for t in turns)

    def turn(self, turn: Turn) -> str:
        text = turn.text()
        stamp = (len(text), turn.state, turn.agent_name)
        kept = self._kept.get(turn)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        body = escape_html(text) if turn.role == "user" else answer_html(text)
        html = turn_open(turn) + body + turn_close(turn.state)
        self._kept[turn] = (stamp, html)
        return html

    def keep_only(self, turns: list[Turn]) -> None:
        """Forget the HTML of turns no longer in the conversation."""
        known = set(turns)
        for turn in [t for t in self._kept if t not in known]:
            del self._kept[turn]


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
