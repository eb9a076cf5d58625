"""What goes to the agent besides the prompt: recent code as context (`--context N`), and the
preview of a turn that is not sent (`--dry-run`)."""
from __future__ import annotations

import re
from typing import Any

from ..data import estimate
from ..data.cuts import Cutter
from .chain import CellTurn, Plan
from .preview import DryRun, Message

__all__ = ["recent_code", "dry_run"]

_MAGIC_CELL = re.compile(r"\s*%%?junis\b")


def _fence(source: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", source)), default=0)
    return "`" * max(3, longest + 1)


def recent_code(shell: Any, count: int, *, cutter: Cutter | None = None,
                max_chars: int = 0) -> str:
    """The sources of the last `count` code cells run before this one (not `%junis` cells),
    oldest first, under a heading that says what they are; "" when there are none. Each source
    is masked, and cut at `max_chars` (0: not cut), a cut `cutter` keeps."""
    cutter = cutter if cutter is not None else Cutter()
    history = list(getattr(shell.history_manager, "input_hist_raw", []) or [])
    earlier = history[1:-1]          # [0] is empty by IPython's convention; [-1] is this cell
    picked: list[tuple[int, str]] = []
    for number in range(len(earlier), 0, -1):
        source = earlier[number - 1]
        if source.strip() and not _MAGIC_CELL.match(source):
            picked.append((number, source.rstrip()))
            if len(picked) == count:
                break
    if not picked:
        return ""
    blocks = []
    for number, source in reversed(picked):
        source = cutter.text(f"--context In[{number}]", source, max_chars)
        fence = _fence(source)
        blocks.append(f"In [{number}]:\n{fence}python\n{source}\n{fence}")
    heading = (f"For context, the last {len(picked)} code cell{'s' if len(picked) > 1 else ''} "
               "I ran in this notebook, oldest first:")
    return heading + "\n\n" + "\n\n".join(blocks) + "\n\nMy question:\n"


def dry_run(prompt: str, system: str | None, history: tuple[CellTurn, ...], plan: Plan,
            cutter: Cutter) -> DryRun:
    """The messages a turn would send, and those its session already holds, each as it would go
    (masked by the prompt's `cutter`); the cuts it made putting the prompt together; nothing is
    sent."""
    mask = cutter.mask
    messages: list[Message] = []
    held = "held by session " + plan.session_id if plan.session_id else "sent (seeds a new session)"
    if system:
        messages.append(Message("system", "sent", mask(system)))
    for turn in history:
        messages.append(Message("user", held, mask(turn.prompt)))
        messages.append(Message("assistant", held, mask(turn.answer)))
    messages.append(Message("user", "sent", prompt))
    sent = [m for m in messages if m.status.startswith("sent")]
    tokens = sum(estimate.tokens(m.text) for m in messages)
    caption = (f"Dry run: nothing was sent. The turn would send {len(sent)} message"
               f"{'s' if len(sent) != 1 else ''}; the agent would read about {tokens:,} prompt "
               "tokens (an estimate: four characters a token).")
    return DryRun(messages, caption, tuple(cutter.cuts))
