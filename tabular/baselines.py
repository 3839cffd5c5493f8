"""The splits the streaming split is measured against (benchmarks and the CLI only).

- :func:`duckdb_hash_split`: one DuckDB ``COPY`` per split over every shard, rows assigned by
  ``hash(filename, file_row_number)``; bounded by the budget's (or a raw) ``memory_limit``.
- :func:`pandas_split`: the load-everything approach teams start with: one DataFrame, a seeded
  random split, one parquet file per split.

Neither is exact per class; they are speed/memory references only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from memsafe.budget import Budget
from tabular.io import list_shards


def duckdb_hash_split(
    shards: Path,
    output: Path,
    budget: Budget,
    ratios: dict[str, float],
    seed: int = 0,
    raw_memory_limit: str | None = None,
) -> int:
    """Hash split of ``shards`` into ``output/<split>.parquet`` with DuckDB; returns the rows read.

    One ``COPY`` per split, each a filtered scan of every shard: a single ``COPY ... PARTITION_BY``
    ran out of memory at 3M x 200 under a 2 GB ``memory_limit`` (DuckDB 2.0 buffers each
    partition's row groups).
    """
    files = [str(p) for p in list_shards(shards)]
    names = list(ratios)
    edges = np.concatenate([[0.0], np.cumsum([ratios[n] for n in names])])
    edges[-1] = 1.01  # u is < 1: the last split takes everything above its lower edge
    con = budget.connect()
    if raw_memory_limit:
        con.execute(f"SET memory_limit = '{raw_memory_limit}'")  # a size string, not data
    output.mkdir(parents=True, exist_ok=True)
    for name, lo, hi in zip(names, edges[:-1], edges[1:], strict=True):
        target = output / f"{name}.parquet"  # COPY takes no bound parameter for its target
        con.execute(
            f"""
            COPY (
              SELECT * EXCLUDE (filename, file_row_number)
              FROM read_parquet($files, filename = true, file_row_number = true)
              WHERE (hash(filename, file_row_number, $seed) % 1000000) / 1000000.0 >= $lo
                AND (hash(filename, file_row_number, $seed) % 1000000) / 1000000.0 < $hi
            ) TO '{target}' (FORMAT parquet)
        """,
            {"files": files, "seed": seed, "lo": float(lo), "hi": float(hi)},
        )
    return con.execute("SELECT count(*) FROM read_parquet($files)", {"files": files}).fetchone()[0]


def pandas_split(shards: Path, output: Path, label: str | None, ratios: dict[str, float], seed: int = 0) -> int:
    """Load every shard into one DataFrame, split at random, write one parquet file per split."""
    df = pd.concat([pd.read_parquet(p) for p in list_shards(shards)], ignore_index=True)
    if label:
        df = df[df[label].notna()]
    names = list(ratios)
    u = np.random.default_rng(seed).random(len(df))
    which = np.searchsorted(np.cumsum([ratios[n] for n in names])[:-1], u, side="right")
    output.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        df[which == i].to_parquet(output / f"{name}.parquet")
    return len(df)
