"""Where the key and the base URL come from, and how the key is shown (never in full).

The key, first found wins:
1. the `api_key=` argument;
2. the key given to `%junis login` (held in memory by one kernel, for as long as it runs);
3. the environment variable `JUNIS_API_KEY` (of the kernel, or of the Jupyter server for the chat);
4. the login file written by `junis-jupyter login` (`login_path()`, mode 0600), which every
   kernel and the Jupyter server read: the only one of these that reaches the Jupyter AI chat
   without restarting the server.

The base URL: the `base_url=` argument > `JUNIS_BASE_URL` > the login file's `base_url` > the
default. The login file is read on every resolution, so a new login is used by the next call.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ConfigurationError, MissingKeyError

DEFAULT_BASE_URL = "https://api.junis.ai/api/external"
KEY_ENV = "JUNIS_API_KEY"
URL_ENV = "JUNIS_BASE_URL"
HOME_ENV = "JUNIS_HOME"         # when set, the login file lives there (as the ledger does)
LOGIN_FILE = "login.json"
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}

_login_key: str | None = None   # set by `%junis login`; lives as long as the kernel


def set_login_key(key: str | None) -> None:
    global _login_key
    _login_key = (key or "").strip() or None


def resolve_key(explicit: str | None = None) -> str:
    key = explicit or _login_key or os.environ.get(KEY_ENV)
    if not key:
        stored = stored_login()
        key = stored.api_key if stored is not None else None
    if not key:
        raise MissingKeyError(
            "No Junis API key: run `%junis login`, set the JUNIS_API_KEY environment variable, "
            "run `junis-jupyter login` in a terminal, or pass api_key=... to the client.")
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
    url = (explicit or os.environ.get(URL_ENV) or _stored_url() or DEFAULT_BASE_URL).rstrip("/")
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


# --- the login file (`junis-jupyter login`) ------------------------------------------------------


@dataclass(frozen=True)
class StoredLogin:
    api_key: str
    base_url: str | None = None

    def __repr__(self) -> str:
        return f"StoredLogin(api_key={mask_key(self.api_key)!r}, base_url={self.base_url!r})"


def login_path() -> Path:
    """`$JUNIS_HOME/login.json` when JUNIS_HOME is set, else the user's configuration directory:
    `$XDG_CONFIG_HOME/junis-jupyter` (`~/.config/junis-jupyter`) on Linux,
    `~/Library/Application Support/junis-jupyter` on macOS, `%APPDATA%\\junis-jupyter` on
    Windows."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser() / LOGIN_FILE
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "junis-jupyter" / LOGIN_FILE


def stored_login() -> StoredLogin | None:
    """What `junis-jupyter login` stored, or None when nothing is. A file others can read, or
    one that is not what `save_login` writes, is refused (ConfigurationError naming the file,
    never its content)."""
    path = login_path()
    try:
        with open(path, encoding="utf-8") as f:
            mode = os.fstat(f.fileno()).st_mode
            text = f.read(65_536)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigurationError(f"Cannot read the login file {path} ({exc.strerror}).") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"The login file {path} can be read by other users, so it is not used: run "
            f"`chmod 600 {path}`, or `junis-jupyter login` again.")
    try:
        data = json.loads(text)
        key = data["api_key"]
        url = data.get("base_url")
        if not isinstance(key, str) or not isinstance(url, (str, type(None))):
            raise TypeError
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ConfigurationError(f"The login file {path} is damaged: run `junis-jupyter login` "
                                 "again.") from None
    return StoredLogin(key.strip(), url or None)


def _stored_url() -> str | None:
    """The login file's base URL; a file that cannot be used gives none (the key's resolution
    says why, when it comes to the file)."""
    try:
        stored = stored_login()
    except ConfigurationError:
        return None
    return stored.base_url if stored is not None else None


def save_login(api_key: str, base_url: str | None = None) -> Path:
    """Store the key (and a base URL) in `login_path()`, readable and writable by this user only
    (mode 0600, written whole and then moved into place, so no reader sees half a file)."""
    api_key = api_key.strip()
    if not api_key:
        raise MissingKeyError("No key given.")
    _check_key(api_key)
    if base_url is not None:
        base_url = resolve_base_url(base_url)
    path = login_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{LOGIN_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)        # the umask only narrows; an old file's mode goes too
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"api_key": api_key, **({"base_url": base_url} if base_url else {})}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def forget_login() -> bool:
    """Remove the login file; whether there was one."""
    try:
        login_path().unlink()
    except FileNotFoundError:
        return False
    return True
