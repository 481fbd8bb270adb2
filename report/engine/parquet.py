"""Parquet files of the engine's tables, written and read by DuckDB.

One place for how evkit writes a table as Parquet (the table cache, engine/cache.py, and any
command that hands tables to other engines): zstd at level 1, which wrote the engine's events
with about the CPU of snappy or no compression, at half snappy's size (200,000
MailItemsAccessed records: 25 MB uncompressed, 11 MB snappy, 5 MB zstd).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

PARQUET_OPTIONS = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1"


def sql_literal(text: str) -> str:
    """`text` as a SQL string literal (COPY takes its file name as a literal, not a parameter)."""
    return "'" + text.replace("'", "''") + "'"


def write_parquet(con: duckdb.DuckDBPyConnection, query: str, path: Path, params: Sequence[Any] = ()) -> None:
    """Write the rows of `query` to the Parquet file `path` (replaced if it exists)."""
    con.execute(f"COPY ({query}) TO {sql_literal(path.as_posix())} ({PARQUET_OPTIONS})", list(params))


def parquet_columns(con: duckdb.DuckDBPyConnection, path: str) -> list[tuple[str, str]]:
    """(name, type) of every column of the Parquet file at `path`, as DuckDB reads them."""
    return [(str(row[0]), str(row[1])) for row in
            con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall()]


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """(name, type) of every column of `table`, comparable with parquet_columns."""
    return [(str(row[0]), str(row[1])) for row in con.execute(f"DESCRIBE {table}").fetchall()]
