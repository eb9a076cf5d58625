"""Every ledger row says where its call came from (data/pipeline.py tags each call: origin,
notebook, cell id), and a ledger written before those columns existed gains them."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from junis_jupyter import ask_many
from junis_jupyter.client.observers import current_tags, tagged
from junis_jupyter.client.types import CallRecord, Usage
from junis_jupyter.data import ledger
from junis_jupyter.data.ledger import Ledger


def test_a_cell_and_a_batch_write_their_origin(shell: Any, junis_env: Any) -> None:
    cell = shell.run("%%junis --new\n[[chunks=2]] Hello", cell_id="cell-abc")
    assert cell.error is None
    ask_many(["[[chunks=2]] one", "[[chunks=2]] two"], progress=False)
    rows = ledger.default_ledger().rows()
    chats = [r for r in rows if r["endpoint"] == "chat"]
    assert [(r["origin"], r["cell_id"]) for r in chats] == \
        [("cell", "cell-abc"), ("batch", None), ("batch", None)]


def test_a_cached_cell_records_its_origin_too(shell: Any, junis_env: Any, tmp_path: Path) -> None:
    shell.run(f"%config JunisMagics.cache_path = {str(tmp_path / 'c.sqlite')!r}")
    for _ in range(2):
        assert shell.run("%%junis --new --cache use\n[[chunks=2]] Hi", cell_id="c1").error is None
    hit = ledger.default_ledger().rows()[-1]
    assert (hit["endpoint"], hit["origin"], hit["cell_id"]) == ("cache", "cell", "c1")


def test_tags_nest_and_end_with_their_block() -> None:
    assert dict(current_tags()) == {}
    with tagged(origin="panel", notebook=None):
        with tagged(cell_id="x"):
            assert dict(current_tags()) == {"origin": "panel", "cell_id": "x"}
        assert dict(current_tags()) == {"origin": "panel"}
    assert dict(current_tags()) == {}


def test_an_older_ledger_gains_the_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    with sqlite3.connect(path) as conn:        # the schema of the first release
        conn.execute("""CREATE TABLE calls (id INTEGER PRIMARY KEY AUTOINCREMENT,
            started_at TEXT NOT NULL, endpoint TEXT NOT NULL, agent TEXT, session_id TEXT,
            stream INTEGER NOT NULL, status INTEGER, error_code TEXT, prompt_tokens INTEGER,
            completion_tokens INTEGER, total_tokens INTEGER, latency_s REAL NOT NULL,
            first_token_s REAL, request_id TEXT, attempts INTEGER NOT NULL DEFAULT 1)""")
        conn.execute("INSERT INTO calls (started_at, endpoint, stream, latency_s) VALUES "
                     "('2026-01-01T00:00:00.000000Z', 'chat', 0, 0.5)")
    led = Ledger(path)
    led.record(CallRecord(datetime.now(timezone.utc), "chat", None, None, False, 200, None,
                          Usage(1, 2, 3), 0.1, None, None, tags={"origin": "panel"}))
    rows = led.rows()
    assert [(r["endpoint"], r["origin"]) for r in rows] == [("chat", None), ("chat", "panel")]
