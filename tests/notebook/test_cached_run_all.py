"""A cached Run All asks nothing (issue 22, finding 7): with `JunisMagics.cache = 'use'`, a
notebook's second run from a warm cache (a fresh kernel, as Restart and Run All gives) makes no
request at all, for its `%%junis` cells (a conversation, an agent, a table in the prompt) nor for
its `df.junis.ask` and `ask_many` batches. Counted by the emulator itself, through nbclient."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = pytest.mark.timeout(300)


def cells(cache: Path) -> list[str]:
    return [
        "%load_ext junis_jupyter",
        f"%config JunisMagics.cache = 'use'\n%config JunisMagics.cache_path = {str(cache)!r}",
        "import pandas as pd\n"
        "cities = pd.DataFrame({'city': ['Oslo', 'Lima', 'Pune', 'Kyiv', 'Doha', 'Riga', 'Baku']})",
        "%%junis --new\nWhich of these cities is furthest north? {cities}",
        "%%junis\nAnd which is furthest south?",
        "%%junis --agent Research --new\nOne fact about {cities:head=2}",
        "facts = cities.junis.ask('[[echo]] A fact about {city}', progress=False)\n"
        "print(int(facts.error.notna().sum()), 'failed')",
        "from junis_jupyter import ask_many\n"
        "more = ask_many(['[[echo]] one', '[[echo]] two'], progress=False)\n"
        "print(list(more.answer))",
    ]


def run(cwd: Path, sources: list[str]) -> Any:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def footers(nb: Any) -> list[dict[str, Any]]:
    return [o["metadata"]["junis"] for c in nb.cells for o in c.outputs
            if "junis" in o.get("metadata", {})]


def test_a_run_all_from_a_warm_cache_makes_no_request(junis_env: Any, tmp_path: Path) -> None:
    sources = cells(tmp_path / "answers.junis-cache.sqlite")
    first_before = junis_env.stats()["requests"]
    first = run(tmp_path, sources)
    assert junis_env.stats()["requests"] - first_before >= 3 + 7 + 2    # it did ask, once
    assert [f["cached"] for f in footers(first)] == [False, False, False]

    before = junis_env.stats()["requests"]
    again = run(tmp_path, sources)
    assert junis_env.stats()["requests"] == before
    assert [f["cached"] for f in footers(again)] == [True, True, True]
    printed = ["".join(o.get("text", "") for o in c.outputs) for c in again.cells]
    assert printed[6].strip() == "0 failed" and printed[7].strip() == "['one', 'two']"
