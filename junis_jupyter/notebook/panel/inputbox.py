"""The input box. The key hook (html.KEYS_JS) appends a mark to its value: SUBMIT_MARK on Enter,
RECALL_MARK on Up in an empty box; the kernel takes the mark out again here. Putting the signal
into the value means it can never overtake the last keystrokes."""
from __future__ import annotations

import ipywidgets as w

from ..markdown import valid_unicode
from .html import RECALL_MARK, SUBMIT_MARK

__all__ = ["QuestionBox"]


class QuestionBox(w.Textarea):
    """A `Textarea` that knows the marks, and what to do with a question that comes back."""

    def __init__(self) -> None:
        super().__init__(placeholder="Ask… (Enter sends, Shift+Enter adds a line)", rows=3,
                         continuous_update=True,
                         layout=w.Layout(width="auto", align_self="stretch"))
        self.add_class("junis-chat-input")

    def question(self) -> str:
        """What is typed, the Enter mark taken out."""
        return self.value.replace(SUBMIT_MARK, "")

    def put(self, text: str) -> None:
        self.value = valid_unicode(text.replace(SUBMIT_MARK, ""))

    def give_back(self, text: str) -> None:
        """A question that was not answered comes back, unless the user typed anew."""
        if not self.value.strip():
            self.put(text)

    def recall(self, last: str) -> None:
        """Up or Edit: the last question into an empty box; what is typed is kept (the mark
        taken out)."""
        typed = self.value.replace(RECALL_MARK, "")
        self.put(last if last and not typed.strip() else typed)
