"""The data floor under attack (issue 21): what a batch and the usage ledger do when their files
or their inputs go wrong. Nothing paid for is lost, and every refusal is one line naming the file
or the option, before any request.

- A full disk mid-batch: no file this process writes may grow past 64 KiB (RLIMIT_FSIZE, with
  SIGXFSZ ignored: the kernel refuses the write, as a full disk does, with no root and no
  tmpfs). The checkpoint stops saving, one warning says so, the batch returns every row.
- Damaged, edited and read-only checkpoints. Read-only is made by the file's and folder's modes;
  as root (where modes do not bind) the test thread also drops CAP_DAC_OVERRIDE for the while.
- A lone surrogate in an answer: the emulator cannot send one (its answers come from the
  prompt, and the client refuses a prompt holding one), so a transport in front of the real
  emulator turns a 6-byte marker of one answer into the JSON escape `\\ud800` on the wire.
- Bad numbers and prompts over the cap; a corrupt usage ledger through `%junis usage`.
"""
from __future__ import annotations

import contextlib
import ctypes
import math
import os
import signal
import sqlite3
import sys
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from junis_jupyter.client import JunisClient
from junis_jupyter.client.types import CallRecord, Usage
from junis_jupyter.data.batch import ask_many
from junis_jupyter.data.checkpoint import Checkpoint, Recorded
from junis_jupyter.data.estimate import Estimate
from junis_jupyter.data.ledger import Ledger
from junis_jupyter.data.text import storable
from junis_jupyter.errors import ConfigurationError
from support.checks import one_line
from support.shells import MagicShell

pytestmark = pytest.mark.timeout(120)


def requests(server: Any) -> int:
    return server.stats()["requests"]


@pytest.fixture
def client(junis_env: Any) -> Iterator[JunisClient]:
    with JunisClient() as c:
        yield c


def saved(path: Path) -> dict[int, str | None]:
    """position -> answer of the rows the checkpoint holds, read behind its back."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return dict(conn.execute("SELECT position, answer FROM rows WHERE error IS NULL"))


def open_fds_on(path: Path) -> int:
    """How many of this process's file descriptors are open on `path` (or its -wal / -shm)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}").startswith(str(path)):
                count += 1
    return count


def the_warnings(caught: list[warnings.WarningMessage], about: str) -> list[str]:
    return [str(w.message) for w in caught if about in str(w.message)]


# --- a full disk mid-batch ---------------------------------------------------------------------

