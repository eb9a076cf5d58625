"""`%%ai x@Junis` in a real kernel: jupyter-ai's magic finds the Jupyter server through the
runtime directory and asks the persona through Jupyter AI's REST route (no streaming: the whole
answer at once; each cell is a throwaway chat, so no conversation between cells)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from junis_jupyter.data.ledger import Ledger
from support.chat import ChatServer


def test_ai_magic_asks_junis_through_the_rest_route(tmp_path: Path, emulator: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("jupyter_ai_magic_commands", reason="jupyter-ai[magics] not installed")
    root = tmp_path / "root"
    root.mkdir()
    server = ChatServer(root, tmp_path / "server", {
        "JUNIS_BASE_URL": emulator.url, "JUNIS_API_KEY": emulator.key,
        "JUNIS_HOME": str(tmp_path / "junis_home")})
    try:
        # The kernel finds the server by its runtime directory; litellm (which the magics
        # import) reads its bundled model list instead of fetching one.
        monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(server.runtime_dir))
        monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("%load_ext jupyter_ai_magic_commands"),
                    nbformat.v4.new_code_cell("%%ai x@Junis\nWhat is a p-value?"),
                    nbformat.v4.new_code_cell(
                        "%%ai x@Junis -m '{\"model\": {\"id\": \"Research\"}}'\nFind sources")]
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(root)}}).execute()
    finally:
        server.stop()
    assert emulator.key[9:] not in server.log()
    answer = _markdown(nb.cells[1])
    assert "You asked: \u201cWhat is a p-value?\u201d" in answer
    assert answer.rstrip().endswith("```")
    assert "You asked: \u201cFind sources\u201d" in _markdown(nb.cells[2])
    # the model parameters' agent was asked (the usage ledger of the server's JUNIS_HOME)
    calls = [(row["endpoint"], row["agent"], row["origin"])
             for row in Ledger(tmp_path / "junis_home" / "usage.sqlite3").rows()
             if row["endpoint"] != "agents"]
    assert calls == [("chat", "Orchestrator", "jupyter-ai"), ("agent_chat", "Research", "jupyter-ai")]


def _markdown(cell: Any) -> str:
    shown = [out for out in cell.outputs if out.get("output_type") in ("execute_result",
                                                                       "display_data")]
    assert len(shown) == 1, json.dumps(cell.outputs)[:2000]
    return shown[0]["data"]["text/markdown"]
