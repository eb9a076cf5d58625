"""The renderer that stands between model output and the page."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.hostile import HOSTILE, UnsafeHTML, assert_safe_html
from junis_jupyter.notebook import markdown
from junis_jupyter.notebook.markdown import escape_html, is_safe_url, render_markdown, valid_unicode
from junis_jupyter.notebook.render import IncrementalMarkdown


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_input_renders_to_allowlisted_html(payload: str) -> None:
    html = render_markdown(payload)
    assert_safe_html(html)
    lowered = html.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered and "<svg" not in lowered and "<iframe" not in lowered
    unquoted = re.sub(r'"[^"]*"', '""', lowered)      # attribute values are escaped text
    assert not re.search(r"<[^>]*\son\w+\s*=", unquoted), html   # no event handler in any tag


@pytest.mark.parametrize("payload", [p for p in HOSTILE if p.startswith("<") and not p.startswith("<javascript")])
def test_raw_html_is_shown_escaped_not_dropped(payload: str) -> None:
    """Escaped, not deleted: the user sees what the model said, as text."""
    html = render_markdown(payload)
    first_tag = re.match(r"<[!\w-]+", payload).group(0)
    assert "&lt;" + first_tag[1:] in html


def test_checker_catches_what_it_should() -> None:
    """The checker itself must fail on unsafe markup, or the tests above prove nothing."""
    for bad in ['<img src=x onerror="x">', '<a href="javascript:x">a</a>', "<script>x</script>",
                '<p onclick="x">p</p>', '<a href="data:text/html,x">a</a>']:
        with pytest.raises(UnsafeHTML):
            assert_safe_html(bad)


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JAVASCRIPT:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "java\nscript:x", "\x01javascript:x", "vbscript:x", "data:text/html,x", "data:image/png;base64,AA",
    "file:///etc/passwd", "ftp://host/x", "chrome://settings", "blob:http://x/y", "about:blank",
    "%6Aavascript:x", "java%09script:x", "javascript%3Aalert(1)", "\\\\evil.com", "/\\evil.com",
])
def test_unsafe_urls_refused(url: str) -> None:
    assert not is_safe_url(url)


@pytest.mark.parametrize("url", [
    "http://example.com", "https://example.com/a?b=1#c", "HTTPS://EXAMPLE.COM", "mailto:a@b.c",
    "/relative/path", "relative/path", "#anchor", "?q=1", "//example.com/x", "page.html#sec:2",
])
def test_safe_urls_kept(url: str) -> None:
    assert is_safe_url(url)


def test_links_are_kept_and_open_in_a_new_tab() -> None:
    html = render_markdown("See [the docs](https://docs.junis.ai/x?a=1&b=2) and <https://junis.ai>.")
    assert '<a href="https://docs.junis.ai/x?a=1&amp;b=2" target="_blank" ' \
           'rel="noopener noreferrer nofollow">the docs</a>' in html
    assert 'href="https://junis.ai"' in html


def test_unsafe_link_leaves_its_text() -> None:
    html = render_markdown("[press](javascript:alert(1))")
    assert "<a" not in html and "press" in html


def test_images_become_links_and_are_never_loaded() -> None:
    html = render_markdown("![a chart](https://example.com/c.png)")
    assert "<img" not in html
    assert '<a href="https://example.com/c.png"' in html and "[image: a chart]" in html
    assert render_markdown("![x](data:image/png;base64,AAAA)").count("<a") == 0


def test_code_blocks_keep_their_formatting() -> None:
    source = "```python\ndef f(x):\n    return x < 3 and '<b>'\n\n\n# end\n```"
    html = render_markdown(source)
    assert ('<pre><code class="language-python">def f(x):\n    return x &lt; 3 and '
            "'&lt;b&gt;'\n\n\n# end\n</code></pre>") in html


def test_markdown_structure_survives() -> None:
    html = render_markdown("# Title\n\n- one\n- **two**\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n\n~~old~~")
    for piece in ("<h1>Title</h1>", "<li>one</li>", "<strong>two</strong>", "<table>",
                  '<td style="text-align:right">2</td>', "<s>old</s>"):
        assert piece in html
    assert_safe_html(html)


def test_escape_html_covers_attribute_quotes() -> None:
    assert escape_html("<a href=\"x\" title='y'>&") == "&lt;a href=&quot;x&quot; title=&#x27;y&#x27;&gt;&amp;"


_PIECES = list("<>\"'`&=:;/\\()[]!#*_-|~@\n\t ") + [
    "javascript", "script", "onerror", "img", "svg", "data", "href", "src", "http", "&#58;",
    "&#x09;", "%3A", "```", "alert", "a", "\ufdd0", "&#xfdd0;", "%EF%B7%90", "align", "del",
    "mailto", "https://", "<!--", "-->", "\n\n", "~~", "|---|", "![", "](", "title"]
_DANGEROUS = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(_DANGEROUS)
def test_fuzzed_markup_is_always_safe(text: str) -> None:
    assert_safe_html(render_markdown(text))


# The cmark-gfm + nh3 renderer's own rules (see the module docstring).

@settings(max_examples=300, deadline=None)
@given(_DANGEROUS)
def test_cmark_never_sees_raw_html_so_nothing_is_dropped_silently(text: str) -> None:
    """cmark's safe mode would replace raw HTML by a comment; it must never get any to replace."""
    assert "raw HTML omitted" not in markdown._cmark(markdown._without_html(text))


@pytest.mark.parametrize("payload", HOSTILE)
def test_the_hostile_corpus_reaches_cmark_without_raw_html(payload: str) -> None:
    assert "raw HTML omitted" not in markdown._cmark(markdown._without_html(payload))


