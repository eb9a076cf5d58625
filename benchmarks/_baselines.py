"""The two baselines every figure is compared with: the stock OpenAI SDK and a minimal httpx loop.

Both ask for exactly what the Junis client asks for (a streamed chat completion with usage), so
the comparison is of the client code alone.
"""
from __future__ import annotations

import json
from typing import Iterator

import httpx
import openai

MODEL = "junis"   # the emulator echoes any model name; the SDK requires one


def messages(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


def sdk_client(url: str, key: str) -> openai.OpenAI:
    """The stock SDK exactly as the Junis docs show it: only `api_key=` and `base_url=`."""
    return openai.OpenAI(api_key=key, base_url=url + "/v1")


def sdk_async_client(url: str, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key, base_url=url + "/v1")


def sdk_deltas(client: openai.OpenAI, prompt: str) -> Iterator[str]:
    stream = client.chat.completions.create(
        model=MODEL, messages=messages(prompt), stream=True,
        stream_options={"include_usage": True})
    with stream:
        for chunk in stream:
            if chunk.choices:
                yield chunk.choices[0].delta.content or ""


def httpx_client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60)


def httpx_deltas(client: httpx.Client, prompt: str) -> Iterator[str]:
    """The smallest honest SSE loop: iter_lines, strip `data: `, json.loads, take the delta."""
    body = {"messages": messages(prompt), "stream": True, "stream_options": {"include_usage": True}}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                return
            choices = json.loads(data).get("choices")
            if choices:
                yield choices[0]["delta"].get("content") or ""


def httpx_async_client(url: str, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=60,
                             limits=httpx.Limits(max_connections=100))


async def httpx_chat(client: httpx.AsyncClient, prompt: str) -> str:
    """One answer, not streamed: POST, raise on an error status, take the message."""
    response = await client.post("/v1/chat/completions", json={"messages": messages(prompt)})
    response.raise_for_status()
    return response.json()["choices"][0]["message"]["content"]
