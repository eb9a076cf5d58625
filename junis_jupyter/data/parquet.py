"""`to_parquet`: a frame to a Parquet file with its dtypes intact, read as-is by DuckDB and
Polars."""
from __future__ import annotations

import os

import pandas as pd

__all__ = ["to_parquet"]


def to_parquet(df: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a frame to Parquet with its dtypes intact (strings as Arrow `string`)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("to_parquet needs pyarrow: pip install 'junis-jupyter[parquet]'") \
            from None
    table = pa.Table.from_pandas(df, preserve_index=False)
    # pandas 3 stores strings as large_string, pandas 2 as string: write one type either way.
    schema = pa.schema([f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f
                        for f in table.schema], metadata=table.schema.metadata)
    pq.write_table(table.cast(schema), path)
