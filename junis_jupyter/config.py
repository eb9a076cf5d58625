"""Where the key and the base URL come from, and how the key is shown (never in full).

Order: explicit argument > key given to `%junis login` (held in memory for the process) >
environment (`JUNIS_API_KEY`, `JUNIS_BASE_URL`) > default URL.
"""
from __future__ import annotations

import ipaddress
import os
import re
from urllib.parse import urlsplit

from .errors import ConfigurationError

DEFAULT_BASE_URL = "https://api.junis.ai/api/external"
KEY_ENV = "JUNIS_API_KEY"
URL_ENV = "JUNIS_BASE_URL"
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}

_login_key: str | None = None   # set by `%junis login`; lives as long as the kernel


def set_login_key(key: str | None) -> None:
    global _login_key
    _login_key = (key or "").strip() or None


def resolve_key(explicit: str | None = None) -> str:
    key = explicit or _login_key or os.environ.get(KEY_ENV)
    if not key:
        raise ConfigurationError(
            "No Junis API key: run `%junis login`, set the JUNIS_API_KEY environment variable, "
            "or pass api_key=... to the client.")
    key = key.strip()
    _check_key(key)
    return key


def current_key() -> str | None:
    """The key a call would use now, or None when none is set: for masking text, which must not
    fail for want of a key."""
    try:
        return resolve_key()
    except ConfigurationError:
        return None


def _check_key(key: str) -> None:
    """A key travels in a header, which holds printable ASCII only. Anything else (a space, a
    line break or a non-breaking space from copy-paste) would fail deep inside httpx with an
    error that quotes the key, so it is refused here, without showing the key."""
    for position, char in enumerate(key, 1):
        if not " " < char < "\x7f":
            raise ConfigurationError(
                f"The API key has a character a header cannot carry (U+{ord(char):04X}, at "
                f"position {position}); copy the key again, without spaces or line breaks.")


def resolve_base_url(explicit: str | None = None, *, allow_insecure: bool = False) -> str:
    url = (explicit or os.environ.get(URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"Base URL must be http(s)://host[/path], got {url!r}.")
    if parts.scheme == "http" and not allow_insecure and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"Refusing plain http:// to {parts.hostname}: the API key would travel unencrypted. "
            "Use https://, or pass allow_insecure=True if you really mean it.")
    return url


def is_loopback(host: str) -> bool:
    """localhost or a loopback address; not a name that merely starts with "127."."""
    host = host.strip("[]").lower()
    if host in _LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mask_key(key: str | None) -> str:
    """`jns_live_…wxyz`: enough to tell keys apart, never enough to use one."""
    if not key:
        return "(not set)"
    prefix = "jns_live_" if key.startswith("jns_live_") else ""
    return f"{prefix}…{key[-4:]}" if len(key) >= 16 else f"{prefix}…"


def scrub(text: str, key: str | None) -> str:
    """Remove the key from text that may reach a user (server messages echo input sometimes)."""
    if key and key in text:
        text = text.replace(key, mask_key(key))
    return text


_KEY_SHAPE = re.compile(r"jns_live_[A-Za-z0-9]{32}")


def scrub_keys(text: str, key: str | None = None) -> str:
    """`scrub`, and every other Junis-key-shaped string masked too: for text bound for a prompt
    (cell sources, tracebacks), where a key typed into a cell may be any key, not this one."""
    return _KEY_SHAPE.sub(lambda m: mask_key(m.group(0)), scrub(text, key))
