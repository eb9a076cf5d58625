"""The one line under the conversation: what happened and, for an error, what to do about it
(worded by the package's one table of advice, for the panel)."""
from __future__ import annotations

import ipywidgets as w

from ...advice import Surface, advise
from .client import PanelClient
from .html import notice_html

__all__ = ["Notice"]


class Notice(w.HTML):
    """An `HTML` widget holding the notice (escaped); "" when there is nothing to say."""

    def __init__(self, client: PanelClient) -> None:
        super().__init__("")
        self._client = client

    def say(self, message: str, kind: str = "info") -> None:
        self.value = notice_html(message, kind)

    def advice(self, exc: BaseException) -> str:
        """What `exc` means and what to do, in the panel's words (never a traceback)."""
        return advise(exc, Surface.PANEL, base_url=self._client.base_url)

    def error(self, exc: BaseException) -> None:
        self.say(self.advice(exc), "error")
