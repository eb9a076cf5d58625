"""Every cut named (issue 22, finding 1), and no key survives one (issue 21, break 1): a value
shortened on its way into a `%%junis` prompt is named in the answer's footer and in `--dry-run`,
an asked-for size is sent whole or refused naming the cap, and a key a cap cut in half reaches
neither the service, nor the cell, nor the cache file. `--dry-run` shows each message as it goes
(finding 9). Real magic, real emulator; what was sent is read back from the session's messages.
"""
from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from junis_jupyter.client.sync import JunisClient
from support.shells import MagicShell

ROWS = 3_500


@pytest.fixture
def nb(shell: MagicShell, junis_env: Any) -> MagicShell:
    shell.shell.user_ns["sales"] = pd.DataFrame({
        "day": pd.date_range("2024-01-01", periods=ROWS, freq="h").strftime("%Y-%m-%d %H:00"),
        "region": ["North", "South", "East", "West", "Centre"] * (ROWS // 5),
        "amount": [float(i % 97) for i in range(ROWS)]})
    return shell


def sent(nb: MagicShell) -> str:
    """Every message the emulator holds for the last answer's session."""
    with JunisClient() as client:
        return "\n".join(m.content for m in client.messages(nb.shell.user_ns["_junis"].session_id))


def footer_line(cell: Any) -> str:
    return cell.footer["data"]["text/plain"]


def test_the_footer_names_every_cut(nb: MagicShell) -> None:
    nb.shell.user_ns["notes"] = "n" * 217_225
    cell = nb.run("%%junis --new\nSummarise {sales}. My notes: {notes}")
    assert cell.error is None, cell.err
    assert "shortened: {sales}: 20 of 3,500 rows · {notes}: 2,000 of 217,225 characters" \
        in footer_line(cell)
    assert cell.footer["metadata"]["junis"]["cuts"] == [
        {"name": "{sales}", "shown": 20, "total": 3500, "unit": "rows"},
        {"name": "{notes}", "shown": 2000, "total": 217225, "unit": "characters"}]
    assert "shortened" in html.unescape(cell.footer["data"]["text/html"])


def test_views_items_and_cells_are_named_too(nb: MagicShell) -> None:
    nb.shell.user_ns["ids"] = list(range(500))
    nb.shell.user_ns["wide"] = pd.DataFrame({"text": ["w" * 361, "short"]})
    cell = nb.run("%%junis --new\n{sales:head=50} {sales:sample} {ids} {wide}")
    assert cell.error is None, cell.err
    line = footer_line(cell)
    assert "{sales:head=50}: 50 of 3,500 rows" in line
    assert "{sales:sample}: 5 of 3,500 rows, sampled" in line
    assert "{ids}: 20 of 500 items" in line
    assert "{wide}: 1 cell cut to 200 characters (the longest had 361)" in line


def test_nothing_cut_says_nothing(nb: MagicShell) -> None:
    cell = nb.run("%%junis --new\nThe first rows: {sales:head=3}. Thanks.")
    assert "shortened" in footer_line(cell)      # 3 of 3,500 rows: still less than the whole
    nb.shell.user_ns["small"] = pd.DataFrame({"a": [1, 2]})
    cell = nb.run("%%junis --new\n{small}")
    assert "shortened" not in footer_line(cell)
    assert "cuts" not in cell.footer["metadata"]["junis"]


def test_an_asked_for_size_is_sent_whole(nb: MagicShell) -> None:
    """`{df:csv=3500}` once went as about 320 rows: a 20,000-character cap cut it after."""
    cell = nb.run(f"%%junis --new\n{{sales:csv={ROWS}}}")
    assert cell.error is None, cell.err
    prompt = sent(nb)
    assert len(prompt) > 50_000 and "more characters" not in prompt
    assert prompt.count("\n") >= ROWS and "\n2024-05-25 19:00,Centre,7.0\n" in prompt   # the last row
    assert "{sales:csv=3500}" not in footer_line(cell)


def test_an_asked_for_size_over_the_prompt_cap_is_refused_naming_it(nb: MagicShell,
                                                                    junis_env: Any) -> None:
    nb.run("%config JunisMagics.max_prompt_chars = 30000")
    before = junis_env.stats()["requests"]
    cell = nb.run(f"%%junis --new\n{{sales:csv={ROWS}}}")
    assert junis_env.stats()["requests"] == before
    lines = cell.error_lines()
    assert len(lines) == 1, lines
    assert "{sales:csv=3500} is" in lines[0] and "over the prompt cap of 30,000" in lines[0]
    assert "%config JunisMagics.max_prompt_chars = " in lines[0]


def test_dry_run_names_the_cuts_and_keeps_each_messages_lines(nb: MagicShell,
                                                             junis_env: Any) -> None:
    """Finding 9: a schema and a 20-row table once read as one run-on paragraph."""
    before = junis_env.stats()["requests"]
    cell = nb.run("%%junis --new --dry-run --system 'Be brief.'\n"
                  "The schema:\n{sales:schema}\n\nThe rows:\n{sales}")
    assert cell.error is None and junis_env.stats()["requests"] == before
    shown = cell.events[-1]["data"]
    plain, page = shown["text/plain"], shown["text/html"]
    assert "\n| column | dtype | nulls |\n|---|---|---|\n| day | str | 0 |\n" in plain
    assert "\n| day | region | amount |\n|---|---|---|\n| 2024-01-01 00:00 | North | 0.0 |\n" \
        in plain
    assert plain.index("--- system (sent) ---\nBe brief.") < plain.index("--- user (sent) ---")
    assert "Shortened on the way in: {sales}: 20 of 3,500 rows" in plain
    pres = [html.unescape(p) for p in re.findall(r"<pre[^>]*>(.*?)</pre>", page, re.S)]
    assert pres[0] == "Be brief."
    assert "\n| day | region | amount |\n|---|---|---|\n" in pres[1]    # lines kept, preformatted
    assert "{sales}: 20 of 3,500 rows" in html.unescape(page)


# -- issue 21, break 1: a key cut by a cap -----------------------------------------------------

def leaked(text: str, key: str) -> list[str]:
    """Any five characters in a row of the key's secret part: the mask keeps its last four."""
    secret = key[len("jns_live_"):]
    return [secret[i:i + 5] for i in range(len(secret) - 4) if secret[i:i + 5] in text]


def everything_kept(cell: Any, cache: Path) -> str:
    files = [p.read_bytes().decode("utf-8", "replace") for p in cache.parent.glob(cache.name + "*")]
    assert files, "the answer was cached"
    return "\n".join([str(cell.events), cell.out, cell.err, *files])


@pytest.mark.parametrize("setup, prompt", [
    ("import os\ns = 'x' * 1960 + os.environ['JUNIS_API_KEY']", "What is {s}?"),
    ("import os, pandas as pd\n"
     "df = pd.DataFrame({'v': ['y' * 160 + os.environ['JUNIS_API_KEY'], 'ok']})", "Read {df}"),
    ("import os\nd = {i: 'z' * 170 + os.environ['JUNIS_API_KEY'] for i in range(30)}",
     "Read {d}"),
], ids=["string-cap", "table-cell-cap", "dict-item-cap"])
def test_a_key_cut_by_a_cap_reaches_neither_service_cell_nor_cache(
        nb: MagicShell, junis_env: Any, tmp_path: Path, setup: str, prompt: str) -> None:
    cache = tmp_path / "answers.sqlite"
    nb.run(f"%config JunisMagics.cache_path = {str(cache)!r}")
    nb.run("%config JunisMagics.cache = 'use'")
    assert nb.run(setup).error is None
    cell = nb.run(f"%%junis --new\n{prompt}")
    assert cell.error is None, cell.err
    held = sent(nb)
    assert leaked(held, junis_env.key) == []
    assert "jns_live_…" + junis_env.key[-4:] in held     # masked before the cap, not cut in half
    assert leaked(everything_kept(cell, cache), junis_env.key) == []
    assert leaked(nb.shell.user_ns["_junis"].text, junis_env.key) == []
