"""The one fence reader: code blocks, JSON answers, where a growing answer may be cut, and the
code a prompt's `{name}` leaves alone, all by CommonMark's fence rules."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from junis_jupyter.notebook.fences import (MAX_JSON_DEPTH, block_boundaries, code_blocks,
                                           code_regions, first_code_block, json_block,
                                           open_fence, parse_json_answer, settled_upto)
from junis_jupyter.notebook.markdown import render_markdown

# -- code blocks ------------------------------------------------------------------------------

# The three answers `--format code` and `%junis fix` read wrong before there was one reader.
TILDES = "Here is the fix:\n\n~~~python\nx = 1\n~~~\n"
FOUR_TICKS = "A notebook cell in Markdown:\n\n````markdown\n```python\nx = 1\n```\n````\n"
PROSE_TICKS = "Use ```python fences. Here:\n\n```python\nx = 1\n```\n"


@pytest.mark.parametrize("answer, block", [
    (TILDES, ("python", "x = 1")),
    (FOUR_TICKS, ("markdown", "```python\nx = 1\n```")),
    (PROSE_TICKS, ("python", "x = 1")),
])
def test_first_code_block_reads_fences_as_commonmark_does(answer, block):
    assert first_code_block(answer) == block
    assert '<code class="language-%s">' % block[0] in render_markdown(answer)   # as a page shows it


def test_first_code_block_drops_trailing_blank_lines_and_says_none_without_a_block():
    assert first_code_block("```\nprint(1)\n\n\n```") == ("", "print(1)")
    assert first_code_block("no code, `inline` only") is None
    assert first_code_block("```not a fence``` on one line") is None


@pytest.mark.parametrize("text, blocks", [
    ("```py\nunclosed(", [("py", "unclosed(")]),                   # runs to the end
    ("```py\nx\n``", [("py", "x\n``")]),                            # too short to close
    ("~~~\nx\n```\n~~~", [("", "x\n```")]),                         # the other character
    ("```\nx\n    ```\ny\n```", [("", "x\n    ```\ny")]),           # 4 spaces: code, not a fence
    ("```\nx\n``` y\n```", [("", "x\n``` y")]),                     # a closing fence has no info
    ("\t```\nx\n```", [("", "")]),                                  # a tab is 4 columns: not a fence
    ("  ```js\n  a()\n    b()\n c()\n  ```", [("js", "a()\n  b()\nc()")]),   # the indent comes off
    ("```\r\nx\r\n```\r\nafter", [("", "x\r")]),                    # CRLF lines
    ("~~~ py`x extra\ncode\n~~~", [("py`x", "code")]),              # a tilde fence's info may hold `
    ("```\n```", [("", "")]),
])
def test_fence_rules(text, blocks):
    assert code_blocks(text) == blocks


def test_open_fence_is_what_would_close_the_block_a_text_ends_in():
    assert open_fence("Here:\n~~~python\nx = 1\n") == "~~~"
    assert open_fence(FOUR_TICKS[:FOUR_TICKS.index("x = 1")]) == "````"
    assert open_fence("Use ``` in prose, and `code`.") is None
    assert open_fence(PROSE_TICKS) is None


# -- JSON answers -----------------------------------------------------------------------------

def test_json_is_the_whole_answer_else_its_first_json_or_bare_block():
    assert parse_json_answer('{"a": 1}') == {"a": 1}
    assert parse_json_answer('Here:\n```python\nx\n```\n~~~json\n[1, 2]\n~~~') == [1, 2]
    assert json_block("```yaml\na: 1\n```\n```\n{}\n```") == "{}"
    with pytest.raises(ValueError, match="no JSON text"):
        parse_json_answer("just words")


def _nested(depth: int) -> str:
    """JSON `depth` levels deep, objects and arrays in turn."""
    levels = range(depth)
    return ("".join('{"a": ' if i % 2 else "[" for i in levels) + "1"
            + "".join("}" if i % 2 else "]" for i in reversed(levels)))


@pytest.mark.parametrize("wrap", [lambda t: t, lambda t: f"Here:\n```json\n{t}\n```"])
def test_json_nested_too_deeply_to_show_is_not_json_not_a_recursion_error(wrap):
    for deep in ("[" * 100_000 + "]" * 100_000, _nested(MAX_JSON_DEPTH + 1)):
        with pytest.raises(ValueError, match=f"nested more than {MAX_JSON_DEPTH} levels") as raised:
            parse_json_answer(wrap(deep))
        assert not isinstance(raised.value, RecursionError)
    assert parse_json_answer(wrap(_nested(MAX_JSON_DEPTH))) == json.loads(_nested(MAX_JSON_DEPTH))


# -- where a growing answer may be cut --------------------------------------------------------

def _renders_apart_as_whole(text: str) -> bool:
    cuts = [0, *block_boundaries(text), len(text)]
    return "".join(render_markdown(text[a:b]) for a, b in zip(cuts, cuts[1:])) == \
        render_markdown(text)


@pytest.mark.parametrize("text", [
    "```\ncode\n    ```\n\nfoo\n```",                        # 4 spaces do not close a fence
    "```\ncode\n```\x0c\n\nfoo\n```",                        # nor does a fence with text after it
    "10. ```\n    x\n    ```\n```\nc\n\nd\n```",             # 4 spaces do not open one either
    "para\n\x0c\nfoo", "para\n\u00a0\nfoo",                  # only spaces and tabs make a blank line
    "- a\n\n-\n  b", "1. a\n\n2.\n   b",                      # an empty list item goes on the list
])
def test_no_cut_inside_what_renders_as_one_block(text):
    assert _renders_apart_as_whole(text)


def test_cuts_after_what_only_looked_like_a_fence():
    assert list(block_boundaries("```not a fence``` x\n\nfoo")) == [21]
    assert list(block_boundaries("\t```\nx\n\nfoo")) == [8]


# Fences at the top level only: one indented 1 to 3 spaces may sit in a list item, which the
# reader does not follow (see the module's docstring).
_LINES = st.sampled_from([
    "```", "````", "~~~", "```py", "``` `x`", "    ```", "\t```", "```\x0c", "``` ",
    "text", "more text", "- item", "-", "1. one", "2.", "  indented", "    code", "> quote",
    "", "", "", " ", "\t", "\r", "# Title", "---", "| a |", "[ref]", "\u00a0", "x `y` z",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(_LINES, max_size=14), st.booleans())
def test_property_pieces_cut_at_the_boundaries_render_as_the_whole(lines, finished):
    """Whatever the lines, the finished blocks render the same apart as together."""
    text = "\n".join(lines) + ("\n" if finished else "")
    assert _renders_apart_as_whole(text), text


def test_settled_upto_is_the_last_cut_unless_a_link_definition_may_change_links():
    text = "One.\n\nTwo.\n\nThr"
    assert settled_upto(text) == text.index("Thr")
    assert settled_upto(text, text.index("Two")) == text.index("Thr")
    assert settled_upto("See [x].\n\nTwo.\n\n[x]: https://example.org\n\nThr") == 0


# -- code a prompt's {name} leaves alone ------------------------------------------------------

def test_code_regions_are_fenced_blocks_and_spans():
    text = "a `b` c\n~~~\n{x}\n~~~\nd ``e`` f ```g``` h\n````\nopen"
    regions = [text[a:b] for a, b in code_regions(text)]
    assert regions == ["`b`", "~~~\n{x}\n~~~", "``e``", "```g```", "````\nopen"]
