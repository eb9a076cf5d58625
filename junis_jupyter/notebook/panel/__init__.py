"""The chat panel: `ChatPanel`, the widget view of a conversation."""
from .widget import ChatPanel

__all__ = ["ChatPanel"]
