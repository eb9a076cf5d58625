"""`junis-jupyter login`: the key stored for the user (mode 0600), read by the Jupyter server and
by kernels where nothing nearer sets one, and never printed."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from junis_jupyter import config
from junis_jupyter.errors import ConfigurationError, MissingKeyError

OTHER = "jns_live_" + "E" * 32


def login(home: Path, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in (config.KEY_ENV, config.URL_ENV)}
    return subprocess.run([sys.executable, "-m", "junis_jupyter.cli", "login", "--stdin", *args],
                          input=key + "\n", capture_output=True, text=True, timeout=60,
                          env={**env, "JUNIS_HOME": str(home)})


@pytest.fixture
def bare(junis_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No key and no URL in the environment, nor from `%junis login`."""
    monkeypatch.delenv(config.KEY_ENV, raising=False)
    monkeypatch.delenv(config.URL_ENV, raising=False)
    config.set_login_key(None)
    yield junis_home
    config.set_login_key(None)


def test_login_stores_the_key_for_this_user_only_and_never_prints_it(bare: Path,
                                                                     emulator: Any) -> None:
    done = login(bare, emulator.key, "--base-url", emulator.url)
    assert done.returncode == 0, done.stderr
    path = bare / "login.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"api_key": emulator.key, "base_url": emulator.url}
    assert emulator.key[9:] not in done.stdout + done.stderr
    assert config.mask_key(emulator.key) in done.stdout
    assert config.resolve_key() == emulator.key and config.resolve_base_url() == emulator.url


def test_a_kernel_process_uses_the_stored_key(bare: Path, emulator: Any) -> None:
    assert login(bare, emulator.key, "--base-url", emulator.url).returncode == 0
    env = {k: v for k, v in os.environ.items() if k not in (config.KEY_ENV, config.URL_ENV)}
    out = subprocess.run(
        [sys.executable, "-c", "from junis_jupyter import JunisClient\n"
                               "print(JunisClient().chat('Stored?').text.splitlines()[2])"],
        capture_output=True, text=True, timeout=60, env={**env, "JUNIS_HOME": str(bare)})
    assert out.stdout.strip() == "You asked: \u201cStored?\u201d. Here is a scripted answer."


def test_precedence_argument_then_kernel_login_then_environment_then_file(
        bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stored, env, kernel, given = ("jns_live_" + c * 32 for c in "ABCD")
    config.save_login(stored, "https://stored.example")
    assert config.resolve_key() == stored
    monkeypatch.setenv(config.KEY_ENV, env)
    monkeypatch.setenv(config.URL_ENV, "https://env.example")
    assert config.resolve_key() == env and config.resolve_base_url() == "https://env.example"
    config.set_login_key(kernel)
    assert config.resolve_key() == kernel
    assert config.resolve_key(given) == given
    monkeypatch.delenv(config.URL_ENV)
    assert config.resolve_base_url() == "https://stored.example"


def test_a_file_others_can_read_is_refused_naming_the_fix(bare: Path) -> None:
    path = config.save_login(OTHER)
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600") as caught:
        config.resolve_key()
    assert "E" * 8 not in str(caught.value)
    assert config.current_key() is None         # masking never fails for it


def test_a_damaged_file_is_named_not_shown(bare: Path) -> None:
    path = config.login_path()
    path.parent.mkdir(parents=True)
    path.write_text(f"api_key={OTHER}")
    path.chmod(0o600)
    with pytest.raises(ConfigurationError, match="is damaged") as caught:
        config.resolve_key()
    assert "E" * 8 not in str(caught.value)


def test_no_key_anywhere_is_a_missing_key_error(bare: Path) -> None:
    with pytest.raises(MissingKeyError, match="junis-jupyter login"):
        config.resolve_key()


def test_a_key_with_a_space_is_refused_without_showing_it(bare: Path) -> None:
    done = login(bare, "jns_live_" + "F" * 16 + " " + "F" * 15)
    assert done.returncode == 1 and "U+0020" in done.stderr and "F" * 8 not in done.stderr
    assert not (bare / "login.json").exists()


def test_logout_removes_it(bare: Path) -> None:
    config.save_login(OTHER)
    done = subprocess.run([sys.executable, "-m", "junis_jupyter.cli", "logout"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "JUNIS_HOME": str(bare)})
    assert done.returncode == 0 and not config.login_path().exists()
