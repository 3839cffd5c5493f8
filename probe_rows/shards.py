"""Measurement shards: the parquet files the grouping reads, and their contract.

A shard is one parquet file with at least:

======================  =====================================================  ==================
column                  meaning                                                type
======================  =====================================================  ==================
``src_addr``            the probe's address (the grouping key); null rows are  string
                        counted and dropped
``dst_addr``            the measured target                                    string
``event_time``          when the measurement was taken; a tz-naive timestamp   timestamp (any unit)
                        is read as UTC
``rtt_ms``              round-trip time in milliseconds; null = failed         float or integer
======================  =====================================================  ==================

Further integer/float columns are carried into the per-probe structs (by default every numeric
column that all shards share; or an explicit list). Shards are read in file-name order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

REQUIRED = ("src_addr", "dst_addr", "event_time", "rtt_ms")
SHARD_GLOB = "*.parquet"


class ShardError(ValueError):
    """A shard that breaks the contract. Names the shard, and the column when one is at fault."""

    def __init__(self, shard: Path | str, problem: str, column: str | None = None) -> None:
        self.shard = str(shard)
        self.column = column
        where = f"shard {self.shard}" + (f", column {column!r}" if column else "")
        super().__init__(f"{where}: {problem}")


class NoShardsError(ValueError):
    """A folder without measurement shards; names what was expected and the files it ignored."""


def list_shards(folder: Path) -> list[Path]:
    """The shard files of ``folder`` in file-name order (hidden temporaries excluded)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"no shard folder at {folder}")
    return sorted(p for p in folder.glob(SHARD_GLOB) if p.is_file() and not p.name.startswith("."))


def no_shards_error(folder: Path | None, shown: int = 5) -> NoShardsError:
    """The error for a folder holding no shard: what a shard is, the files found instead, and how
    to import them (CSV/TSV/parquet tables of other columns, RIPE Atlas JSON)."""
    others = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder and folder.is_dir() else []
    found = (
        (
            f"it holds {len(others)} other file(s), ignored: {', '.join(others[:shown])}"
            f"{', ...' if len(others) > shown else ''}"
        )
        if others
        else "it is empty"
    )
    return NoShardsError(
        f"no measurement shards in {folder}: expected {SHARD_GLOB} files with columns "
        f"{', '.join(REQUIRED)}; {found}. Import measurements first: "
        "python -m probe_rows.cli import-csv (CSV/TSV/parquet of other columns) or import-atlas (RIPE Atlas JSON)"
    )


def _is_string(t: pl.DataType) -> bool:
    # Parquet's string, large and view strings read as String; dictionary-encoded ones
    # (Arrow dictionary<string> in the file's schema) as Categorical.
    return t == pl.String or isinstance(t, (pl.Categorical, pl.Enum))


def _is_numeric(t: pl.DataType) -> bool:
    return t.is_integer() or t.is_float()


def _is_timestamp(t: pl.DataType) -> bool:
    return isinstance(t, pl.Datetime)


@dataclass(frozen=True)
class ShardSchema:
    """What one shard holds: its row count and its numeric extra columns."""

    path: Path
    rows: int
    numeric_extras: tuple[str, ...]


def check_shard(path: Path) -> ShardSchema:
    """Read a shard's footer and check the contract (no data pages are read).

    Read by polars (schema and row count from the footer), so grouping never loads pyarrow
    (about 0.15 s of CPU per process: docs/probe_rows.md).

    Raises:
        ShardError: unreadable file, a missing required column, or a column of the wrong type
            (``event_time`` not a timestamp, addresses not strings, ``rtt_ms`` not numeric).
    """
    try:
        schema = pl.read_parquet_schema(path)
        rows = pl.scan_parquet(path).select(pl.len()).collect().item()
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ShardError(path, f"unreadable as parquet ({str(exc).splitlines()[0]})") from exc
    for name in REQUIRED:
        if name not in schema:
            raise ShardError(path, "required column missing", name)
    checks = {
        "src_addr": (_is_string, "a string"),
        "dst_addr": (_is_string, "a string"),
        "event_time": (_is_timestamp, "a timestamp"),
        "rtt_ms": (_is_numeric, "numeric"),
    }
    for name, (ok, expected) in checks.items():
        typ = schema[name]
        if not ok(typ):
            raise ShardError(path, f"type {typ} is not {expected}", name)
    extras = tuple(name for name, t in schema.items() if name not in REQUIRED and _is_numeric(t))
    return ShardSchema(path, int(rows), extras)


def check_shards(
    paths: Iterable[Path], extra_columns: Sequence[str] | None = None
) -> tuple[list[ShardSchema], tuple[str, ...]]:
    """Check every shard; return their schemas and the extra columns to carry.

    ``extra_columns=None`` carries the numeric columns every shard has (in the first shard's
    order); an explicit list must be numeric and present in every shard.

    Raises:
        ShardError: as :func:`check_shard`, or an explicit extra column absent or not numeric.
    """
    schemas = [check_shard(p) for p in paths]
    if extra_columns is None:
        if not schemas:
            return schemas, ()
        common = set.intersection(*(set(s.numeric_extras) for s in schemas))
        return schemas, tuple(c for c in schemas[0].numeric_extras if c in common)
    for s in schemas:
        for name in extra_columns:
            if name not in s.numeric_extras:
                raise ShardError(s.path, "extra column missing or not numeric", name)
    return schemas, tuple(extra_columns)
