"""The two one-query groupings :mod:`probe_rows.grouping` is measured against.

Both write one parquet file of ``(src_addr, measurements list<struct>)`` rows ordered by
``event_time`` inside each list, the shape of the scripts this project replaces:

- :func:`duckdb_list_order_by`: ``LIST(STRUCT_PACK(...) ORDER BY event_time) ... GROUP BY
  src_addr`` under the budget's ``memory_limit`` (exact, but its peak RSS exceeds the limit);
- :func:`polars_group_by`: polars' in-memory ``group_by`` with ``sort_by`` inside the aggregation
  (fast, exact, unbounded memory). polars is a ``bench`` extra, imported only here.

They exist for the benchmark and the CLI's ``baseline`` command; the pipeline never uses them.
"""

from __future__ import annotations

from pathlib import Path

from memsafe.budget import Budget

STRUCT_COLUMNS = ("dst_addr", "event_time", "rtt_ms", "ttl")


def duckdb_list_order_by(
    input_dir: Path, output: Path, budget: Budget, columns: tuple[str, ...] = STRUCT_COLUMNS
) -> int:
    """Group with one DuckDB query; return the number of probes written."""
    fields = ", ".join(f'"{c}" := "{c}"' for c in columns)
    con = budget.connect()
    try:
        glob = str(input_dir / "*.parquet")
        con.execute(
            f"COPY (SELECT src_addr, LIST(STRUCT_PACK({fields}) ORDER BY event_time) AS measurements "
            "FROM read_parquet($glob) WHERE src_addr IS NOT NULL GROUP BY src_addr) "
            "TO $out (FORMAT parquet)",
            {"glob": glob, "out": str(output)},
        )
        return con.execute("SELECT count(*) FROM read_parquet($p)", {"p": str(output)}).fetchone()[0]
    finally:
        con.close()


def polars_group_by(input_dir: Path, output: Path, columns: tuple[str, ...] = STRUCT_COLUMNS) -> int:
    """Group with polars' in-memory group_by; return the number of probes written."""
    import polars as pl

    frame = (
        pl.scan_parquet(str(input_dir / "*.parquet"))
        .filter(pl.col("src_addr").is_not_null())
        .group_by("src_addr")
        .agg(pl.struct(list(columns)).sort_by("event_time").alias("measurements"))
        .collect()
    )
    frame.write_parquet(output)
    return frame.height
