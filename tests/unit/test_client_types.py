"""Result objects shown in a notebook must not hand model text to the frontend as live markup."""
from junis_jupyter.client.types import ChatResult, Usage


def test_chat_result_publishes_no_markup():
    r = ChatResult(text='<img src=x onerror="alert(1)">', session_id="s", usage=Usage(),
                   finish_reason="stop")
    for name in ("_repr_markdown_", "_repr_html_", "_repr_javascript_", "_repr_svg_"):
        assert not hasattr(r, name), name
    assert "onerror" in repr(r)          # the text is still there, as plain text
