"""The one path from a prompt to an answer, behind every surface: a cell, a background cell, the
chat panel, a batch row, the Jupyter AI persona.

A surface prepares an `AnswerRequest` (what is asked, of whom, continuing what) and hands it with
its view to an `AnswerPipeline`, which masks every key-shaped string out of what is sent, looks
in the answer cache, asks (streamed through `client.consume`, or whole), stores the answer, and
returns it. What differs between surfaces is only the view and the wording of advice; what a
surface keeps afterwards (a cell's chain, the panel's conversation) is the surface's own.
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .. import config
from ..client.consume import AnswerView, aconsume, consume
from ..client.observers import error_code_for, tagged
from ..client.types import Agent, CallRecord, ChatResult, Usage
from ..errors import ConfigurationError
from . import ledger, transcript
from .cache import AnswerCache, CachedAnswer, CacheMode
from .text import storable

if TYPE_CHECKING:
    from ..client.aio import AsyncJunisClient
    from ..client.sync import JunisClient

__all__ = ["Origin", "AnswerRequest", "Answer", "AnswerPipeline", "seed_messages", "NullView"]


class Origin(enum.Enum):
    """Which surface asked: it goes with the answer into the usage ledger and the log."""
    CELL = "cell"
    BACKGROUND = "background"
    PANEL = "panel"
    BATCH = "batch"
    JUPYTER_AI = "jupyter-ai"


@dataclass(frozen=True)
class AnswerRequest:
    """What one turn asks. `session_id` continues a session; without one, `history` (question,
    answer pairs) seeds the new session, as a re-run cell forks its conversation."""
    prompt: str
    agent: str | Agent | None = None
    session_id: str | None = None
    history: tuple[tuple[str, str], ...] = ()
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    stream: bool = True
    model: str | None = None
    extra_body: Mapping[str, Any] | None = None
    cache_key: str = ""             # "" when the answer is not cached
    origin: Origin = Origin.CELL
    notebook: str | None = None     # where it was asked from, as far as this machine knows
    cell_id: str | None = None

    def tags(self) -> dict[str, str | None]:
        """What the usage ledger records of where the call came from."""
        return {"origin": self.origin.value, "notebook": self.notebook, "cell_id": self.cell_id}

    def chat_args(self) -> dict[str, Any]:
        """The client's keyword arguments (those set, and the agent), every text masked of
        key-shaped strings."""
        key = config.current_key()
        history = () if self.session_id else self.history
        args: dict[str, Any] = dict(
            system=None if self.system is None else config.scrub_keys(self.system, key),
            session_id=self.session_id,
            messages=seed_messages((config.scrub_keys(q, key), config.scrub_keys(a, key))
                                   for q, a in history) or None,
            temperature=self.temperature, max_tokens=self.max_tokens, model=self.model,
            extra_body=None if self.extra_body is None else dict(self.extra_body))
        return {"agent": self.agent, **{k: v for k, v in args.items() if v is not None}}

    def sent_prompt(self) -> str:
        return config.scrub_keys(self.prompt, config.current_key())


def seed_messages(history: Any) -> list[dict[str, Any]]:
    """The OpenAI-style messages that seed a new session with (question, answer) pairs."""
    out: list[dict[str, Any]] = []
    for question, answer in history:
        out.append({"role": "user", "content": question})
        out.append({"role": "assistant", "content": answer})
    return out


@dataclass(frozen=True)
class Answer:
    result: ChatResult
    cached: bool = False


class NullView:
    """For a surface that shows nothing while the answer comes (a batch row)."""

    def feed(self, text: str) -> None:
        pass

    def finish(self, note: str | None = None) -> None:
        pass


class AnswerPipeline:
    """The cache (and its mode) one surface asks through. A replayed answer that is missing is
    an error worded for the surface: `subject` names what was asked (this cell, row 3), and
    `replay_hint` says how to record it."""

    def __init__(self, cache: AnswerCache | None = None, mode: CacheMode = CacheMode.OFF, *,
                 subject: str = "this prompt",
                 replay_hint: str = "ask it once with the cache on (cache='use')") -> None:
        if cache is None and mode is not CacheMode.OFF:
            raise ConfigurationError(f"the cache mode {mode.value!r} needs a cache file.")
        self.cache = cache
        self.mode = mode
        self.subject = subject
        self.replay_hint = replay_hint

    # -- the cache --------------------------------------------------------------------------

    def lookup(self, request: AnswerRequest) -> CachedAnswer | None:
        """The recorded answer, when the mode reads the cache and one is there."""
        if self.cache is None or not request.cache_key or \
                self.mode not in (CacheMode.USE, CacheMode.REPLAY):
            return None
        return self.cache.get(request.cache_key)

    def replay(self, hit: CachedAnswer, view: AnswerView,
               request: AnswerRequest | None = None) -> Answer:
        """A cache hit: shown at once, no request, no credits; the ledger still gets its row."""
        view.feed(hit.answer)
        view.finish()
        now = datetime.now(timezone.utc)
        tags = {k: v for k, v in (request.tags() if request else {}).items() if v is not None}
        ledger.record(CallRecord(
            started_at=now, endpoint="cache", agent=hit.agent,
            session_id=hit.session_id, stream=False, status=None, error_code="cached",
            usage=Usage(), latency_s=0.0, first_token_s=None, request_id=None, attempts=0,
            tags=tags))
        result = ChatResult(hit.answer, hit.session_id, hit.usage, "stop", agent=hit.agent,
                            id=hit.message_id, model=hit.model)
        if request is not None:
            _log(request, now, result, cached=True)
        return Answer(result, cached=True)

    def missing(self) -> ConfigurationError:
        """The error of a replayed answer that was never recorded."""
        path = self.cache.path if self.cache is not None else "the answer cache"
        return ConfigurationError(f"no recorded answer for {self.subject} in {path}: "
                                  f"{self.replay_hint}.")

    def _store(self, request: AnswerRequest, result: ChatResult) -> None:
        if self.cache is None or not request.cache_key or result.interrupted or \
                self.mode not in (CacheMode.USE, CacheMode.REFRESH):
            return
        agent = result.agent or (request.agent if not isinstance(request.agent, Agent)
                                 else request.agent.name)
        self.cache.put(request.cache_key, CachedAnswer(
            storable(config.scrub_keys(result.text, config.current_key())), result.session_id,
            agent, result.usage, result.id, result.model))

    # -- asking -----------------------------------------------------------------------------

    def ask(self, client: Callable[[], JunisClient], request: AnswerRequest, view: AnswerView,
            *, stopped: str = "interrupted") -> Answer:
        """The answer from the cache, or asked (streamed into `view`, or whole) and stored.
        `client()` is called only when the answer must be asked: a replay needs no key."""
        cached = self._cached(request, view)
        if cached is not None:
            return cached
        asking, args, at = client(), request.chat_args(), datetime.now(timezone.utc)
        try:
            with tagged(**request.tags()):
                if request.stream:
                    result = consume(asking.stream(request.sent_prompt(), **args), view,
                                     stopped=stopped)
                else:
                    result = _whole(asking.chat(request.sent_prompt(), **args), view)
        except BaseException as exc:
            _log(request, at, error=exc)
            raise
        return self._asked(request, at, result)

    async def aask(self, client: Callable[[], AsyncJunisClient], request: AnswerRequest,
                   view: AnswerView, *, stopped: str = "stopped") -> Answer:
        """`ask` on an event loop: cancelling the task stops the answer, keeping what arrived."""
        cached = self._cached(request, view)
        if cached is not None:
            return cached
        asking, args, at = client(), request.chat_args(), datetime.now(timezone.utc)
        try:
            with tagged(**request.tags()):
                if request.stream:
                    result = await aconsume(asking.stream(request.sent_prompt(), **args), view,
                                            stopped=stopped)
                else:
                    result = _whole(await asking.chat(request.sent_prompt(), **args), view)
        except BaseException as exc:
            _log(request, at, error=exc)
            raise
        return self._asked(request, at, result)

    def _cached(self, request: AnswerRequest, view: AnswerView) -> Answer | None:
        """What both ways of asking do first: a cache hit replayed; a replay's miss refused."""
        hit = self.lookup(request)
        if hit is not None:
            return self.replay(hit, view, request)
        if self.mode is CacheMode.REPLAY:
            raise self.missing()
        return None

    def _asked(self, request: AnswerRequest, at: datetime, result: ChatResult) -> Answer:
        """What both do after: the turn logged, the answer stored."""
        _log(request, at, result)
        self._store(request, result)
        return Answer(result)


