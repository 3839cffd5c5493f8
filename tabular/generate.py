"""A generator of wide synthetic training data at any size, in bounded memory.

Plain logic (no dagster). Deterministic for a seed: chunk ``j`` of file ``i`` is drawn from
``numpy.random.default_rng([seed, i, j])``, so any file can be regenerated alone.

Columns (``cols`` in total, ``cols >= 4``):

- ``customer_id`` (int64): about 20 rows per customer; each customer has a start date (a hash of
  the id, spread over 2024-01-01 .. 2024-11-26) and every event of theirs falls in the 35 days
  after it, so the customers' first-seen dates spread over the year (temporal splits);
- ``event_time`` (timestamp[us], UTC, naive);
- ``label`` (string): 3 imbalanced classes, ``low`` 85 %, ``mid`` 12 %, ``high`` 3 %;
- ``f_0000``...: features by index modulo 10: 0 -> categorical string (8 values ``c0``..``c7``),
  1-2 -> float64 normal, 3 -> bool, 4-9 -> small int64 0..20 (1 % nulls in index 4). Small
  integers dominate, as in real wide training tables (about one byte a cell in pandas).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from memsafe.atomic import atomic_path

LABELS = np.array(["low", "mid", "high"])
LABEL_P = (0.85, 0.12, 0.03)
VOCAB = pa.array([f"c{i}" for i in range(8)])
ROWS_PER_CUSTOMER = 20
START = np.datetime64("2024-01-01T00:00:00", "us")
START_SPREAD_DAYS = 330
ACTIVE_DAYS = 35


def wide_schema(cols: int) -> pa.Schema:
    if cols < 4:
        raise ValueError(f"cols must be at least 4 (customer_id, event_time, label, one feature), got {cols}")
    fields = [
        pa.field("customer_id", pa.int64()),
        pa.field("event_time", pa.timestamp("us")),
        pa.field("label", pa.string()),
    ]
    for i in range(cols - 3):
        kind = i % 10
        dtype = (
            pa.string() if kind == 0 else pa.float64() if kind in (1, 2) else pa.bool_() if kind == 3 else pa.int64()
        )
        fields.append(pa.field(f"f_{i:04d}", dtype))
    return pa.schema(fields)


def wide_chunk(schema: pa.Schema, n: int, n_customers: int, rng: np.random.Generator) -> pa.Table:
    """``n`` rows of the wide schema drawn from ``rng``."""
    cust = rng.integers(0, n_customers, n, dtype=np.int64)
    start_day = (cust * 2654435761) % START_SPREAD_DAYS  # a fixed hash of the id
    offset_us = rng.integers(0, ACTIVE_DAYS * 86_400_000_000, n, dtype=np.int64)
    when = START + start_day.astype("timedelta64[D]") + offset_us.astype("timedelta64[us]")
    arrays = [pa.array(cust), pa.array(when, pa.timestamp("us")), pa.array(LABELS[rng.choice(3, n, p=LABEL_P)])]
    for i, fld in enumerate(list(schema)[3:]):
        kind = i % 10
        if kind == 0:
            arr = pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, 8, n, dtype=np.int32)), VOCAB)
            arrays.append(arr.cast(pa.string()))
        elif kind in (1, 2):
            arrays.append(pa.array(rng.standard_normal(n)))
        elif kind == 3:
            arrays.append(pa.array(rng.random(n) < 0.3))
        else:
            values = rng.integers(0, 21, n, dtype=np.int64)
            mask = (rng.random(n) < 0.01) if kind == 4 else None
            arrays.append(pa.array(values, mask=mask))
        assert arrays[-1].type == fld.type
    return pa.Table.from_arrays(arrays, schema=schema)


def generate_wide(
    out_dir: Path, rows: int, cols: int, files: int = 1, seed: int = 0, fmt: str = "parquet", chunk_rows: int = 50_000
) -> list[Path]:
    """Write ``rows`` x ``cols`` rows over ``files`` files ``wide-00000.<fmt>``... in ``out_dir``.

    Memory: one chunk of ``chunk_rows`` rows at a time. Each file is written atomically.

    Raises:
        ValueError: a non-positive size or an unknown format.
    """
    if rows <= 0 or files <= 0 or chunk_rows <= 0:
        raise ValueError(f"rows, files and chunk_rows must be positive, got {rows}, {files}, {chunk_rows}")
    if fmt not in ("parquet", "csv", "tsv"):
        raise ValueError(f"fmt must be parquet, csv or tsv, got {fmt!r}")
    schema = wide_schema(cols)
    n_customers = max(1, rows // ROWS_PER_CUSTOMER)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    base, extra = divmod(rows, files)
    for i in range(files):
        n_file = base + (1 if i < extra else 0)
        path = out_dir / f"wide-{i:05d}.{fmt}"
        with atomic_path(path) as tmp:
            if fmt == "parquet":
                writer = pq.ParquetWriter(tmp, schema, compression="snappy")
            else:
                opts = pacsv.WriteOptions(delimiter="\t" if fmt == "tsv" else ",")
                writer = pacsv.CSVWriter(str(tmp), schema, write_options=opts)
            with writer:
                for j, start in enumerate(range(0, n_file, chunk_rows)):
                    rng = np.random.default_rng([seed, i, j])
                    writer.write_table(wide_chunk(schema, min(chunk_rows, n_file - start), n_customers, rng))
        paths.append(path)
    return paths
