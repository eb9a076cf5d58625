"""Result types. Plain dataclasses: cheap to build on the hot path, easy to turn into frames."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens,
                     self.completion_tokens + other.completion_tokens,
                     self.total_tokens + other.total_tokens)

    def describe(self) -> str:
        """The one wording of token usage, for every surface (footer, status, panel, report)."""
        return (f"{self.total_tokens:,} tokens ({self.prompt_tokens:,} prompt + "
                f"{self.completion_tokens:,} completion)")


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """What the rate-limit headers of one response said (None where absent)."""
    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None          # Unix seconds when the window resets
    retry_after: float | None = None    # seconds, on 429
    # the hour window, when the server sends the `X-RateLimit-*-Hour` family
    hour_limit: int | None = None
    hour_remaining: int | None = None
    hour_reset: float | None = None

    def describe(self, now: float | None = None) -> str | None:
        """The one wording of the rate-limit state; None when no response said it yet."""
        if self.remaining is None:
            return None
        total = f" of {self.limit:,}" if self.limit is not None else ""
        reset = ""
        if self.reset is not None and now is not None:
            reset = f", window resets in {max(0.0, self.reset - now):.0f} s"
        return f"{self.remaining:,}{total} requests left{reset}"


@dataclass(slots=True)
class ChatChunk:
    """One streamed piece. `text` is the delta; the last chunk carries `usage`."""
    text: str
    session_id: str | None = None
    usage: Usage | None = None
    finish_reason: str | None = None
    id: str | None = None


@dataclass(slots=True)
class ChatResult:
    text: str
    session_id: str | None
    usage: Usage
    finish_reason: str | None
    id: str | None = None
    model: str | None = None
    agent: str | None = None
    rate_limit: RateLimitInfo = field(default_factory=RateLimitInfo)
    request_id: str | None = None
    latency_s: float | None = None
    first_token_s: float | None = None
    interrupted: bool = False           # the stream was stopped by the user; text is what arrived
    # No _repr_markdown_: a frontend renders published Markdown with full trust, so model text
    # would be live HTML. The magic and the panel render answers through safe_markdown instead.


# What the service calls the agent that answers when none is named (the chat completions route).
ORCHESTRATOR = "Orchestrator"


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    name: str
    description: str | None = None
    agent_type: str | None = None
    is_active: bool | None = None
    model: str | None = None
    created_at: datetime | None = None

    @property
    def invocable(self) -> bool:
        return self.agent_type == "LLM_AGENT"


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    created_at: datetime | None = None
    last_update_time: datetime | None = None
    is_active: bool | None = None
    message_count: int | None = None


@dataclass(frozen=True, slots=True)
class Message:
    session_id: str
    position: int
    id: str | None
    role: str
    content: str
    created_at: datetime | None = None
    agent_name: str | None = None
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class SessionStatus:
    session_id: str
    status: str
    is_active: bool | None = None
    last_update_time: datetime | None = None


@dataclass(slots=True)
class CallRecord:
    """One per call the user made (success or failure), handed to observers (the usage ledger)."""
    started_at: datetime
    endpoint: str
    agent: str | None
    session_id: str | None
    stream: bool
    status: int | None                  # HTTP status of the final attempt (None: no answer)
    # the server's code, or the client's kind: "connection_error", "timeout", "stream_error",
    # "interrupted"
    error_code: str | None
    usage: Usage | None
    latency_s: float
    first_token_s: float | None
    request_id: str | None
    attempts: int = 1
    extra: dict[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)   # where it came from (observers.py)