@contextlib.contextmanager
def files_capped_at(size: int) -> Iterator[None]:
    """No file this process writes may grow past `size` bytes while inside: the kernel refuses
    the write (EFBIG), as it refuses one on a full disk (ENOSPC). SIGXFSZ is ignored meanwhile,
    so the refusal is an error the writer sees, not the end of the process."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if hard != resource.RLIM_INFINITY and hard < size:
        pytest.skip(f"the file-size hard limit ({hard}) is below {size}")
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_full_disk_mid_batch_returns_every_row_with_one_warning(client: JunisClient,
                                                                  junis_env: Any,
                                                                  tmp_path: Path) -> None:
    path = tmp_path / "batch.sqlite3"
    prompts = [f"[[echo]] row {i}" for i in range(20)]
    with files_capped_at(64 * 1024), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = ask_many(prompts, client=client, checkpoint=path, concurrency=2, progress=False)
    assert df["answer"].tolist() == [f"row {i}" for i in range(20)]     # every answer kept
    assert df["error"].isna().all()
    said = the_warnings(caught, "checkpoint")
    assert len(said) == 1, said                                        # one warning, not one a row
    assert said[0].startswith(f"ask_many: checkpoint {path} stopped saving at row ")
    assert "(disk I/O error)" in said[0] or "(database or disk is full)" in said[0], said[0]
    assert one_line(said[0])
    kept = saved(path)
    assert 0 < len(kept) < 20                       # it saved some, then the disk was full
    assert all(kept[p] == f"row {p}" for p in kept)

    before = requests(junis_env)                    # room again: only the unsaved rows are asked
    again = ask_many(prompts, client=client, checkpoint=path, concurrency=2, progress=False)
    assert requests(junis_env) - before == 20 - len(kept)
    assert again["answer"].tolist() == df["answer"].tolist()
    assert len(saved(path)) == 20


def test_a_row_that_cannot_be_stored_stops_the_checkpoint_not_the_batch(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    with Checkpoint.open(path, ["p0", "p1", "p2"], {}) as cp:
        assert cp.record(0, Recorded("zero", "s-0", 1, 0.1, None))
        assert not cp.record(1, Recorded("one", "s-1", 2 ** 70, 0.1, None))   # too big for SQLite
        assert cp.stopped is not None and "too large" in cp.stopped
        assert not cp.record(2, Recorded("two", "s-2", 1, 0.1, None))  # stopped: nothing tried
    assert saved(path) == {0: "zero"}


# --- damaged and edited checkpoints -------------------------------------------------------------

PROMPTS = ["[[echo]] a", "[[echo]] b", "[[echo]] c"]


def _edit(*statements: str):
    def edit(path: Path) -> None:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            for statement in statements:
                conn.execute(statement)
            conn.commit()
    return edit


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _a_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


DAMAGE = {
    # what was done to a finished checkpoint: what the one line says it is
    "random bytes": (_random_bytes, "is not an ask_many checkpoint (file is not a database)"),
    "truncated": (_truncated, "is damaged"),
    "a folder": (_a_folder, "is a folder"),
    "meta without rows": (_edit("DELETE FROM meta WHERE key = 'rows'"),
                          "is damaged (its row count is None"),
    "rows not a number": (_edit("UPDATE meta SET value = 'many' WHERE key = 'rows'"),
                          "is damaged (its row count is 'many'"),
    "meta without options": (_edit("DELETE FROM meta WHERE key = 'options'"),
                             "is damaged (it holds no options)"),
    "prompts missing": (_edit("DELETE FROM prompts WHERE position = 2"),
                        "is damaged (it holds 2 prompts of its 3)"),
    "no prompts table": (_edit("DROP TABLE prompts"), "is damaged (it holds 0 prompts of its 3)"),
    "rows with other columns": (_edit("DROP TABLE rows",
                                      "CREATE TABLE rows (position INTEGER, answer TEXT)"),
                                "is damaged (no such column"),
    "a row past the end": (_edit("UPDATE rows SET position = 99 WHERE position = 1"),
                           "is damaged (it holds a row at position 99, outside its 3 rows)"),
    "a negative row": (_edit("UPDATE rows SET position = -1 WHERE position = 1"),
                       "is damaged (it holds a row at position -1"),
    "tokens as text": (_edit("UPDATE rows SET tokens = 'many' WHERE position = 0"),
                       "is damaged (row 0 holds values of the wrong kinds)"),
}


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files in /proc")
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_checkpoint_is_one_line_naming_the_file_and_leaves_nothing_open(
        client: JunisClient, junis_env: Any, tmp_path: Path, damage: str) -> None:
    path = tmp_path / "batch.sqlite3"
    ask_many(PROMPTS, client=client, checkpoint=path, progress=False)
    do, says = DAMAGE[damage]
    do(path)
    before = requests(junis_env)
    with pytest.raises(ConfigurationError) as info:
        ask_many(PROMPTS, client=client, checkpoint=path, progress=False)
    # while the error (and its traceback, as a notebook keeps it) is alive, the file is closed
    assert open_fds_on(path) == 0
    message = str(info.value)
    assert message.startswith(f"checkpoint {path} "), message
    assert says in message and one_line(message), message
    assert message.endswith(("pass another path.", "or pass another path.")), message
    assert requests(junis_env) == before                          # refused before any request
    assert type(info.value.__cause__) is not sqlite3.DatabaseError   # no raw error inside


# --- read-only checkpoints ----------------------------------------------------------------------

class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


@contextlib.contextmanager
def _modes_bind_on_this_thread() -> Iterator[None]:
    """As root, drop CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER from this thread's
    effective set while inside (capset acts on the calling thread only; the permitted set keeps
    them, so they come back): file modes then bind as they do for any user."""
    if os.geteuid() != 0:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()     # _LINUX_CAPABILITY_VERSION_3
    if libc.capget(ctypes.byref(header), data) != 0:
        pytest.skip("capget failed: cannot make a file read-only for root")
    effective = data[0].effective
    data[0].effective &= ~0b1110
    if libc.capset(ctypes.byref(header), data) != 0:
        pytest.skip("capset failed: cannot make a file read-only for root")
    try:
        yield
    finally:
        data[0].effective = effective
        assert libc.capset(ctypes.byref(_CapHeader(0x20080522, 0)), data) == 0


@contextlib.contextmanager
def read_only(path: Path, folder_too: bool) -> Iterator[None]:
    """`path` (and its folder, as on a read-only volume) cannot be written while inside."""
    targets = [path, path.parent] if folder_too else [path]
    modes = {t: t.stat().st_mode for t in targets}
    for t in targets:
        t.chmod(0o555 if t.is_dir() else 0o444)
    try:
        with _modes_bind_on_this_thread():
            yield
    finally:
        for t, mode in modes.items():
            t.chmod(mode)


@pytest.mark.skipif(sys.platform != "linux", reason="root's capabilities are dropped on Linux")
@pytest.mark.parametrize("folder_too", [False, True], ids=["file", "file-and-folder"])
def test_a_read_only_checkpoint_is_read_and_a_batch_with_rows_left_is_refused(
        client: JunisClient, junis_env: Any, tmp_path: Path, folder_too: bool) -> None:
    path = tmp_path / "shelf #1?" / "batch.sqlite3"     # a name a URI must quote
    prompts = [f"[[echo]] row {i}" for i in range(5)]
    first = ask_many(prompts, client=client, checkpoint=path, progress=False)
    before = requests(junis_env)
    with read_only(path, folder_too):
        # finished: it is read whole, with no request and no warning
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            again = ask_many(prompts, client=client, checkpoint=path, progress=False)
        assert again["answer"].tolist() == first["answer"].tolist()
    assert requests(junis_env) == before

    _edit("DELETE FROM rows WHERE position IN (1, 3)")(path)
    with read_only(path, folder_too):
        with pytest.raises(ConfigurationError) as info:
            ask_many(prompts, client=client, checkpoint=path, progress=False)
        estimate = ask_many(prompts, client=client, checkpoint=path, dry_run=True)
    message = str(info.value)
    assert message.startswith(f"checkpoint {path} cannot be written (the file is read-only: "
                              "attempt to write a readonly database): it holds 3 of the 5 rows, "
                              "and the other 2 would not be saved."), message
    assert "copy it to a folder you can write to" in message and one_line(message)
    assert "not an ask_many checkpoint" not in message
    assert requests(junis_env) == before                   # refused before any request
    assert isinstance(estimate, Estimate) and (estimate.rows, estimate.to_ask) == (5, 2)
    assert open_fds_on(path) == 0
    assert sorted(saved(path)) == [0, 2, 4]                # untouched


def test_a_new_checkpoint_that_cannot_be_made_is_one_line(tmp_path: Path,
                                                          client: JunisClient) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the checkpoint's folder should be")
    with pytest.raises(ConfigurationError, match=r"^cannot create checkpoint .*a-file/c\.sqlite3 "
                                                 r"\(.+\): pass a path in a folder you can write "
                                                 r"to\.$"):
        ask_many(PROMPTS, client=client, checkpoint=blocker / "c.sqlite3", progress=False)
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    if sys.platform == "linux":
        with read_only(shelf, folder_too=False), pytest.raises(ConfigurationError) as info:
            ask_many(PROMPTS, client=client, checkpoint=shelf / "c.sqlite3", progress=False)
        assert str(info.value) == (
            f"cannot create checkpoint {shelf / 'c.sqlite3'} (its folder is read-only: unable to "
            "open database file): pass a path to a file you can write to, in a folder with free "
            "space.")


# --- lone surrogates -----------------------------------------------------------------------------

MARK = b"@SURR@"       # 6 bytes, the length of the JSON escape that replaces it: no header changes


class _SurrogateOnTheWire(httpx.BaseTransport):
    """The emulator's answers, with MARK turned into the JSON escape of a lone surrogate."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        body = response.read().replace(MARK, b"\\ud800")
        return httpx.Response(response.status_code, headers=response.headers, content=body,
                              request=request)

    def close(self) -> None:
        self._inner.close()


