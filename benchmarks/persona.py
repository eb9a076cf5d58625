"""Junis in Jupyter AI's chat, measured as the browser gets it: through the chat WebSocket of a
real Jupyter server (its own process), beside the bare client stream of the same answer and,
when it is installed, Jupyter AI's own Jupyternaut answering from the same emulator.

- first visible reply: from sending the message to the first frame carrying the persona's text,
  compared with the bare stream's first chunk (target: within 50 ms of it);
- updates a second: the reply's message frames over the time they span (target: at most 16);
- server CPU per answer: the Jupyter server's CPU time (all its threads, /proc) over a few
  answers, divided by them, over the bare stream's CPU in this process for the same answers
  (target: at most 1.3x). All three in the same interleaved rounds.

Jupyternaut comes from `jupyter-ai-jupyternaut`, a langgraph agent on litellm: `make bench`
installs it into `.venv-jupyternaut` (beside junis-jupyter[jupyter-ai]) and the server runs from
there, with litellm pointed at the emulator's OpenAI-compatible route (`openai/...`,
OPENAI_API_BASE) and its bundled model list (no network). Without that environment its rows
say so, and the comparison is with the bare stream only.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from ._context import Context
from ._report import Figure
from ._stats import Spread, differences, interleave, ratios

NAME = "jupyter-ai chat"
JUNIS = "jupyter-ai-personas::junis_jupyter::JunisPersona"
JUPYTERNAUT = "jupyter-ai-personas::jupyter_ai_jupyternaut::JupyternautPersona"
NAUT_PYTHON = Path(__file__).resolve().parents[1] / ".venv-jupyternaut" / "bin" / "python"
KEEP = ("jupyterlab_chat", "jupyter_ai_router", "jupyter_ai_persona_manager")
NAUT_KEEP = ("jupyter_ai_jupyternaut",)


def prompt(ctx: Context) -> str:
    """An answer of ~330 characters in ~90 pieces, 10 ms apart (as the prototype measured)."""
    return "Summarise churn by region [[delay=0.01]]" if not ctx.quick else \
        "Summarise churn [[chunks=8]] [[delay=0.03]]"


# --- the server ------------------------------------------------------------------------------


def _quiet_config(config_dir: Path, python: str, keep: tuple[str, ...]) -> None:
    """Every server extension the environment enables, off but for `keep` (jupyter-ai's MCP,
    ACP and litellm extensions add seconds to a start and nothing here)."""
    listed = subprocess.run(
        [python, "-c", "import json, jupyter_core.paths as p; print(json.dumps("
                       "p.jupyter_config_path()))"], capture_output=True, text=True, check=True)
    enabled: set[str] = set()
    for directory in json.loads(listed.stdout):
        for path in Path(directory, "jupyter_server_config.d").glob("*.json"):
            try:
                enabled.update(json.loads(path.read_text())["ServerApp"]["jpserver_extensions"])
            except (ValueError, KeyError, TypeError):
                continue
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"jpserver_extensions": {n: n in keep for n in enabled | set(keep)}},
        "JupyternautExtension": {"initial_language_model": "openai/junis-orchestrator"}}))


class Server:
    def __init__(self, ctx: Context, python: str, keep: tuple[str, ...], scratch: Path) -> None:
        root = scratch / "root"
        root.mkdir()
        _quiet_config(scratch / "config", python, keep)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.token = secrets.token_hex(16)
        self.root = root
        env = {**ctx.child_env(), "JUNIS_HOME": str(scratch / "home"),
               "JUPYTER_CONFIG_DIR": str(scratch / "config"),
               "JUPYTER_DATA_DIR": str(scratch / "data"),
               "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
               "OPENAI_API_KEY": ctx.key, "OPENAI_API_BASE": ctx.url + "/v1",
               "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        self._log = open(scratch / "server.log", "w")
        self.process = subprocess.Popen(
            [python, "-m", "jupyter_server", "--no-browser", f"--port={self.port}",
             "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={self.token}",
             "--allow-root", f"--ServerApp.root_dir={root}"],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        import httpx
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the Jupyter server exited: "
                                   + (scratch / "server.log").read_text()[-500:])
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/status", timeout=2,
                             headers={"Authorization": f"token {self.token}"}).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the Jupyter server did not start in 90 s")

    def cpu(self) -> float:
        """CPU seconds of every thread of the server so far (ns resolution, from schedstat)."""
        total = 0
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
        return total / 1e9

    async def chat(self, name: str) -> Any:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect
        (self.root / name).write_text("")
        ws = await websocket_connect(HTTPRequest(
            f"ws://127.0.0.1:{self.port}/api/chat/ws/{name}",
            headers={"Authorization": f"token {self.token}"}))
        await ws.read_message()                  # the connection frame
        return ws

    def stop(self) -> None:
        import signal
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
        self._log.close()


async def answer(ws: Any, persona: str, text: str) -> tuple[float, int, float, str]:
    """(seconds to the first visible text, updates, seconds they spanned, the text) of one
    reply."""
    started = time.perf_counter()
    await ws.write_message(json.dumps({"type": "client", "action": "send",
                                       "id": str(uuid.uuid4()), "body": text,
                                       "metadata": {"to_persona": persona}}))
    times: list[float] = []
    bodies: list[str] = []
    writing = False
    while True:
        frame = json.loads(await asyncio.wait_for(ws.read_message(), 120))
        if frame.get("action") == "writing" and frame["user"]["username"] == persona:
            if frame["state"]:
                writing = True
            elif writing:
                break
        message = frame.get("message") or {}
        if frame.get("action") == "message" and message.get("sender") == persona \
                and message.get("body") and (not bodies or message["body"] != bodies[-1]):
            bodies.append(message["body"])
            times.append(time.perf_counter())
    if not times:
        raise RuntimeError(f"{persona} did not answer")
    return times[0] - started, len(times), times[-1] - times[0], bodies[-1]


# --- the rounds ------------------------------------------------------------------------------


def run(ctx: Context) -> list[Figure]:
    text = prompt(ctx)
    per_sample = ctx.size(4, 1)
    naut = NAUT_PYTHON.exists()
    python = str(NAUT_PYTHON) if naut else sys.executable
    keep = KEEP + (NAUT_KEEP if naut else ())
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory(prefix="junis-bench-chat-") as scratch:
        server = Server(ctx, python, keep, Path(scratch))
        try:
            return loop.run_until_complete(_rounds(ctx, server, text, per_sample, naut))
        finally:
            server.stop()
            loop.close()


async def _rounds(ctx: Context, server: Server, text: str, per_sample: int,
                  naut: bool) -> list[Figure]:
    from junis_jupyter.client.aio import AsyncJunisClient
    client = AsyncJunisClient(api_key=ctx.key, base_url=ctx.url)
    chats = {"junis": (await server.chat("junis.chat"), JUNIS)}
    if naut:
        chats["jupyternaut"] = (await server.chat("naut.chat"), JUPYTERNAUT)
    first: dict[str, list[float]] = {name: [] for name in [*chats, "bare"]}
    rate: dict[str, list[float]] = {name: [] for name in chats}
    cpu: dict[str, list[float]] = {name: [] for name in [*chats, "bare"]}

    async def bare() -> None:
        spent = 0.0
        for _ in range(per_sample):
            began, wall = time.process_time(), time.perf_counter()
            seen = None
            async with client.stream(text) as stream:
                async for chunk in stream:
                    if chunk.text and seen is None:
                        seen = time.perf_counter() - wall
            spent += time.process_time() - began
            first["bare"].append(seen or 0.0)
        cpu["bare"].append(spent / per_sample)

    async def chat(name: str) -> None:
        ws, persona = chats[name]
        before = server.cpu()
        for _ in range(per_sample):
            to_first, updates, span, _ = await answer(ws, persona, text)
            first[name].append(to_first)
            if span > 0:
                rate[name].append((updates - 1) / span)
        cpu[name].append((server.cpu() - before) / per_sample)

    for name in chats:                       # warm: imports, agents, connections
        body = (await answer(chats[name][0], chats[name][1], text))[3]
        if "You asked" not in body:          # a persona's own complaint is no answer to time
            raise RuntimeError(f"{name} did not answer from the emulator: {body[:200]!r}")
    async with client.stream(text) as stream:
        async for _ in stream:
            pass
    for _ in range(ctx.repeat):              # interleaved: bare, junis, jupyternaut, bare, ...
        await bare()
        for name in chats:
            await chat(name)
    await client.aclose()
    return _figures(first, rate, cpu, per_sample * ctx.repeat, naut)


def _figures(first: dict[str, list[float]], rate: dict[str, list[float]],
             cpu: dict[str, list[float]], answers: int, naut: bool) -> list[Figure]:
    ms = {name: statistics.median(v) * 1e3 for name, v in first.items()}
    for name, values in rate.items():
        if not values:      # every answer came in one update: no rate to speak of
            values.append(0.0)
    bare_cpu = statistics.median(cpu["bare"]) * 1e3
    figures = [
        Figure(NAME, f"first visible reply over the bare stream's first chunk ({answers} "
                     "answers, chat WebSocket)", f"{ms['junis']:.1f} ms",
               f"{ms['bare']:.1f} ms (bare stream)",
               differences(first["junis"], first["bare"]).scaled(1e3).format(unit=" ms"),
               "<= 50 ms later", statistics.median(first["junis"]) -
               statistics.median(first["bare"]) <= 0.05),
        Figure(NAME, "updates a second sent to the chat while an answer streams",
               f"{statistics.median(rate['junis']):.1f} /s", "",
               Spread.of(rate["junis"]).format("{:.1f}", " /s"), "<= 16 /s",
               statistics.median(rate["junis"]) <= 16),
        Figure(NAME, "Jupyter server CPU per answer, over the bare stream's",
               f"{statistics.median(cpu['junis']) * 1e3:.1f} ms", f"{bare_cpu:.1f} ms (bare)",
               ratios(cpu["junis"], cpu["bare"]).format(unit="x"), "<= 1.3x",
               ratios(cpu["junis"], cpu["bare"]).median <= 1.3),
    ]
    if not naut:
        figures.append(Figure(NAME, "Jupyternaut, for comparison", "not installed", "",
                              "make bench installs it in .venv-jupyternaut", "", None))
        return figures
    return figures + [
        Figure(NAME, "Jupyternaut: first visible reply over the bare stream's",
               f"{ms['jupyternaut']:.1f} ms", f"{ms['bare']:.1f} ms (bare stream)",
               differences(first["jupyternaut"], first["bare"]).scaled(1e3).format(unit=" ms"),
               "", None),
        Figure(NAME, "Jupyternaut: updates a second",
               f"{statistics.median(rate['jupyternaut']):.1f} /s", "",
               Spread.of(rate["jupyternaut"]).format("{:.1f}", " /s"), "", None),
        Figure(NAME, "Jupyternaut: server CPU per answer, over the bare stream's",
               f"{statistics.median(cpu['jupyternaut']) * 1e3:.1f} ms",
               f"{bare_cpu:.1f} ms (bare)",
               ratios(cpu["jupyternaut"], cpu["bare"]).format(unit="x"), "", None),
    ]
