"""What an emulator is started with: one dataclass for the CLI, the thread and process runners."""
from __future__ import annotations

from dataclasses import dataclass, field

PLANS: dict[str, tuple[int, int]] = {"basic": (60, 5), "pro": (300, 20)}   # rpm, concurrent
NO_PLAN = "none"      # extra keys only: an organisation without a subscription (403 on every call)
DEFAULT_CREDITS = 1_000_000


@dataclass
class EmulatorOptions:
    host: str = "127.0.0.1"
    port: int = 0
    plan: str = "pro"
    # None: reuse the one in --state, else a fresh random key; never in a repr
    key: str | None = field(default=None, repr=False)
    credits: int | None = None          # None: DEFAULT_CREDITS (or what --state remembers)
    token_delay: float = 0.01           # seconds between streamed chunks
    state: str | None = None            # JSON file: sessions and keys survive a restart
    rpm: int | None = None              # None: the plan's limit
    concurrency: int | None = None      # None: the plan's limit
    admin: bool = False                 # /_emulator/* routes (faults, keys, stats)

    def __post_init__(self) -> None:
        if self.plan not in PLANS:
            raise ValueError(f"plan must be one of {sorted(PLANS)}, got {self.plan!r}")
        if self.token_delay < 0:
            raise ValueError("token_delay must be >= 0")
        for name in ("rpm", "concurrency", "credits"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0")
