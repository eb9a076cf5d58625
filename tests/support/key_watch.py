"""The whole suite doubles as a leak test: the session emulator's key is recognisable, and every
log record of the watched loggers, every test's captured output and every failure text is
scanned for it (conftest.py wires this in; a leak fails the run)."""
from __future__ import annotations

import logging
import secrets
import string
from typing import Any

WATCHED_LOGGERS = ("junis_jupyter", "httpx", "httpcore", "uvicorn", "starlette")


def make_canary_key() -> str:
    """`jns_live_` + 32 characters, as the contract says, starting with a marker a grep finds."""
    tail = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32 - len("LEAKCANARY")))
    return "jns_live_LEAKCANARY" + tail


class LeakWatch(logging.Handler):
    """Collects every place the key turned up."""

    def __init__(self, key: str) -> None:
        super().__init__(logging.DEBUG)
        self.key = key
        self.leaks: list[str] = []
        self.records = 0
        self.reports = 0

    def attach(self) -> None:
        for name in WATCHED_LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(self)
            if logger.getEffectiveLevel() > logging.DEBUG:
                logger.setLevel(logging.DEBUG)

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        try:
            text = record.getMessage()
        except Exception:           # a bad format string is not what this looks for
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += repr(record.exc_info[1])
        if self.key in text:
            self.leaks.append(f"log {record.name}: {text[:200]!r}")

    def scan_report(self, report: Any) -> None:
        """A pytest TestReport: captured stdout/stderr/log sections and the failure text."""
        self.reports += 1
        texts = [content for _, content in report.sections]
        if report.longrepr is not None:
            texts.append(str(report.longrepr))
        if any(self.key in text for text in texts):
            self.leaks.append(f"{report.nodeid} ({report.when})")

    def summary(self) -> str:
        return (f"key hygiene: scanned {self.records} log records and {self.reports} test reports "
                f"for the session emulator's key: {len(self.leaks)} leak(s)")
