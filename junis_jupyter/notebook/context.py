"""What goes to the agent besides the prompt: recent code as context (`--context N`), and the
preview of a turn that is not sent (`--dry-run`)."""
from __future__ import annotations

import re
from typing import Any

from ..data import estimate
from .chain import CellTurn, Plan
from .render import Table

__all__ = ["recent_code", "dry_run"]

_MAGIC_CELL = re.compile(r"\s*%%?junis\b")


def _fence(source: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", source)), default=0)
    return "`" * max(3, longest + 1)


def recent_code(shell: Any, count: int) -> str:
    """The sources of the last `count` code cells run before this one (not `%junis` cells),
    oldest first, under a heading that says what they are; "" when there are none."""
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
        fence = _fence(source)
        blocks.append(f"In [{number}]:\n{fence}python\n{source}\n{fence}")
    heading = (f"For context, the last {len(picked)} code cell{'s' if len(picked) > 1 else ''} "
               "I ran in this notebook, oldest first:")
    return heading + "\n\n" + "\n\n".join(blocks) + "\n\nMy question:\n"


def dry_run(prompt: str, system: str | None, history: tuple[CellTurn, ...], plan: Plan) -> Table:
    """The messages a turn would send, and those its session already holds; nothing is sent."""
    rows: list[tuple[str, str, str]] = []
    held = "held by session " + plan.session_id if plan.session_id else "sent (seeds a new session)"
    if system:
        rows.append(("system", "sent", system))
    for turn in history:
        rows.append(("user", held, turn.prompt))
        rows.append(("assistant", held, turn.answer))
    rows.append(("user", "sent", prompt))
    sent = [r for r in rows if r[1].startswith("sent")]
    tokens = sum(estimate.tokens(content) for _, _, content in rows)
    caption = (f"Dry run: nothing was sent. The turn would send {len(sent)} message"
               f"{'s' if len(sent) != 1 else ''}; the agent would read about {tokens:,} prompt "
               "tokens (an estimate: four characters a token).")
    return Table(("role", "", "content"), rows, caption=caption)
