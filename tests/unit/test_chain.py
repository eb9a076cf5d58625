"""The notebook's conversation (notebook/chain.py), with no server and no shell."""
from __future__ import annotations

from junis_jupyter.client.types import Usage
from junis_jupyter.notebook.chain import Chain, Plan, CellTurn, seed_messages


def turn(cell: str | None, session: str, *, cached: bool = False) -> CellTurn:
    return CellTurn(cell, f"q {cell}", f"a {cell}", None, session, Usage(1, 2, 3), cached=cached)


def test_a_new_cell_continues_the_live_session():
    chain = Chain()
    assert chain.plan("c1") == Plan(None, ())
    chain.record(turn("c1", "s1"), live=True)
    assert chain.plan("c2") == Plan("s1", ())
    chain.record(turn("c2", "s1"), live=True)
    assert [t.cell_id for t in chain.turns] == ["c1", "c2"] and chain.session_id == "s1"


def test_rerunning_a_cell_forks_from_the_turns_before_it_and_drops_later_ones():
    chain = Chain()
    for cell in ("c1", "c2", "c3"):
        chain.record(turn(cell, "s1"), live=True)
    plan = chain.plan("c2")
    assert plan.session_id is None and [t.cell_id for t in plan.history] == ["c1"]
    chain.record(turn("c2", "s2"), live=True)
    assert [t.cell_id for t in chain.turns] == ["c1", "c2"]          # c3 left the chain
    assert chain.plan("c3") == Plan("s2", ())                        # until it runs again


def test_rerunning_the_first_cell_starts_afresh():
    chain = Chain()
    chain.record(turn("c1", "s1"), live=True)
    chain.record(turn("c2", "s1"), live=True)
    assert chain.plan("c1") == Plan(None, ())


def test_after_a_cached_turn_a_miss_forks_with_the_whole_chain():
    chain = Chain()
    chain.record(turn("c1", "old", cached=True), live=False)
    plan = chain.plan("c2")
    assert plan.session_id is None and [t.cell_id for t in plan.history] == ["c1"]


def test_without_cell_ids_turns_append():
    chain = Chain()
    chain.record(turn(None, "s1"), live=True)
    chain.record(turn(None, "s1"), live=True)
    assert len(chain.turns) == 2 and chain.plan(None) == Plan("s1", ())


def test_a_failed_request_loses_sync_so_the_next_turn_forks():
    chain = Chain()
    chain.record(turn("c1", "s1"), live=True)
    chain.lose_sync()
    assert chain.plan("c2").session_id is None and len(chain.plan("c2").history) == 1


def test_start_names_a_session_to_continue_or_none():
    chain = Chain()
    chain.record(turn("c1", "s1"), live=True)
    chain.start("given")
    assert chain.turns == [] and chain.plan("c9") == Plan("given", ()) and chain.session_id == "given"
    chain.start()
    assert chain.plan("c9") == Plan(None, ()) and chain.session_id is None


def test_seed_messages_alternate_user_and_assistant():
    history = (turn("c1", "s"), turn("c2", "s"))
    assert seed_messages(history) == [
        {"role": "user", "content": "q c1"}, {"role": "assistant", "content": "a c1"},
        {"role": "user", "content": "q c2"}, {"role": "assistant", "content": "a c2"}]