@pytest.fixture
def surrogate_client(junis_env: Any) -> Iterator[JunisClient]:
    with JunisClient(http_client=httpx.Client(transport=_SurrogateOnTheWire())) as c:
        yield c


def test_an_answer_with_a_lone_surrogate_loses_no_row(surrogate_client: JunisClient,
                                                      junis_env: Any, tmp_path: Path) -> None:
    prompts = [f"[[echo]] row {i}" + (" @SURR@" if i == 10 else "") for i in range(21)]
    expected = [f"row {i}" for i in range(21)]
    expected[10] = "row 10 \ufffd"

    plain = ask_many(prompts, client=surrogate_client, concurrency=1, progress=False)
    assert plain["answer"].tolist() == expected and plain["error"].isna().all()

    path = tmp_path / "batch.sqlite3"
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # it saves every row: no warning
        kept = ask_many(prompts, client=surrogate_client, concurrency=1, checkpoint=path,
                        progress=False)
    assert kept["answer"].tolist() == expected
    assert saved(path) == dict(enumerate(expected))
    before = requests(junis_env)
    again = ask_many(prompts, client=surrogate_client, checkpoint=path, progress=False)
    assert requests(junis_env) == before and again["answer"].tolist() == expected


def test_text_is_stored_as_valid_unicode_whoever_sent_it(tmp_path: Path) -> None:
    """The floor's own guard, whether or not the client already cleaned an answer."""
    assert storable("a\ud800b") == "a\ufffdb"
    assert storable("\ud83d\ude00") == "\U0001F600"          # a pair split in two is joined
    assert storable("plain") == "plain" and storable(None) is None and storable(3) == 3
    path = tmp_path / "c.sqlite3"
    with Checkpoint.open(path, ["p0"], {}) as cp:
        assert cp.record(0, Recorded("x\udcff", "s\ud800", 1, 0.5, None))
    with Checkpoint.open(path, ["p0"], {}) as cp:
        assert cp.done() == {0: Recorded("x\ufffd", "s\ufffd", 1, 0.5, None)}

    ledger = Ledger(tmp_path / "usage.sqlite3")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ledger.record(CallRecord(started_at=datetime.now(timezone.utc), endpoint="chat",
                                 agent="Re\ud800search", session_id="s-\udcff", stream=False,
                                 status=200, error_code=None, usage=Usage(1, 2, 3),
                                 latency_s=0.1, first_token_s=None, request_id="r\ud800"))
    row, = ledger.rows()
    assert (row["agent"], row["session_id"], row["request_id"]) == \
        ("Re\ufffdsearch", "s-\ufffd", "r\ufffd")