def _log(request: AnswerRequest, at: datetime, result: ChatResult | None = None, *,
         cached: bool = False, error: BaseException | None = None) -> None:
    """The turn into the transcript log (transcript.py): every surface's turns, written here
    once. A failed turn keeps what arrived before it failed, and says why. Read with getattr: a
    stand-in client's result may carry less, and logging must not fail an answer."""
    if not transcript.enabled():
        return
    got: Any = result if result is not None else error
    usage = getattr(result, "usage", None)
    agent = request.agent.name if isinstance(request.agent, Agent) else request.agent
    opens = None if request.session_id else (request.history[0][0] if request.history
                                             else request.sent_prompt())
    transcript.record(transcript.LogEntry(
        at=at, prompt=request.sent_prompt(),
        answer=str(getattr(got, "text" if result is not None else "partial_text", None) or ""),
        origin=request.origin.value, notebook=request.notebook, cell_id=request.cell_id,
        agent=getattr(result, "agent", None) or agent,
        session_id=getattr(got, "session_id", None) or request.session_id,
        message_id=getattr(result, "id", None),
        model=getattr(result, "model", None) or request.model,
        usage=Usage() if cached else usage if isinstance(usage, Usage) else None,
        latency_s=getattr(result, "latency_s", None), cached=cached,
        cache_key=request.cache_key or None, opens=opens,
        error=error_code_for(error) if error is not None else
        "interrupted" if getattr(result, "interrupted", False) else None))


def _whole(result: ChatResult, view: AnswerView) -> ChatResult:
    """An answer asked whole (not streamed), shown at once."""
    view.feed(result.text)
    view.finish()
    return result
