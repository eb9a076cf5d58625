"""The Junis persona in JupyterLab's chat, in a real JupyterLab and Debian's Chromium: pick
Junis and an agent, ask, watch the answer stream, press Stop, and read an error's advice.
Screenshots go to build/screenshots with the other browser suites'."""
from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from junis_jupyter.client.sync import JunisClient
from junis_jupyter.jupyter_ai.sessions import ChatSessions
from support.chat import CHAT_EXTENSIONS, ChatServer
from support.lab import chromium, skip_without_browser

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
SLOW = 60_000
ASK = "Summarise churn by region [[delay=0.04]]"     # ~90 pieces: about 4 s unless stopped
LAST = ".jp-chat-message-container >> nth=-1"


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[ChatServer, Any, Path]]:
    """JupyterLab with jupyterlab-chat and Jupyter AI's router and persona manager (its other
    server extensions off, as they add seconds and nothing here), its server pointed at an
    emulator process."""
    skip_without_browser()
    from junis_jupyter.emulator.process import start_emulator_process
    scratch = Path(tempfile.mkdtemp(prefix="junis-browser-persona-"))
    root = scratch / "root"
    root.mkdir()
    (root / "t.chat").write_text("")
    settings = scratch / "settings"
    notes = settings / "@jupyterlab" / "apputils-extension"
    notes.mkdir(parents=True)
    (notes / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}')
    emulator = start_emulator_process()
    server = None
    try:
        server = ChatServer(
            root, scratch / "server",
            {"JUNIS_BASE_URL": emulator.url, "JUNIS_API_KEY": emulator.key,
             "JUNIS_HOME": str(scratch / "junis_home")},
            app="jupyterlab", keep=(*CHAT_EXTENSIONS, "jupyterlab"),
            extra_args=("--LabApp.news_url=None", f"--LabApp.user_settings_dir={settings}",
                        f"--LabApp.workspaces_dir={scratch / 'workspaces'}"))
        yield server, emulator, scratch
    finally:
        if server is not None:
            server.stop()
        emulator.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def pick(page: Any, button: str, item: str) -> None:
    page.locator(button).click()
    page.locator(".jp-jai-controlMenu-paper li[role=menuitem]", has_text=item).first.click()


def ask(page: Any, text: str) -> None:
    box = page.locator(".jp-chat-input-container textarea:not([aria-hidden])")
    box.click()
    box.fill(text)
    page.keyboard.press("Enter")


def test_pick_junis_ask_watch_it_stream_stop_and_read_an_error(lab: Any) -> None:
    server, emulator, scratch = lab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{server.url}/lab/tree/t.chat?reset&token={server.token}")
        persona = "button.jp-jai-personaControls-persona-btn"
        page.wait_for_selector(persona, timeout=SLOW)
        pick(page, persona, "Junis")
        assert page.locator(persona).inner_text().strip() == "Junis"
        assert page.locator(f"{persona} img").get_attribute("src").startswith("/api/ai/avatars/")

        # the agents in the model picker, the orchestrator the default; pick Research
        model = ".jp-jai-personaControls-controls > button[title=Model]"
        page.locator(model, has_text="Orchestrator").wait_for(timeout=SLOW)
        page.locator(model).click()
        menu = page.locator(".jp-jai-controlMenu-paper li[role=menuitem]")
        menu.filter(has_text="Analyst").wait_for(timeout=SLOW)
        names = menu.all_inner_texts()
        for name in ("Orchestrator", "Research", "Writer", "Analyst"):
            assert any(text.startswith(name) for text in names), names
        assert not any(text.startswith(("Pipeline", "Fanout", "Retired")) for text in names)
        menu.filter(has_text="Research").first.click()
        page.locator(model, has_text="Research").wait_for(timeout=SLOW)

        # ask, and watch the answer grow in the page while Junis is typing
        ask(page, ASK)
        answer = page.locator(LAST)
        page.locator(".jp-chat-writers", has_text="Junis is typing").wait_for(timeout=SLOW)
        page.locator(LAST, has_text="You asked").wait_for(timeout=SLOW)
        seen = [len(answer.inner_text())]
        deadline = time.monotonic() + 10
        while len(set(seen)) < 3 and time.monotonic() < deadline:
            page.wait_for_timeout(150)
            seen.append(len(answer.inner_text()))
        assert len(set(seen)) >= 3 and seen == sorted(seen), seen       # it grew, in steps
        page.screenshot(path=str(SCREENSHOTS / "jupyter_ai_streaming.png"))

        # Stop: the answer ends at once, what arrived stays, marked stopped
        stop = page.locator("button.jp-jai-stopButton")
        assert stop.is_enabled()
        stop.click()
        page.locator(LAST, has_text="■ stopped").wait_for(timeout=10_000)
        stopped = answer.inner_text()
        assert "You asked" in stopped and "print(len(prompt.split())" not in stopped
        page.wait_for_timeout(500)
        assert answer.inner_text() == stopped                   # nothing more came
        page.screenshot(path=str(SCREENSHOTS / "jupyter_ai_stopped.png"))

        # the choice of agent reached the service
        with JunisClient(api_key=emulator.key, base_url=emulator.url) as client:
            chat = str((scratch / "root" / "t.chat").resolve())
            home = scratch / "junis_home" / "chats.sqlite3"
            session = ChatSessions(home).get(chat)
            assert session is not None
            assert [m.agent_name for m in client.messages(session)
                    if m.role == "assistant"] == ["Research"]

        # an error: one message, the advice table's words for the chat, no traceback
        # (Research is picked: its answers come from /agents/<id>/completions)
        emulator.faults({"kind": "status", "status": 401, "code": "invalid_api_key",
                         "path": "/agents", "count": 5})
        ask(page, "And now?")
        page.locator(LAST, has_text="the API key was refused").wait_for(timeout=SLOW)
        error = page.locator(LAST).inner_text()
        assert error.startswith("⚠️ the API key was refused (401 invalid_api_key)")
        assert "junis-jupyter login" in error and "Traceback" not in error
        page.screenshot(path=str(SCREENSHOTS / "jupyter_ai_error.png"))
