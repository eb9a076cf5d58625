"""The key and the settings: `%junis login`, `%junis config`."""
from __future__ import annotations

import getpass
import os
import re
from typing import TYPE_CHECKING

from IPython.core.error import StdinNotImplementedError

from ... import config, errors
from .parser import Parser

if TYPE_CHECKING:
    from ..state import KernelState

__all__ = ["login", "show_config"]


def login(state: KernelState, args: list[str]) -> None:
    if args:      # a key typed into a cell would be saved with the notebook
        raise errors.ConfigurationError(
            "do not put the key in the cell (it would be saved with the notebook): run "
            "`%junis login` alone and paste the key at the hidden prompt.")
    try:
        key = getpass.getpass("Junis API key: ").strip()
    except StdinNotImplementedError:
        raise errors.ConfigurationError(
            "this frontend cannot prompt for input: set the JUNIS_API_KEY environment "
            "variable before starting the kernel instead.") from None
    except KeyboardInterrupt:
        raise errors.ConfigurationError("login cancelled; nothing changed.") from None
    if not key:
        raise errors.ConfigurationError("no key entered; nothing changed.")
    config.set_login_key(key)
    state.reset_client()
    shape = "" if re.fullmatch(r"jns_live_[A-Za-z0-9]{32}", key) else (
        " (it does not look like a Junis key, jns_live_ + 32 characters: check it)")
    print(f"Key {config.mask_key(key)} set for this kernel{shape}.")


def show_config(state: KernelState, args: list[str]) -> None:
    Parser("%junis config", "%junis config").parse(args)
    rows: list[tuple[str, str | None, str]] = []
    env_key = os.environ.get(config.KEY_ENV)
    try:
        key: str | None = config.resolve_key()
        source = "JUNIS_API_KEY" if env_key and env_key.strip() == key else "%junis login"
    except errors.ConfigurationError:
        key, source = None, "not set: run %junis login"
    rows.append(("api key", config.mask_key(key), source))
    url_source = config.URL_ENV if os.environ.get(config.URL_ENV) else "default"
    rows.append(("base url", state.base_url() or os.environ.get(config.URL_ENV), url_source))
    settings = state.settings
    configured = settings.config.get("JunisMagics", {})
    for name in settings.trait_names(config=True):
        value = getattr(settings, name)
        source = "%config" if name in configured else "default"
        rows.append((name, "None" if value is None else repr(value), source))
    rows.append(("current session", state.session_id or "(none yet)", "this kernel"))
    from ..render import Table
    state.show(Table(("setting", "value", "from"), rows))
