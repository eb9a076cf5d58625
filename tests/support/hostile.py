"""Helpers shared by the panel, renderer and browser tests: an HTML safety checker and the hostile corpus.

The checker is independent of the renderer (it parses the output with the standard library), so a
renderer bug cannot hide itself: whatever HTML reaches the page must pass it.
"""
from __future__ import annotations

from html.parser import HTMLParser

from junis_jupyter.notebook.highlight import CELL_BLOCK, TOKEN_STYLES
from junis_jupyter.notebook.markdown import is_safe_url

# Tags the renderer may emit (CommonMark + tables + strikethrough, and the panel's frame).
ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "em", "strong", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td",
    "div", "span", "style",
})
ALLOWED_ATTRS = frozenset({"href", "class", "target", "rel", "start", "style", "title", "data-state"})


# A cell's code blocks carry their colours inline (notebook/highlight.py): those exact values only.
_CODE_STYLES = frozenset({("pre", CELL_BLOCK)} | {("span", v) for v in TOKEN_STYLES.values()})


class UnsafeHTML(AssertionError):
    pass


class _Checker(HTMLParser):
    def __init__(self, *, allow_style_tag: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.allow_style_tag = allow_style_tag
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS or (tag == "style" and not self.allow_style_tag):
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name not in ALLOWED_ATTRS:
                self.problems.append(f"attribute {name!r} on <{tag}>")
            if name == "href" and not is_safe_url(value or ""):
                self.problems.append(f"href {value!r}")
            if name == "style" and tag not in {"th", "td"} and \
                    (tag, value) not in _CODE_STYLES:
                self.problems.append(f"style attribute on <{tag}>")

    handle_startendtag = handle_starttag


def assert_safe_html(html: str, *, allow_style_tag: bool = False) -> None:
    """Fail if the HTML holds any tag, attribute or URL outside the renderer's allow-list."""
    checker = _Checker(allow_style_tag=allow_style_tag)
    checker.feed(html)
    checker.close()
    if checker.problems:
        raise UnsafeHTML("unsafe HTML: " + "; ".join(checker.problems))


# Each payload, if it ever ran, would set window.__xss (or call alert, which the browser test
# catches as a dialog). Markdown- and HTML-level tricks, URL obfuscations, and break-out attempts.
HOSTILE = [
    "<script>window.__xss = 'script'</script>",
    "<SCRIPT SRC=//127.0.0.1:1/x.js></SCRIPT>",
    "<img src=x onerror=\"window.__xss='img-onerror'\">",
    "<img src=x onerror=alert(1)>",
    "<svg onload=\"window.__xss='svg'\"><circle r=1></svg>",
    "<svg><script>window.__xss='svg-script'</script></svg>",
    "<iframe src=\"javascript:window.top.__xss='iframe'\"></iframe>",
    "<iframe srcdoc=\"<script>parent.__xss='srcdoc'</script>\"></iframe>",
    "<body onload=\"window.__xss='body'\">",
    "<details open ontoggle=\"window.__xss='details'\"><summary>x</summary></details>",
    "<a href=\"javascript:window.__xss='a-href'\">raw anchor</a>",
    "<div style=\"background:url(javascript:alert(1))\">styled</div>",
    "<style>@import 'http://127.0.0.1:1/x.css';</style>",
    "<math><mtext><table><mglyph><style><img src=x onerror=\"window.__xss='mxss'\">",
    "<input autofocus onfocus=\"window.__xss='autofocus'\">",
    "<video><source onerror=\"window.__xss='video'\"></video>",
    "<object data=\"javascript:window.__xss='object'\"></object>",
    "<embed src=\"javascript:window.__xss='embed'\">",
    "<form action=\"javascript:window.__xss='form'\"><button>go</button></form>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:window.__xss='meta'\">",
    "<!--><img src=x onerror=\"window.__xss='comment'\">-->",
    "[click me](javascript:window.__xss='md-link')",
    "[click me](JaVaScRiPt:window.__xss='md-case')",
    "[click me](java&#x09;script:window.__xss='md-tab')",
    "[click me](javascript&#58;window.__xss='md-entity')",
    "[click me](%6Aavascript:window.__xss='md-pct')",
    "[click me](<javascript:window.__xss='md-angle'>)",
    "[click me](vbscript:msgbox(1))",
    "[click me](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click me](file:///etc/passwd)",
    "<javascript:window.__xss='autolink'>",
    "![x](javascript:window.__xss='md-img')",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x\" onerror=\"window.__xss='alt'](http://127.0.0.1:1/x.png)",
    "[x](http://a.b/\" onmouseover=\"window.__xss='attr-breakout')",
    "[x](http://a.b \"title\\\" onmouseover=\\\"window.__xss='title'\")",
    "```html\"><img src=x onerror=\"window.__xss='fence-info'\">\n<script>window.__xss='fence'</script>\n```",
    "`<img src=x onerror=\"window.__xss='inline-code'\">`",
    "| a | <img src=x onerror=\"window.__xss='table'\"> |\n|---|---|\n| <script>window.__xss='cell'</script> | 2 |",
    "&lt;script&gt;window.__xss='entity'&lt;/script&gt;",
    "<scr<script>ipt>window.__xss='nested'</scr</script>ipt>",
    "\\<script>window.__xss='backslash'</script>",
    # For the cmark-gfm + nh3 renderer: HTML blocks that would run across blank lines, the
    # character that stands for `<` inside it, autolinks (the only `<` it parses), its fixed tag
    # forms (links, images, table alignment) imitated from text, and an image inside a link.
    "<script>\n\nwindow.__xss='blank-line'\n\n</script>",
    "<!--\n\n--><img src=x onerror=\"window.__xss='comment-block'\">",
    "<pre>\n\n<img src=x onerror=\"window.__xss='pre-block'\">\n\n</pre>",
    "\ufdd0img src=x onerror=\"window.__xss='sentinel'\">",
    "&#xfdd0;img src=x onerror=\"window.__xss='sentinel-entity'\">",
    "[x](%EF%B7%90img%20src=x%20onerror=alert(1)>)",
    "see <https://a.b/\"onmouseover=\"window.__xss='autolink-quote'\">",
    "see <javascript:window.__xss='autolink-email'@x.y> and <x@y.z\"onmouseover=\"window.__xss=1>",
    "[x](/a \"t\\\" align=\\\"right\\\" onclick=\\\"window.__xss='align-title'\")",
    "| a |\n|:-:|\n| x\" align=\"center\" onclick=\"window.__xss='align-cell' |",
    "text <a href=\"https://a.b\" onclick=\"window.__xss='fake-link'\">fake</a> <del>x</del>",
    "[![x](javascript:window.__xss='img-in-link')](https://a.b)",
    "[![x](https://a.b/i.png)](javascript:window.__xss='link-around-img')",
    "[x](javascript:window.__xss='md-title' \"t\") [y]() [z](<https://a.b/ \"q\">)",
    "~~<img src=x onerror=\"window.__xss='strike'\">~~",
]
