"""The notebook's conversation: its cells' turns in the order the notebook shows, not run order.

Each `%%junis` turn is keyed by its cell's id. Running a cell that is not in the chain appends its
turn, continuing the chain's session. Re-running a cell that is in the chain forks: a new session
seeded with the turns before that cell (sent as `messages`), the cell's new turn in place of its
old one, and the turns of later cells out of the chain until those cells run again. So Run All,
twice, asks the same thing twice, and an edited cell's later cells answer what the notebook shows.

A session on the server holds exactly the chain only when its last turn was a real call made
through it; a cached turn (or a chain started by `--session`) is not that, so the next miss
forks from the chain's turns instead of continuing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from ..client.types import Usage

__all__ = ["CellTurn", "Plan", "Chain", "seed_messages"]


@dataclass(frozen=True)
class CellTurn:
    cell_id: str | None         # None where the frontend sends no cell id (terminal, nbclient)
    prompt: str                 # as sent, after interpolation
    answer: str
    agent: str | None
    session_id: str | None
    usage: Usage
    cached: bool = False        # replayed from the answer cache: no request was made
    count: int | None = None    # the execution count of the cell that asked, where it ran


class Plan(NamedTuple):
    """How the next turn is sent: continue `session_id`, or (None) start a session seeded with
    `history` (empty: a fresh conversation)."""
    session_id: str | None
    history: tuple[CellTurn, ...]


class Chain:
    def __init__(self) -> None:
        self.turns: list[CellTurn] = []
        self._live: str | None = None   # the session whose server history is exactly `turns`

    def _index(self, cell_id: str | None) -> int | None:
        if cell_id is None:
            return None
        for i, turn in enumerate(self.turns):
            if turn.cell_id == cell_id:
                return i
        return None

    def before(self, cell_id: str | None) -> tuple[CellTurn, ...]:
        """The turns this cell's turn follows: all of them, or those before its old turn."""
        i = self._index(cell_id)
        return tuple(self.turns if i is None else self.turns[:i])

    def plan(self, cell_id: str | None) -> Plan:
        history = self.before(cell_id)
        if len(history) == len(self.turns) and self._live is not None:
            return Plan(self._live, ())
        return Plan(None, history)

    def record(self, turn: CellTurn, *, live: bool) -> None:
        """Put the cell's turn in place: later cells' turns leave the chain. `live`: the turn's
        session now holds exactly the chain (a real answer, on a continued or seeded session)."""
        self.turns = list(self.before(turn.cell_id))
        self.turns.append(turn)
        self._live = turn.session_id if live else None

    def start(self, session_id: str | None = None) -> None:
        """A fresh conversation (`--new`, `%junis new`), or one that continues `session_id`."""
        self.turns = []
        self._live = session_id

    def lose_sync(self) -> None:
        """A request failed part-way: its session may hold a turn the chain does not."""
        self._live = None

    @property
    def session_id(self) -> str | None:
        """The current session: the last turn's, else the one a `start` named."""
        return self.turns[-1].session_id if self.turns else self._live


def seed_messages(history: tuple[CellTurn, ...]) -> list[dict[str, Any]]:
    """The OpenAI-style messages that seed a forked session with `history`."""
    out: list[dict[str, Any]] = []
    for turn in history:
        out.append({"role": "user", "content": turn.prompt})
        out.append({"role": "assistant", "content": turn.answer})
    return out
