"""The three ways of reading one streamed answer, as (name -> deltas) so benchmarks can time any."""
from __future__ import annotations

from typing import Callable, Iterator

from junis_jupyter import JunisClient

from . import _baselines
from ._context import Context

Deltas = Callable[[str], Iterator[str]]


class Streamers:
    """One warm client of each kind against the emulator; `close()` when done."""

    def __init__(self, ctx: Context) -> None:
        self.junis = JunisClient(api_key=ctx.key, base_url=ctx.url)
        self.sdk = _baselines.sdk_client(ctx.url, ctx.key)
        self.httpx = _baselines.httpx_client(ctx.url, ctx.key)
        self.deltas: dict[str, Deltas] = {
            "junis": self._junis_deltas,
            "openai": lambda prompt: _baselines.sdk_deltas(self.sdk, prompt),
            "httpx": lambda prompt: _baselines.httpx_deltas(self.httpx, prompt),
        }

    def _junis_deltas(self, prompt: str) -> Iterator[str]:
        for chunk in self.junis.stream(prompt):
            yield chunk.text

    def close(self) -> None:
        self.junis.close()
        self.sdk.close()
        self.httpx.close()

    def __enter__(self) -> "Streamers":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
