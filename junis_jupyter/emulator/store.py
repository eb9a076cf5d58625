"""The emulator's data: the seeded organisation, keys with scopes/plans/credits, sessions, messages.

Everything lives in memory; with a state file it is written (atomically) after every change and
read back at start, so sessions survive a restart.
"""
from __future__ import annotations

import json
import os
import secrets
import string
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .options import DEFAULT_CREDITS, PLANS, EmulatorOptions

ALL_SCOPES = ("orchestrator:invoke", "orchestrator:stream", "agents:list", "agents:invoke",
              "sessions:read", "sessions:messages")
_KEY_ALPHABET = string.ascii_letters + string.digits
_AGENT_NAMESPACE = uuid.UUID("6f1d3c1e-5a0b-4c51-9d35-0e8a51c2a9b7")
_SEEDED_AT = "2025-01-01T00:00:00.000Z"

# name, agent_type, description, model, is_active
_SEED = [
    ("Orchestrator", "ORCHESTRATOR", "Routes each request to the right agent.",
     "junis-orchestrator", True),
    ("Research", "LLM_AGENT", "Finds and summarises sources.", "gemini/gemini-2.5-flash", True),
    ("Writer", "LLM_AGENT", "Drafts and edits prose.", "anthropic/claude-sonnet-4", True),
    ("Analyst", "LLM_AGENT", "Reads tables and explains numbers.", "openai/gpt-4.1", True),
    ("Pipeline", "SEQUENTIAL_AGENT", "Research, then Writer.", "junis-sequential", True),
    ("Fanout", "PARALLEL_AGENT", "Asks several agents at once.", "junis-parallel", True),
    ("Retired", "LLM_AGENT", "An agent switched off by its owner.", "openai/gpt-4o-mini", False),
]


def now_iso() -> str:
    """ISO 8601 UTC with milliseconds and a `Z`, as the native endpoints write times."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_key() -> str:
    return "jns_live_" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(32))


def agent_id(name: str) -> str:
    """Stable across runs and machines: uuid5 of the agent's name in the emulator's namespace."""
    return str(uuid.uuid5(_AGENT_NAMESPACE, name))


def seeded_agents() -> list[dict[str, Any]]:
    return [{"id": agent_id(name), "name": name, "description": description, "agent_type": kind,
             "is_active": active, "model": model, "created_at": _SEEDED_AT}
            for name, kind, description, model, active in _SEED]


class StateError(Exception):
    """The --state file exists but cannot be used."""


@dataclass
class KeyRecord:
    key: str = field(repr=False)
    scopes: list[str] = field(default_factory=lambda: list(ALL_SCOPES))
    plan: str = "pro"
    rpm: int = PLANS["pro"][0]
    concurrency: int = PLANS["pro"][1]
    credits: int = DEFAULT_CREDITS


@dataclass
class Message:
    id: str
    role: str
    content: str
    created_at: str
    agent_name: str | None = None
    usage: dict[str, int] | None = None


@dataclass
class Session:
    session_id: str
    created_at: str
    last_update_time: str
    is_active: bool = True
    messages: list[Message] = field(default_factory=list)
    activity: int = 0          # monotonic: orders sessions whose timestamps are equal

    def summary(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "created_at": self.created_at,
                "last_update_time": self.last_update_time, "is_active": self.is_active,
                "message_count": len(self.messages)}


class Store:
    """Keys, agents and sessions of the one seeded organisation."""

    def __init__(self, options: EmulatorOptions) -> None:
        self.path = options.state
        self.agents = seeded_agents()
        self.agents_by_id = {agent["id"]: agent for agent in self.agents}
        self.keys: dict[str, KeyRecord] = {}
        self.sessions: dict[str, Session] = {}
        self._activity = 0
        primary = self._load() if self.path else None
        self.primary_key = options.key or primary or new_key()
        record = self.keys.get(self.primary_key) or KeyRecord(self.primary_key)
        rpm, concurrency = PLANS[options.plan]
        record.plan = options.plan
        record.rpm = options.rpm if options.rpm is not None else rpm
        record.concurrency = options.concurrency if options.concurrency is not None else concurrency
        if options.credits is not None or self.primary_key not in self.keys:
            record.credits = options.credits if options.credits is not None else DEFAULT_CREDITS
        self.keys[self.primary_key] = record
        self.save()

    # keys -----------------------------------------------------------------------------------
    def add_key(self, *, scopes: list[str] | None = None, credits: int | None = None,
                plan: str = "pro", rpm: int | None = None, concurrency: int | None = None
                ) -> KeyRecord:
        plan_rpm, plan_concurrency = PLANS.get(plan, (0, 0))
        record = KeyRecord(new_key(), list(ALL_SCOPES if scopes is None else scopes), plan,
                           plan_rpm if rpm is None else rpm,
                           plan_concurrency if concurrency is None else concurrency,
                           DEFAULT_CREDITS if credits is None else credits)
        self.keys[record.key] = record
        self.save()
        return record

    # sessions -------------------------------------------------------------------------------
    def new_session(self) -> Session:
        stamp = now_iso()
        session = Session(str(uuid.uuid4()), stamp, stamp)
        self.sessions[session.session_id] = session
        self.touch(session)
        return session

    def touch(self, session: Session) -> None:
        self._activity += 1
        session.activity = self._activity
        session.last_update_time = now_iso()

    def add_message(self, session: Session, role: str, content: str, *,
                    agent_name: str | None = None, usage: dict[str, int] | None = None
                    ) -> Message:
        message = Message("msg_" + uuid.uuid4().hex, role, content, now_iso(), agent_name, usage)
        session.messages.append(message)
        self.touch(session)
        return message

    def sessions_newest_first(self) -> list[Session]:
        return sorted(self.sessions.values(), key=lambda s: s.activity, reverse=True)

    # persistence ----------------------------------------------------------------------------
    def save(self) -> None:
        """Write the whole state atomically (temp file + rename): a crash never leaves half a
        file."""
        if not self.path:
            return
        # the records go to JSON as their __dict__ (no asdict copy), in one C-encoded json.dumps
        # (json.dump to a file encodes in pure Python): the whole state is written twice a turn
        text = json.dumps({"version": 1, "primary_key": self.primary_key,
                           "keys": list(self.keys.values()),
                           "sessions": self.sessions_newest_first()[::-1]}, default=vars)
        directory = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(prefix=".emulator-state-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, self.path)
        except BaseException:
            os.unlink(tmp)
            raise

    def _load(self) -> str | None:
        assert self.path
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StateError(f"Cannot read emulator state {self.path}: {exc}") from None
        try:
            for raw in data.get("keys", []):
                record = KeyRecord(**raw)
                self.keys[record.key] = record
            for raw in data.get("sessions", []):
                messages = [Message(**m) for m in raw.pop("messages", [])]
                session = Session(**raw, messages=messages)
                self.sessions[session.session_id] = session
                self._activity = max(self._activity, session.activity)
        except (AttributeError, TypeError) as exc:
            raise StateError(f"Cannot read emulator state {self.path}: unexpected content "
                             f"({exc})") from None
        return data.get("primary_key")