def test_nh3_is_the_last_pass_whatever_the_parser_emits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defence in depth: markup a parser bug let through is still cleaned to the allow-list."""
    leaked = ('<p onclick="x">a <img src=x onerror=alert(1)><script>alert(2)</script>'
              '<a href="javascript:alert(3)">j</a> <a href="ftp://h/x">f</a> <iframe src="/x"></iframe>'
              '<td style="position:fixed">c</td><code class="jp-Notebook">k</code>'
              '<a href="https://ok.example" onmouseover="x">ok</a></p>')
    monkeypatch.setattr(markdown, "_cmark", lambda text: leaked)
    html = render_markdown("anything")
    assert_safe_html(html)
    assert "alert" not in html and "position" not in html and "jp-Notebook" not in html
    assert ('<a href="https://ok.example" target="_blank" rel="noopener noreferrer nofollow">ok</a>'
            in html)


def test_the_noncharacter_standing_for_lt_cannot_be_smuggled_in() -> None:
    assert render_markdown("\ufdd0b>x") == "<p>\ufffdb&gt;x</p>\n"
    assert render_markdown("`\ufdd0b>`") == "<p><code>\ufffdb&gt;</code></p>\n"
    assert render_markdown("a <b> `<c>` <https://x.y/z> <u@v.w>") == (
        '<p>a &lt;b&gt; <code>&lt;c&gt;</code> <a href="https://x.y/z" target="_blank" '
        'rel="noopener noreferrer nofollow">https://x.y/z</a> <a href="mailto:u@v.w" '
        'target="_blank" rel="noopener noreferrer nofollow">u@v.w</a></p>\n')


def test_links_images_and_strikethrough_in_detail() -> None:
    assert render_markdown("[empty]() and [ftp](ftp://h/x) and <ftp://h/y>") == (
        "<p>empty and ftp and ftp://h/y</p>\n")
    linked_image = render_markdown("[![chart](https://a.b/c.png)](https://a.b/page)")
    assert linked_image.count("<a ") == 1 and "[image: chart]" in linked_image   # no nested link
    assert render_markdown("![](https://a.b/c.png)").count("[image: image]") == 1
    assert render_markdown('[t](https://a.b "a <title>")').count('title="a &lt;title&gt;"') == 1
    assert render_markdown("~~two~~ ~one~") == "<p><s>two</s> ~one~</p>\n"   # as markdown-it did
    assert render_markdown("1. a\n2. b") == "<ol>\n<li>a</li>\n<li>b</li>\n</ol>\n"
    assert '<ol start="3">' in render_markdown("3. c")


_BLOCK_PIECES = [
    "<script>\n\nwindow.x = 1\n\n</script>\n", "<!--\n\ncomment\n\n-->\n", "<pre>\n\npre\n\n</pre>\n",
    "<div>\n\n*in a div*\n\n</div>\n", "<?php\n\necho 1;\n\n?>\n", "<![CDATA[\n\nx\n\n]]>\n",
    "<!DOCTYPE html>\n", "text\n<div>\ninterrupts?\n", "plain paragraph\n", "- item <b>\n",
    "| a |\n|---|\n| <i>x</i> |\n", "```\n<script>\n\n</script>\n```\n",
]


def test_incremental_rendering_equals_a_whole_render_around_html_blocks() -> None:
    """IncrementalMarkdown cuts at blank lines; CommonMark's HTML blocks can run across them,
    which must not matter: the renderer never parses raw HTML as such."""
    import random
    rng = random.Random(16)
    for _ in range(150):
        text = "\n".join(rng.choice(_BLOCK_PIECES) for _ in range(rng.randint(1, 8)))
        inc, pos = IncrementalMarkdown(), 0
        while pos < len(text):
            pos = min(len(text), pos + rng.randint(1, 40))
            assert inc.render(text[:pos]) == render_markdown(text[:pos]), text[:pos]


def test_lone_surrogates_become_replacement_characters_and_split_pairs_join() -> None:
    undecodable = b"caf\xe9 \xff".decode("utf-8", "surrogateescape")    # a mis-encoded file
    assert valid_unicode(undecodable) == "caf\ufffd \ufffd"
    assert valid_unicode("a\ud83d" + "\ude00b") == "a\U0001F600b"       # an emoji cut in two chunks
    assert valid_unicode("x\ud800y") == "x\ufffdy"
    assert valid_unicode("plain é 😀") == "plain é 😀"
    assert render_markdown(undecodable) == "<p>caf\ufffd \ufffd</p>\n"
    assert escape_html("<\udcff>") == "&lt;\ufffd&gt;"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.integers(0xD800, 0xDFFF), st.integers(0, 0x10FFFF)), max_size=30))
def test_rendered_html_always_encodes_as_utf8(codes: list[int]) -> None:
    """Jupyter sends widget values as UTF-8: whatever the model sent, the HTML must encode."""
    text = "".join(map(chr, codes))
    render_markdown(text).encode("utf-8")
    escape_html(text).encode("utf-8")


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/statm"), reason="reads /proc")
def test_rendering_frees_what_cmark_allocates() -> None:
    """cmarkgfm's markdown_to_html_with_extensions frees neither the tree nor the HTML (~27 bytes
    a character): 2.4M characters would leak ~65 MB. A kernel renders answers all day."""
    def rss_mb() -> float:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * 4096 / 1e6
    block = "## Part\n\nSome *text* and a [link](https://a.b).\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
    text = block * (8000 // len(block))
    for _ in range(20):
        render_markdown(text)
    before = rss_mb()
    for _ in range(300):
        render_markdown(text)
    assert rss_mb() - before < 16
