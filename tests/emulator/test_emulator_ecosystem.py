"""LangChain (`langchain-openai`'s ChatOpenAI) and litellm against the emulator over loopback:
what docs/ecosystem.md claims works, works; what it says each drops, is dropped.

Both are dev dependencies; each block skips (loudly, with -ra) where its package is absent.
"""
from __future__ import annotations

import functools
import operator
import os
from typing import Any

import httpx
import pytest

from junis_jupyter.emulator.tokens import count_tokens

# litellm fetches its model price list from the network at import unless told to use its own copy
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# importing litellm makes pydantic warn about its types' ReadOnly qualifiers; reading its chunks'
# attributes, about pydantic deprecations in litellm itself
pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning:pydantic._internal._generate_schema"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning:litellm.*")]


def history(emulator, session_id: str) -> list[tuple[str, str]]:
    response = httpx.get(f"{emulator.url}/sessions/{session_id}/messages", params={"page_size": 100},
                         headers={"X-API-Key": emulator.key})
    assert response.status_code == 200, response.text
    return [(m["role"], m["content"]) for m in response.json()["messages"]]


def newest_session(emulator) -> str:
    response = httpx.get(f"{emulator.url}/sessions", params={"page_size": 1},
                         headers={"X-API-Key": emulator.key})
    return response.json()["sessions"][0]["session_id"]


def whole_answer(emulator, prompt: str) -> str:
    """The scripted answer to `prompt` (deterministic), asked over plain HTTP."""
    response = httpx.post(emulator.url + "/v1/chat/completions", headers={"X-API-Key": emulator.key},
                          json={"messages": [{"role": "user", "content": prompt}]})
    return response.json()["choices"][0]["message"]["content"]


# LangChain --------------------------------------------------------------------------------------

@pytest.fixture
def chat(emulator) -> Any:
    langchain_openai = pytest.importorskip("langchain_openai")
    return langchain_openai.ChatOpenAI(model="junis-orchestrator", api_key=emulator.key,
                                       base_url=emulator.url + "/v1", max_retries=0, timeout=30)


def test_langchain_invokes_with_usage_but_without_the_session_id(emulator, chat) -> None:
    message = chat.invoke("Hello LangChain")
    assert message.content == whole_answer(emulator, "Hello LangChain")
    assert message.usage_metadata["input_tokens"] == count_tokens("Hello LangChain")
    assert message.usage_metadata["total_tokens"] > message.usage_metadata["input_tokens"]
    assert message.response_metadata["finish_reason"] == "stop"
    # dropped: nothing of what LangChain returns carries the session id
    assert "session_id" not in repr(message.model_dump())


def test_langchain_sends_the_whole_history_each_call_and_each_call_is_a_new_session(emulator, chat) -> None:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
    messages = [SystemMessage("Be brief."), HumanMessage("Name a colour"), AIMessage("Blue."),
                HumanMessage("Why that one?")]
    answer = chat.invoke(messages)
    session_id = newest_session(emulator)
    assert history(emulator, session_id) == [("system", "Be brief."), ("user", "Name a colour"),
                                             ("assistant", "Blue."), ("user", "Why that one?"),
                                             ("assistant", answer.content)]
    chat.invoke(messages + [answer, HumanMessage("Thanks")])
    assert newest_session(emulator) != session_id          # a second session, not a continuation


def test_langchain_continues_a_session_through_extra_body(emulator, chat) -> None:
    chat.invoke("First turn")
    session_id = newest_session(emulator)
    chat.invoke("Second turn", extra_body={"session_id": session_id})
    assert [text for role, text in history(emulator, session_id) if role == "user"] == [
        "First turn", "Second turn"]


def test_langchain_streams_with_usage(emulator, chat) -> None:
    chunks = list(chat.stream("Hello LangChain stream", stream_usage=True))
    message = functools.reduce(operator.add, chunks)
    assert len(chunks) > 3
    assert message.content == whole_answer(emulator, "Hello LangChain stream")
    assert message.usage_metadata["input_tokens"] == count_tokens("Hello LangChain stream")


