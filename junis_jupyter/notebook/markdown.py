"""Markdown from a model to HTML that can go into the page without running anything.

The chat panel shows answers in an ipywidgets `HTML` widget, which puts its value into the page as
markup. Model output is untrusted (a prompt can make a model say anything), so the rules are:

- raw HTML in the markdown is escaped, never passed through: it is shown as text;
- a link is kept only if its URL is http(s), mailto or relative; anything else (`javascript:`,
  `vbscript:`, `data:`, `file:`, unknown schemes, obfuscated schemes) leaves plain text;
- links open in a new tab with `rel="noopener noreferrer nofollow"`, so a click never replaces
  JupyterLab and the target page gets no handle on it;
- images are never loaded: they become a link with their alt text, so an answer cannot make the
  browser fetch a URL by itself (the usual way to smuggle data out of a chat);
- code blocks keep their formatting in `<pre><code>` (contents escaped);
- the result is always valid Unicode: a surrogate pair split across stream chunks is joined and a
  lone surrogate (undecodable bytes read with `surrogateescape`) becomes U+FFFD. Jupyter sends
  widget values as UTF-8, and a lone surrogate there fails in the kernel or arrives garbled.

How (the stack PyPI renders every package README with; docs/performance.md has the figures):

1. **`<` is taken away from the parser.** Every `<` that does not open an autolink
   (`<https://...>`, `<a@b.c>`) becomes U+FDD0, a noncharacter (U+FDD0 already in the text
   becomes U+FFFD), so no raw HTML, block or inline, is ever parsed as such: it stays text in
   paragraphs, code spans and code blocks alike, exactly where a parser without HTML would leave
   it. cmark's own safe mode would instead drop raw HTML (`<!-- raw HTML omitted -->`), and its
   HTML blocks (`<script>` to `</script>`, comments) run across blank lines, which the
   incremental renderer's cuts rely on not happening.
2. **cmark-gfm** (`cmarkgfm`: GitHub's C CommonMark parser, tables and `~~strikethrough~~`)
   renders it in its default safe mode, which also empties `javascript:`/`vbscript:`/`file:`/
   `data:` URLs.
3. **One pass over cmark's tags** (it writes them in one fixed form, and no other `<` is left in
   its output): a link whose URL is empty or not `is_safe_url` leaves its text, an image becomes
   `[image: alt]` (a link to it if the URL is safe and the image is not inside a link already),
   `<del>` becomes `<s>`, table alignment a `style`, and U+FDD0 `&lt;`.
4. **nh3** (ammonia, the maintained Rust successor of bleach) cleans the result with an
   allow-list of the tags and attributes above, http(s)/mailto URLs, and `target="_blank"` and
   the `rel` set on every link: defence in depth, whatever a parser bug let through.
"""
from __future__ import annotations

import html as _html
import re

import cffi
import nh3
from cmarkgfm import _cmark as _cmark_ext
from cmarkgfm.cmark import Options as _Options

__all__ = ["render_markdown", "is_safe_url", "escape_html", "valid_unicode"]

_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
# Browsers drop these anywhere in a URL before parsing it ("java\tscript:" is javascript:).
_STRIPPED_BY_BROWSERS = re.compile(r"[\x00-\x20\x7f]")


def is_safe_url(url: str) -> bool:
    """True for http(s), mailto and relative URLs; False for every other scheme.

    Works on the URL as a parser hands it over (already percent-normalised) and on the raw
    text alike: whitespace and control characters are removed first, as a browser would, and a
    colon before the first `/`, `?` or `#` counts as a scheme even when the scheme is garbled.
    """
    candidate = _STRIPPED_BY_BROWSERS.sub("", url)
    if candidate.startswith("\\") or candidate.startswith("/\\"):
        return False        # "\\host" and "/\\host" are protocol-relative in browsers: be strict
    match = _SCHEME.match(candidate)
    if match:
        return match.group(1).lower() in _SAFE_SCHEMES
    head = re.split(r"[/?#]", candidate, maxsplit=1)[0]
    # "%6Aavascript:" and friends: anything colon-ish before a path is not a relative URL.
    return ":" not in head and "%3a" not in head.lower()


