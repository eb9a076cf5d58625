"""`df.junis.ask(template)`: `ask_many` over a DataFrame's rows. Importing this module registers it.

Kept out of the package's import so that loading the extension does not import pandas: the
extension registers it when pandas is imported (notebook/after_import.py), or at once when pandas
already is. Registering costs pandas alone; the batch machinery is imported at the first `ask`.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from .prompt import MAX_PROMPT_CHARS

__all__ = ["JunisAccessor"]

NAME = "df.junis.ask"       # what the progress bar says: the call the user made


@pd.api.extensions.register_dataframe_accessor("junis")
class JunisAccessor:
    """The `junis` namespace of every DataFrame."""

    def __init__(self, df: pd.DataFrame) -> None:
        self._df = df

    def ask(self, template: str, *, agent: Any = None, concurrency: int = 5,
            client: Any = None, rate_limit_retries: int = 8, progress: bool | None = None,
            checkpoint: Any = None, dry_run: bool = False, model: str | None = None,
            extra_body: dict[str, Any] | None = None, background: bool = False,
            max_prompt_chars: int = MAX_PROMPT_CHARS, cache: str | None = None,
            **chat_kwargs: Any) -> Any:
        """One question per row, `{column}` placeholders filled from the row; the result has
        ask_many's columns (input, answer, session_id, tokens, latency, error) and this frame's
        index, so `df.join(df.junis.ask(...))` lines up. `checkpoint`, `dry_run`, `model`,
        `extra_body`, `background`, `max_prompt_chars` and `cache` as in `ask_many` (a dry run
        returns an
        `Estimate`, a background batch a `BatchJob`, not a frame; a row over the prompt cap is
        named by its index label)."""
        from . import batch
        rows = self._df.to_dict("records")
        return batch.run(rows, batch.render_prompts(rows, template), index=self._df.index,
                         agent=agent, concurrency=concurrency, client=client,
                         rate_limit_retries=rate_limit_retries, progress=progress,
                         chat_kwargs=chat_kwargs, checkpoint=checkpoint, dry_run=dry_run,
                         model=model, extra_body=extra_body, background=background,
                         max_prompt_chars=max_prompt_chars, cache=cache, name=NAME)