def test_langchain_text_parts_are_joined_and_an_image_is_refused(emulator, chat) -> None:
    openai = pytest.importorskip("openai")
    from langchain_core.messages import HumanMessage
    parts = [{"type": "text", "text": "[[echo]] one"}, {"type": "text", "text": "two"}]
    assert chat.invoke([HumanMessage(content=parts)]).content == "one\ntwo"
    image = [{"type": "text", "text": "What is this?"},
             {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]
    with pytest.raises(openai.BadRequestError) as caught:
        chat.invoke([HumanMessage(content=image)])
    assert "'messages[0].content[1]'" in str(caught.value) and "'image_url'" in str(caught.value)


def test_langchain_tools_are_bound_but_never_called(emulator, chat) -> None:
    def lookup(word: str) -> str:
        """Look a word up."""
        return word

    message = chat.bind_tools([lookup]).invoke("Look up tide")
    assert message.tool_calls == []                      # dropped: Junis agents call their own tools
    assert message.content == whole_answer(emulator, "Look up tide")


# litellm ----------------------------------------------------------------------------------------

@pytest.fixture
def litellm() -> Any:
    return pytest.importorskip("litellm")


def ask_litellm(litellm: Any, emulator, messages: list[dict[str, Any]], **kwargs: Any) -> Any:
    return litellm.completion(model="openai/junis-orchestrator", api_base=emulator.url + "/v1",
                              api_key=emulator.key, messages=messages, num_retries=0, timeout=30,
                              **kwargs)


def test_litellm_completes_and_keeps_the_session_id(emulator, litellm) -> None:
    reply = ask_litellm(litellm, emulator, [{"role": "user", "content": "Hello litellm"}])
    assert reply.choices[0].message.content == whole_answer(emulator, "Hello litellm")
    assert reply.usage.prompt_tokens == count_tokens("Hello litellm")
    session_id = reply.session_id                        # an unknown top-level key, kept
    again = ask_litellm(litellm, emulator, [{"role": "user", "content": "And then?"}],
                        extra_body={"session_id": session_id})
    assert again.session_id == session_id
    assert [role for role, _ in history(emulator, session_id)] == ["user", "assistant"] * 2


def test_litellm_streams_with_the_session_id_on_every_chunk(emulator, litellm) -> None:
    chunks = list(ask_litellm(litellm, emulator, [{"role": "user", "content": "Hello litellm stream"}],
                              stream=True, stream_options={"include_usage": True}))
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == whole_answer(emulator, "Hello litellm stream")
    # every chunk with choices keeps it; the usage-only last chunk, which litellm rebuilds, does not
    assert len({chunk.session_id for chunk in chunks if chunk.choices}) == 1
    assert [chunk.usage for chunk in chunks if getattr(chunk, "usage", None)][-1].prompt_tokens == \
        count_tokens("Hello litellm stream")


def test_litellm_maps_contract_errors_to_its_exceptions(emulator, litellm) -> None:
    image = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]
    with pytest.raises(litellm.BadRequestError) as caught:
        ask_litellm(litellm, emulator, [{"role": "user", "content": image}])
    assert "'messages[0].content[0]'" in str(caught.value)
    with pytest.raises(litellm.AuthenticationError):
        litellm.completion(model="openai/junis-orchestrator", api_base=emulator.url + "/v1",
                           api_key="jns_live_" + "0" * 32, num_retries=0,
                           messages=[{"role": "user", "content": "x"}])


def test_litellm_tools_are_accepted_and_never_called(emulator, litellm) -> None:
    tool = {"type": "function", "function": {"name": "lookup", "description": "Look a word up.",
                                             "parameters": {"type": "object", "properties": {}}}}
    reply = ask_litellm(litellm, emulator, [{"role": "user", "content": "Look up ebb"}],
                        tools=[tool], tool_choice="auto")
    assert not reply.choices[0].message.tool_calls
    assert reply.choices[0].message.content == whole_answer(emulator, "Look up ebb")


# ipython_config.py and the proxy variables ------------------------------------------------------

def test_ipython_config_loads_the_extension_and_sets_the_magics_options(emulator, tmp_path) -> None:
    import subprocess
    import sys
    (tmp_path / "ipython_config.py").write_text(
        'c.InteractiveShellApp.extensions = ["junis_jupyter"]\n'
        'c.JunisMagics.agent = "Research"\n'
        'c.JunisMagics.timeout = 30.0\n')
    code = ("get_ipython().run_cell_magic('junis', '', 'Hello from ipython_config')\n"
            "print('SESSION', _junis.session_id)")
    env = {**os.environ, "JUNIS_BASE_URL": emulator.url, "JUNIS_API_KEY": emulator.key,
           "JUNIS_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-m", "IPython", f"--profile-dir={tmp_path}", "--no-banner",
                             "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    session_id = result.stdout.split("SESSION ")[-1].strip()
    response = httpx.get(f"{emulator.url}/sessions/{session_id}/messages", headers={"X-API-Key": emulator.key})
    assert [m["agent_name"] for m in response.json()["messages"]] == [None, "Research"]


class RecordingProxy:
    """A forward proxy on loopback for plain http: records each request line, forwards it."""

    def __init__(self) -> None:
        import http.server
        import threading
        self.lines: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self) -> None:
                proxy.lines.append(f"{self.command} {self.path}")
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection", "proxy-connection", "content-length")}
                upstream = httpx.request(self.command, self.path, headers=headers, content=body, trust_env=False)
                self.send_response(upstream.status_code)
                for name, value in upstream.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            do_GET = do_POST = _forward

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_client_goes_through_the_proxy_the_environment_names(emulator, monkeypatch) -> None:
    from junis_jupyter import JunisClient
    proxy = RecordingProxy()
    try:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        with JunisClient(api_key=emulator.key, base_url=emulator.url) as client:
            assert client.agents()
        assert proxy.lines == [f"GET {emulator.url}/agents"]
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        with JunisClient(api_key=emulator.key, base_url=emulator.url) as client:
            assert client.agents()
        assert len(proxy.lines) == 1                     # NO_PROXY: straight to the server
    finally:
        proxy.close()


# the OpenAI SDK beyond chat completions ------------------------------------------------------------

def test_openai_sdk_endpoints_outside_the_contract_are_404(emulator) -> None:
    openai = pytest.importorskip("openai")
    with openai.OpenAI(api_key=emulator.key, base_url=emulator.url + "/v1", max_retries=0) as sdk:
        with pytest.raises(openai.NotFoundError):
            sdk.models.list()
        with pytest.raises(openai.NotFoundError):
            sdk.embeddings.create(model="junis-orchestrator", input="x")
        with pytest.raises(openai.NotFoundError):
            sdk.responses.create(model="junis-orchestrator", input="x")