def valid_unicode(text: str) -> str:
    """`text` with surrogate pairs joined and lone surrogates replaced by U+FFFD."""
    if text.isascii():
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def escape_html(text: str) -> str:
    """Escape text for an HTML element or a double-quoted attribute."""
    return (valid_unicode(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#x27;"))


# 1. `<` away from the parser, except where it opens a CommonMark autolink (neither form can
#    start an HTML tag, comment, declaration or block: a tag name is followed by a space, `/>`
#    or `>`, never by `:` or `@`).
_LT = "\ufdd0"
_LT_URL = "%EF%B7%90"        # U+FDD0 in a link destination, as cmark percent-encodes it
_NOT_AUTOLINK = re.compile(
    r"<(?![A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\x00-\x20<>]*>"
    r"|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*>)")


def _without_html(text: str) -> str:
    if _LT in text:
        text = text.replace(_LT, "\ufffd")
    if "<" in text:
        text = _NOT_AUTOLINK.sub(_LT, text)
    return text


# 2. cmark-gfm, safe mode (raw HTML omitted, dangerous URLs emptied): there is none left to omit.
#    Driven through cmarkgfm's C functions rather than `markdown_to_html_with_extensions`, which
#    frees neither the document tree nor the HTML string (cmarkgfm 2025.10.22: ~27 bytes leaked
#    per character rendered; IncrementalMarkdown renders every answer once and its unfinished
#    block again at each update, in a kernel that lives all day). cmarkgfm's bindings do not
#    declare `cmark_node_free` nor expose `free`, so they are looked up in the same loaded
#    extension and in the C library.
_OPTIONS = _Options.CMARK_OPT_DEFAULT | _Options.CMARK_OPT_STRIKETHROUGH_DOUBLE_TILDE
_LIB, _FFI = _cmark_ext.lib, _cmark_ext.ffi
_LIB.cmark_gfm_core_extensions_ensure_registered()
_EXTENSIONS = [_LIB.cmark_find_syntax_extension(name) for name in (b"table", b"strikethrough")]
_FREEING = cffi.FFI()
_FREEING.cdef("void cmark_node_free(void *node); void free(void *ptr);")
_NODE_FREE = _FREEING.dlopen(_cmark_ext.__file__).cmark_node_free
_FREE = _FREEING.dlopen(None).free


def _address(pointer: object) -> object:
    return _FREEING.cast("void *", int(_FFI.cast("uintptr_t", pointer)))


def _cmark(text: str) -> str:
    data = text.encode("utf-8")
    parser = _LIB.cmark_parser_new(_OPTIONS)
    try:
        for extension in _EXTENSIONS:
            _LIB.cmark_parser_attach_syntax_extension(parser, extension)
        _LIB.cmark_parser_feed(parser, data, len(data))
        root = _LIB.cmark_parser_finish(parser)
        try:
            extensions = _LIB.cmark_parser_get_syntax_extensions(parser)
            raw = _LIB.cmark_render_html(root, _OPTIONS, extensions)
            try:
                return _FFI.string(raw).decode("utf-8")
            finally:
                _FREE(_address(raw))
        finally:
            _NODE_FREE(_address(root))
    finally:
        _LIB.cmark_parser_free(parser)


# 3. cmark writes links and images in one form (attribute values escaped, `"` as `&quot;`).
_LINK_OR_IMAGE = re.compile(
    r'<a href="([^"]*)"((?: title="[^"]*")?)>|</a>'
    r'|<img src="([^"]*)" alt="([^"]*)"(?: title="[^"]*")? />')
_ALIGN = re.compile(r' align="(left|center|right)"')


def _links_and_images(html: str) -> str:
    out: list[str] = []
    pos = 0
    in_link = dropped = False
    for match in _LINK_OR_IMAGE.finditer(html):
        out.append(html[pos:match.start()])
        pos = match.end()
        token = match.group(0)
        if token.startswith("<a "):          # CommonMark links never nest
            href = match.group(1)
            in_link, dropped = True, not (href and is_safe_url(_html.unescape(href)))
            if not dropped:
                out.append(f'<a href="{href}"{match.group(2)}>')
        elif token == "</a>":
            if not dropped:
                out.append(token)
            in_link = dropped = False
        else:
            src, alt = match.group(3), match.group(4)
            label = f"[image: {alt or 'image'}]"
            if in_link or not (src and is_safe_url(_html.unescape(src))):
                out.append(label)
            else:
                out.append(f'<a href="{src}">{label}</a>')
    out.append(html[pos:])
    return "".join(out)


def _tidy(html: str) -> str:
    if "<a " in html or "<img " in html:
        html = _links_and_images(html)
    if "<del>" in html:
        html = html.replace("<del>", "<s>").replace("</del>", "</s>")
    if ' align="' in html:
        html = _ALIGN.sub(r' style="text-align:\1"', html)
    if _LT in html:
        html = html.replace(_LT, "&lt;")
    if _LT_URL in html:
        html = html.replace(_LT_URL, "%3C")
    return html


# 4. The allow-list, enforced by nh3 whatever came before.
_TAGS = {"p", "br", "hr", "em", "strong", "s", "code", "pre", "blockquote", "ul", "ol", "li",
         "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td"}
_ALIGNS = {"text-align:left", "text-align:center", "text-align:right"}
_LANGUAGE_CLASS = re.compile(r"language-[^\s]+")


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "href":
        return value if is_safe_url(value) else None
    if attribute == "class":     # only cmark's class for a fenced block's language
        return value if tag == "code" and _LANGUAGE_CLASS.fullmatch(value) else None
    return value


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags={"script", "style"},
    attributes={"a": {"href", "title"}, "ol": {"start"}, "code": {"class"}},
    tag_attribute_values={"th": {"style": _ALIGNS}, "td": {"style": _ALIGNS}},
    set_tag_attribute_values={"a": {"target": "_blank"}},
    link_rel="noopener noreferrer nofollow",
    url_schemes=set(_SAFE_SCHEMES),
    attribute_filter=_attribute_filter,
    strip_comments=True,
)


def render_markdown(text: str) -> str:
    """Markdown to HTML that is safe to put into the page (see the module docstring)."""
    return _CLEANER.clean(_tidy(_cmark(_without_html(valid_unicode(text)))))
