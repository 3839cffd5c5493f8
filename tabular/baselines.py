"""The splits the streaming split is measured against (benchmarks and the CLI only).

- :func:`duckdb_hash_split`: one DuckDB ``COPY ... PARTITION_BY (split)`` over every shard, rows
  assigned by ``hash(filename, file_row_number)``; bounded by the budget's ``memory_limit``.
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


def duckdb_hash_split(shards: Path, output: Path, budget: Budget, ratios: dict[str, float], seed: int = 0,
                      raw_memory_limit: str | None = None) -> int:
    """Hash split of ``shards/*.parquet`` into ``output/split=<name>/`` with DuckDB; returns rows."""
    files = [str(p) for p in list_shards(shards)]
    names = list(ratios)
    bounds = np.cumsum([ratios[n] for n in names])[:-1]
    cases = " ".join(f"WHEN u < {float(b)!r} THEN '{n}'" for b, n in zip(bounds, names, strict=False))
    con = budget.connect()
    if raw_memory_limit:
        con.execute(f"SET memory_limit = '{raw_memory_limit}'")  # a size string, not data
    output.mkdir(parents=True, exist_ok=True)
    sql = f"""
        COPY (
          SELECT * EXCLUDE (filename, file_row_number, u),
                 CASE {cases} ELSE '{names[-1]}' END AS split
          FROM (SELECT *, (hash(filename, file_row_number, $seed) % 1000000) / 1000000.0 AS u
                FROM read_parquet($files, filename = true, file_row_number = true))
        ) TO '{output}' (FORMAT parquet, PARTITION_BY (split), OVERWRITE_OR_IGNORE true)
    """
    con.execute(sql, {"files": files, "seed": seed})
    return con.execute("SELECT count(*) FROM read_parquet($files)", {"files": files}).fetchone()[0]


def pandas_split(
    shards: Path, output: Path, label: str | None, ratios: dict[str, float], seed: int = 0
) -> int:
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
