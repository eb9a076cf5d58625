"""A real Jupyter server in the test (pytest-jupyter, as jupyter-ai-persona-manager's own tests
run their personas), with Jupyter AI's chat, router and persona manager, talking to the emulator.

pytest-jupyter's fixtures and hooks are imported here rather than named in `pytest_plugins`, so
that they hold for this directory only: its autouse event loop and its runner of `async def`
tests would otherwise apply to every test of the suite. Its runner drives each `async def` test
on the server's own loop; pytest-asyncio in `auto` mode would take these tests over and leave
them hanging until the timeout (../shared/jupyter-ai-notes.md), so none is used.
"""
from __future__ import annotations

from typing import Any, Iterator

import pytest

pytest.importorskip("jupyter_ai_persona_manager",
                    reason="the jupyter-ai extra is not installed (pip install -e '.[dev]')")

from pytest_jupyter.jupyter_server import *  # noqa: E402,F401,F403

from support.chat import ChatSocket, PERSONA_ID  # noqa: E402,F401

SERVER_EXTENSIONS = {"jupyterlab_chat": True, "jupyter_ai_router": True,
                     "jupyter_ai_persona_manager": True}


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": SERVER_EXTENSIONS}}


@pytest.fixture
def junis_home(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh JUNIS_HOME (the usage ledger, the chats' sessions, the login file)."""
    home = tmp_path / "junis_home"
    monkeypatch.setenv("JUNIS_HOME", str(home))
    return home


@pytest.fixture
def server_env(junis_home: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The Jupyter server's environment pointed at the session's emulator."""
    monkeypatch.setenv("JUNIS_BASE_URL", emulator.url)
    monkeypatch.setenv("JUNIS_API_KEY", emulator.key)
    yield emulator
