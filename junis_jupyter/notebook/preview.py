"""What `%%junis --dry-run` shows: each message as it would be sent, its role and then its text
preformatted (a schema and a table keep their lines), and every cut made putting it together.

Its HTML carries inline styles of plain colours only: JupyterLab's sanitiser, which an untrusted
notebook's outputs go through, drops `<style>` elements and `var(...)` values.
"""
from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from ..data.cuts import Cut, describe

__all__ = ["Message", "DryRun"]

_PRE = ("white-space:pre-wrap;overflow-wrap:anywhere;margin:2px 0 10px 0;padding:6px 8px;"
        "background-color:#f3f3f3;color:#212121;border-radius:4px;max-height:none")
_ROLE = "margin:6px 0 0 0;font-weight:bold"
_STATUS = "font-weight:normal;color:#616161"


@dataclass(frozen=True)
class Message:
    role: str           # system, user, assistant
    status: str         # "sent", "held by session ..."
    text: str


class DryRun:
    """The messages a turn would send (and those its session already holds), the cuts, and the
    estimate in one caption."""

    def __init__(self, messages: Sequence[Message], caption: str,
                 cuts: Sequence[Cut] = ()) -> None:
        self.messages = list(messages)
        self.caption = caption
        self.cuts = list(cuts)

    def cut_line(self) -> str:
        said = describe(self.cuts)
        return f"Shortened on the way in: {said}" if said else "Nothing was shortened."

    def _repr_html_(self) -> str:
        parts = [f"<p>{html.escape(self.caption)}</p>"]
        for m in self.messages:
            parts.append(f'<p style="{_ROLE}">{html.escape(m.role)} '
                         f'<span style="{_STATUS}">({html.escape(m.status)})</span></p>'
                         f'<pre style="{_PRE}">{html.escape(m.text)}</pre>')
        parts.append(f"<p>{html.escape(self.cut_line())}</p>")
        return '<div class="junis-dry-run">' + "".join(parts) + "</div>"

    def __repr__(self) -> str:
        lines = [self.caption]
        for m in self.messages:
            lines += ["", f"--- {m.role} ({m.status}) ---", m.text]
        lines += ["", self.cut_line()]
        return "\n".join(lines)
