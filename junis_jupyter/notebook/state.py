"""What the magic, its line commands and its background jobs share for a kernel's life: the
shell, the settings (the magic's traits), the notebook's conversation, the cells' failures, the
last answer, the client and the answer cache. One object, declared here, so that a command or a
job reads named attributes instead of reaching into the magic.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import config, errors
from ..data.cache import CACHE_PATH_ENV, AnswerCache, CacheMode
from ..data.cache import default_path as default_cache_path
from .cellerror import CellError
from .chain import Chain
from .failures import Failures
from .options import CellOptions, cell_options

if TYPE_CHECKING:
    from traitlets.config import Configurable

    from ..client.sync import JunisClient
    from ..client.types import ChatResult
    from ..data.pipeline import AnswerPipeline
    from .jobs import Jobs

__all__ = ["KernelState", "say"]


def say(line: str) -> None:
    """One line on stderr, scrubbed of the key and of terminal escapes whatever produced it (a
    service's message may hold either)."""
    print(f"Junis: {_clean(line)}", file=sys.stderr, flush=True)


def _clean(line: str) -> str:
    from .escapes import strip_escapes
    return strip_escapes(config.scrub(line, config.current_key()))


class KernelState:
    def __init__(self, shell: Any, settings: Configurable) -> None:
        self.shell = shell
        self.settings = settings
        self.chain = Chain()
        self.failures = Failures(shell)
        self.last_result: ChatResult | None = None
        self.cell_id: str | None = None        # the running cell's, from `pre_run_cell`
        self._client: JunisClient | None = None
        self._client_for: tuple[str, str] | None = None
        self._cache: AnswerCache | None = None
        self._jobs: Jobs | None = None
        self.side_panel: Any = None            # what `%junis chat --side` last opened

    # -- IPython's events -------------------------------------------------------------------

    def pre_run_cell(self, info: Any) -> None:
        """IPython passes the running cell's id (JupyterLab, Notebook 7 and VS Code send one)."""
        self.cell_id = getattr(info, "cell_id", None)

    def post_run_cell(self, result: Any) -> None:
        self.cell_id = None     # a magic run outside run_cell must not take a stale id
        self.failures.hook(result)

    # -- settings and the conversation ------------------------------------------------------

    def options(self, line: str = "") -> CellOptions:
        return cell_options(line, self.settings)

    @property
    def session_id(self) -> str | None:
        return self.chain.session_id

    def cell_count(self) -> int | None:
        """The running cell's execution count. Not `shell.execution_count`: IPython 9 counts
        the next cell there while one runs (8 still this one's); the input history holds the
        running cell as its last entry in both."""
        history = getattr(getattr(self.shell, "history_manager", None), "input_hist_raw", None)
        if history:
            return len(history) - 1
        return getattr(self.shell, "execution_count", None)

    @property
    def jobs(self) -> Jobs:
        """The background jobs, made when the first one starts or is listed."""
        if self._jobs is None:
            from .jobs import Jobs
            self._jobs = Jobs(self.cell_count)
        return self._jobs

    # -- the client -------------------------------------------------------------------------

    @property
    def client(self) -> JunisClient:
        """Made on first use, and again when the key or base URL it was made for changes (a
        `%junis login`, a new JUNIS_API_KEY), so `%junis config` and the calls agree."""
        wanted = (config.resolve_key(), config.resolve_base_url())
        if self._client is not None and self._client_for != wanted:
            self.reset_client()
        if self._client is None:
            from ..client.sync import JunisClient
            opts = self.options()
            self._client = JunisClient(api_key=wanted[0], base_url=wanted[1],
                                       timeout=opts.timeout, max_retries=opts.max_retries)
            self._client_for = wanted
        return self._client

    @property
    def client_if_made(self) -> JunisClient | None:
        """The client, if a call made one (its rate-limit reading is the last response's)."""
        return self._client

    def reset_client(self) -> None:
        """The next call makes a new client (the settings it was made with changed)."""
        if self._client is not None:
            self._client.close()
        self._client = None

    def base_url(self) -> str | None:
        try:
            return config.resolve_base_url()
        except errors.ConfigurationError:
            return None

    # -- the answer cache -------------------------------------------------------------------

    def pipeline(self, opts: CellOptions) -> AnswerPipeline:
        """The answer path of a cell with these options (its cache mode, the cache file)."""
        from ..data.pipeline import AnswerPipeline
        mode = CacheMode(opts.cache)
        return AnswerPipeline(
            None if mode is CacheMode.OFF else self.answer_cache(), mode, subject="this cell",
            replay_hint="run it once with the cache on (--cache use, or %config "
                        "JunisMagics.cache = 'use')")

    def batch_cache(self) -> tuple[CacheMode, Path]:
        """What a batch in this kernel uses by default: the cells' cache mode and file."""
        return CacheMode(self.options().cache), self.cache_file()

    def answer_cache(self) -> AnswerCache:
        path = self.cache_file()
        if self._cache is None or self._cache.path != path:
            if self._cache is not None:
                self._cache.close()
            self._cache = AnswerCache(path)
        return self._cache

    def cache_file(self) -> Path:
        """`cache_path`, else $JUNIS_CACHE_PATH, else beside the notebook, else the data dir."""
        chosen = self.options().cache_path
        if chosen:
            return Path(chosen).expanduser()
        from_env = os.environ.get(CACHE_PATH_ENV)      # (an environment holds no NUL)
        if from_env:
            return Path(from_env).expanduser()
        return default_cache_path(self.notebook_path())

    def notebook_path(self) -> str | None:
        """The notebook this kernel runs, where the frontend says (JupyterLab and Notebook 7 set
        `__session__`; VS Code and others JPY_SESSION_NAME); None in a terminal or a script."""
        found = self.shell.user_ns.get("__session__") or os.environ.get("JPY_SESSION_NAME")
        return str(found) if str(found or "").endswith(".ipynb") else None

    def place(self) -> tuple[str | None, str | None]:
        """The notebook and the running cell: where a batch started now is asked from."""
        return self.notebook_path(), self.cell_id

    # -- what a cell leaves -----------------------------------------------------------------

    def keep(self, result: ChatResult, out: str | None = None) -> None:
        """The last answer, in `_junis` (and `out`, if the cell named one)."""
        self.last_result = result
        self.shell.user_ns["_junis"] = result
        if out:
            self.shell.user_ns[out] = result

    def fail(self, line: str) -> None:
        """The cell's one error line: raised (the cell fails), or printed (`on_error='print'`)."""
        if self.options().on_error == "print":
            say(line)
            return
        raise CellError(_clean(line))

    def show(self, obj: Any, **kwargs: Any) -> None:
        from IPython.display import display
        display(obj, **kwargs)

    def close(self) -> None:
        self.reset_client()
        if self._cache is not None:
            self._cache.close()
            self._cache = None
