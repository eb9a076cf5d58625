"""A chat's Junis session outlives the Jupyter server: two real server processes, one after
the other, on the same root and JUNIS_HOME."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from junis_jupyter.client.sync import JunisClient
from support.chat import ChatServer


async def test_the_session_is_kept_across_a_server_restart(tmp_path: Path,
                                                           make_emulator: Any) -> None:
    emulator = make_emulator()
    root = tmp_path / "root"
    root.mkdir()
    (root / "t.chat").write_text("")
    env = {"JUNIS_BASE_URL": emulator.url, "JUNIS_API_KEY": emulator.key,
           "JUNIS_HOME": str(tmp_path / "junis_home")}
    answers = []
    for run, question in enumerate(["What drives churn?", "And how do we cut it?"]):
        server = ChatServer(root, tmp_path / f"server{run}", env)
        try:
            chat = await server.chat("t.chat")
            await chat.send(question)
            answers.append((await chat.reply()).body)
        finally:
            server.stop()
        assert emulator.key[9:] not in server.log()     # nor any part of it in the server's log
    with JunisClient(api_key=emulator.key, base_url=emulator.url) as client:
        sessions = client.sessions()
        assert len(sessions) == 1               # the second server continued, it did not seed
        turns = [(m.role, m.content) for m in client.messages(sessions[0].session_id)]
    assert turns == [("user", "What drives churn?"), ("assistant", answers[0]),
                     ("user", "And how do we cut it?"), ("assistant", answers[1])]