# --- bad numbers ---------------------------------------------------------------------------------

BAD_COUNTS = [math.nan, math.inf, -math.inf, 0, -1, 2.5, 5.0, True, "5", None]
BAD_RETRIES = [math.nan, math.inf, -1, 1.5, "2", None]


@pytest.mark.parametrize("value", BAD_COUNTS, ids=repr)
def test_a_bad_concurrency_is_one_line_naming_it(client: JunisClient, junis_env: Any,
                                                 value: Any) -> None:
    before = requests(junis_env)
    for background in (False, True):
        with pytest.raises(ConfigurationError, match=r"^ask_many: concurrency must be ") as info:
            ask_many(["[[echo]] a", "[[echo]] b"], client=client, concurrency=value,
                     progress=False, background=background)
        assert one_line(str(info.value)) and repr(value) in str(info.value)
    assert requests(junis_env) == before


@pytest.mark.parametrize("value", BAD_RETRIES, ids=repr)
def test_a_bad_rate_limit_retries_is_one_line_naming_it(client: JunisClient, junis_env: Any,
                                                        value: Any) -> None:
    import junis_jupyter.data.accessor  # noqa: F401 - registers df.junis
    before = requests(junis_env)
    with pytest.raises(ConfigurationError, match=r"^ask_many: rate_limit_retries must be "):
        ask_many(["[[echo]] a"], client=client, rate_limit_retries=value, progress=False)
    with pytest.raises(ConfigurationError, match=r"^ask_many: rate_limit_retries must be "):
        pd.DataFrame({"x": [1]}).junis.ask("[[echo]] {x}", client=client,
                                          rate_limit_retries=value, progress=False)
    assert requests(junis_env) == before


