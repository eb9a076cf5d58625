"""One error, one wording: the magic's line, the panel's notice and a batch row's error say what
happened in the same words (junis_jupyter/advice.py), each with the remedy of its own surface.

Each kind is produced for real against the emulator (a refused key, no credits, a missing scope,
no subscription, a rate limit, a failing service, nothing listening), once per surface, and the
text each surface shows is compared with the table's line for the exception the client raised.
"""
from __future__ import annotations

import asyncio
import html
import re
from typing import Any, Callable

import pytest

from junis_jupyter.advice import Surface, advise, what_happened
from junis_jupyter.client.aio import AsyncJunisClient
from junis_jupyter.client.sync import JunisClient
from junis_jupyter.data.batch import ask_many
from junis_jupyter.errors import JunisError
from junis_jupyter.notebook.panel.widget import ChatPanel

from support.shells import MagicShell

DEAD_URL = "http://127.0.0.1:9"          # nothing listens there


def _fault(status: int, code: str) -> Callable[[Any], dict[str, Any]]:
    def arm(emulator: Any) -> dict[str, Any]:
        emulator.faults({"kind": "status", "status": status, "code": code, "retry_after": 3,
                         "message": f"Scripted {code}.", "count": 50, "path": "/v1/chat"})
        return {}
    return arm


KINDS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "refused key": lambda em: {"key": "jns_live_" + "Z" * 32},
    "no credits": lambda em: {"key": em.new_key(credits=0)},
    "missing scope": lambda em: {"key": em.new_key(scopes=["agents:list", "sessions:read"])},
    "no subscription": lambda em: {"key": em.new_key(plan="none")},
    "rate limited": _fault(429, "rate_limit_exceeded"),
    "service failing": _fault(503, "service_unavailable"),
    "nothing listening": lambda em: {"url": DEAD_URL},
}


def _client_error(url: str, key: str) -> JunisError:
    with JunisClient(api_key=key, base_url=url, max_retries=0) as client:
        with pytest.raises(JunisError) as caught:
            client.chat("Hello")
    return caught.value


def _async_client_error(url: str, key: str) -> JunisError:
    """The panel's client is the async one: a connection failure's own words (from the socket
    layer) differ from the blocking client's, the advice around them does not."""
    async def go() -> JunisError:
        async with AsyncJunisClient(api_key=key, base_url=url, max_retries=0) as client:
            with pytest.raises(JunisError) as caught:
                await client.chat("Hello")
        return caught.value
    return asyncio.run(go())


def _magic_line(shell: MagicShell, url: str, key: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("JUNIS_BASE_URL", url)
    monkeypatch.setenv("JUNIS_API_KEY", key)
    monkeypatch.setattr(shell.magic, "max_retries", 0)
    shell.magic.reset_client()
    cell = shell.run("%%junis --no-stream\nHello")
    lines = cell.error_lines()
    assert len(lines) == 1, cell.err
    return lines[0]


def _panel_notice(url: str, key: str) -> str:
    async def go() -> str:
        client = AsyncJunisClient(api_key=key, base_url=url, max_retries=0)
        try:
            panel = ChatPanel(client=client)
            await panel.wait()
            await panel.send_async("Hello")
            return html.unescape(re.sub(r"<[^>]+>", "", panel.notice.value)).strip()
        finally:
            await client.aclose()
    return asyncio.run(go())


def _batch_error(url: str, key: str) -> str:
    with JunisClient(api_key=key, base_url=url, max_retries=0) as client:
        df = ask_many(["Hello"], client=client, rate_limit_retries=0, progress=False)
    return df["error"].iloc[0]


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_surface_words_the_error_the_same_way(kind: str, emulator: Any, shell: MagicShell,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def arranged() -> tuple[str, str]:
        emulator.clear_faults()
        setup = KINDS[kind](emulator)
        return setup.get("url", emulator.url), setup.get("key", emulator.key)

    raised = {Surface.CELL: _client_error(*arranged()), Surface.BATCH: _client_error(*arranged()),
              Surface.PANEL: _async_client_error(*arranged())}
    shown = {Surface.CELL: _magic_line(shell, *arranged(), monkeypatch),
             Surface.PANEL: _panel_notice(*arranged()),
             Surface.BATCH: _batch_error(*arranged())}
    emulator.clear_faults()
    assert shown[Surface.CELL] == "Junis: " + advise(raised[Surface.CELL], Surface.CELL)
    assert shown[Surface.PANEL] == advise(raised[Surface.PANEL], Surface.PANEL)
    assert shown[Surface.BATCH] == advise(raised[Surface.BATCH], Surface.BATCH)
    for surface, text in shown.items():          # the same words for what happened, everywhere
        assert text.removeprefix("Junis: ").startswith(what_happened(raised[surface])), text
        assert "\n" not in text and "Traceback" not in text
    if kind != "nothing listening":              # there, the socket's own words differ
        assert len({what_happened(e) for e in raised.values()}) == 1
    if kind == "rate limited":                   # the remedy is the surface's own
        assert shown[Surface.CELL].endswith("run the cell again.")
        assert shown[Surface.PANEL].endswith("send it again.")
        assert shown[Surface.BATCH].endswith("run the batch again for the failed rows.")
