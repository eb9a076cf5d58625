"""Code in answers, for the panel: fenced blocks found in the markdown (`fences.code_blocks`, the
one fence reader, named here too for the panel's modules), and highlighted with a Copy control in
the HTML the safe renderer made (`notebook/highlight.py`, which a `%%junis` cell's answer uses
too).

The Copy control is a `<span class="junis-copy">` (no button element, no script, no attribute
beyond `class` and `title`): the panel's key hook (`html.KEYS_JS`) listens for clicks on it and
copies the text of the block it sits in.
"""
from __future__ import annotations

from ..fences import code_blocks
from ..highlight import COPY, highlight_code

__all__ = ["COPY", "code_blocks", "highlight_code"]