def test_good_numbers_still_work(client: JunisClient) -> None:
    import numpy as np
    df = ask_many(["[[echo]] a", "[[echo]] b"], client=client, concurrency=np.int64(2),
                  rate_limit_retries=0, max_prompt_chars=20, progress=False)
    assert df["answer"].tolist() == ["a", "b"]


# --- prompts over the cap ------------------------------------------------------------------------

def test_a_row_over_the_prompt_cap_refuses_the_batch_before_anything_is_sent(
        client: JunisClient, junis_env: Any, tmp_path: Path) -> None:
    import junis_jupyter.data.accessor  # noqa: F401 - registers df.junis
    huge = "x" * 20_000_000                                  # the 20 MB prompt of the report
    prompts = ["[[echo]] a", "[[echo]] b", "[[echo]] c " + huge, "[[echo]] d"]
    path = tmp_path / "batch.sqlite3"
    before = requests(junis_env)
    for options in ({}, {"checkpoint": path}, {"dry_run": True}, {"background": True}):
        with pytest.raises(ConfigurationError) as info:
            ask_many(prompts, client=client, progress=False, **options)
        assert str(info.value) == (
            "the prompt of row 2 is 20000011 characters, over the limit of 100000 "
            "(ask_many(max_prompt_chars=...)): nothing was sent: shorten it, or pass a larger "
            "max_prompt_chars.")
    assert not path.exists()                                  # no checkpoint was begun

    many = ["y" * 100_001] * 8 + ["[[echo]] ok"]
    with pytest.raises(ConfigurationError) as info:
        ask_many(many, client=client, progress=False)
    message = str(info.value)
    assert message.startswith("the prompt of row 0 is 100001 characters, over the limit of "
                              "100000 (ask_many(max_prompt_chars=...)): rows 0, 1, 2, 3, 4 and "
                              "3 more are over it; nothing was sent"), message

    frame = pd.DataFrame({"city": ["Oslo", "L" * 200]}, index=["first", "second"])
    with pytest.raises(ConfigurationError, match=r"^the prompt of row 'second' is 209 "
                                                 r"characters, over the limit of 100 "):
        frame.junis.ask("[[echo]] {city}", client=client, max_prompt_chars=100, progress=False)
    assert requests(junis_env) == before

    answered = ask_many(["[[echo]] " + "z" * 100_001], client=client, progress=False,
                        max_prompt_chars=200_000)        # a larger cap, as the line says
    assert answered["answer"].tolist() == ["z" * 100_001]


# --- a corrupt usage ledger ----------------------------------------------------------------------

@pytest.fixture
def shell(shell: MagicShell, junis_env: Any) -> MagicShell:
    return shell


def test_a_corrupt_ledger_is_one_line_naming_the_file_and_a_new_one_starts(
        shell: MagicShell, junis_env: Any, tmp_path: Path) -> None:
    ledger = Path(os.environ["JUNIS_HOME"]) / "usage.sqlite3"
    assert shell.run("%%junis --new\nHello?").error is None     # the kernel's ledger is in use
    assert ledger.exists()
    ledger.write_bytes(b"this is not a database, " * 400)      # and then the file is ruined

    cell = shell.run("%junis usage")
    assert cell.error is None, cell.error
    lines = cell.error_lines()
    assert lines == [f"Junis: the usage ledger {ledger} is damaged (file is not a database): "
                     "move it aside (rename it to usage.sqlite3.damaged, say) and a new one is "
                     "started with the next call."], cell.out + cell.err

    with warnings.catch_warnings(record=True) as caught:     # a call meanwhile is not lost
        warnings.simplefilter("always")
        asked = shell.run("%%junis --new\nAre you there?")
    assert asked.error is None and not asked.error_lines()
    said = the_warnings(caught, "usage ledger")
    assert len(said) == 1 and f"the usage ledger {ledger} is damaged" in said[0], said

    ledger.rename(ledger.with_name("usage.sqlite3.damaged"))  # as the line says
    shell.run("%%junis --new\nAnd now?")
    cell = shell.run("usage = %junis usage --calls")
    assert cell.error is None and not cell.error_lines(), cell.out + cell.err
    assert len(shell.shell.user_ns["usage"]) == 2             # the kept call and the new one
