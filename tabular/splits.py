"""Label processing and train/test/val splits of loaded shards, streaming in bounded memory.

Plain logic (no dagster). Input: a folder of shards (``part-*.parquet|csv|tsv``) as written by
:func:`tabular.loading.load_dataset`, or any folder of Parquet files named ``part-*``.

Two passes, the first reading only one or two columns:

1. **Label pass** (every mode with a label): class counts and missing labels. A non-numeric label
   (string, boolean) is mapped to integer codes in sorted order (``No``->0, ``Yes``->1;
   ``False``->0, ``True``->1), recorded in ``_splits.json``; a numeric label is kept as is. Rows with
   a missing label are dropped and counted. The temporal mode instead reads the customer and
   date columns and keeps one first-seen date per customer id (ids only, never rows).
2. **Data pass**: each record batch's rows get a split, are grouped by split with one ``take``
   and appended to that split's shard writer (continuous numbering ``part-00000``... per split).

Split modes:

- ``random``: row ``i`` (its position in the input, counting dropped rows) goes to the split whose
  cumulative-ratio interval holds ``splitmix64(seed, i) / 2**64``: stable and seeded, with no state.
- ``stratified``: exact. Each class's ``n_c`` rows are apportioned to splits by largest remainder
  (``|count - n_c * ratio| < 1`` for every class and split). Rows are then drawn in fixed blocks
  of 65,536 input rows: for each class in a block, a multivariate hypergeometric draw from the
  class's remaining per-split quotas gives how many of its rows in the block go to each split,
  and a seeded shuffle which ones. That is a uniformly random exact assignment, decided row by
  row in one streaming pass with state of one counter per class and split. The block RNG is
  seeded by ``(seed, block number)``, so the result does not depend on the reader's batch size.
- ``temporal``: customers (``customer_column``) are ordered by their first date
  (``date_column``) and allocated by ``cutoffs`` (ascending ISO dates): first seen before
  ``cutoffs[0]`` -> train, before ``cutoffs[1]`` -> val, otherwise test (one cutoff: train/test).
  All rows of a customer land in that customer's split. Rows with no customer id, or of a
  customer with no date, are dropped and counted.
- ``single``: every row to ``single_split`` (calibration, inference); the label is optional.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from memsafe.atomic import atomic_dir
from memsafe.budget import batch_rows_for
from memsafe.progress import Progress
from tabular.assign import CodeStream, apportion, random_assign, stratified_blocks
from tabular.io import (
    FORMATS,
    PendingWrites,
    ShardWriter,
    TabularInputError,
    coalesce_batches,
    iter_shard_batches,
    shard_schema,
)
from tabular.io import write_json as _write_json

log = logging.getLogger(__name__)

MODES = ("random", "stratified", "temporal", "single")
PROCESSING = ("streaming", "batch")
DEFAULT_RATIOS = {"train": 0.8, "test": 0.1, "val": 0.1}
MAX_CLASSES = 10_000
RATIO_TOLERANCE = 1e-9
# Temporal first pass: per-batch customer minima wait until they outnumber this (or the merged set).
MERGE_MIN_ROWS = 100_000
# A split's writes smaller than a batch over this are joined into one row group: the test and
# validation splits get a tenth of each batch, and every row group costs its writer footer
# metadata until the shard closes (tabular.io.ShardWriter). Holding up to a quarter of a batch per
# split costs less than the row groups it saves (issue 15, docs/tabular.md).
SMALL_WRITES_PER_BATCH = 4


class SplitConfigError(ValueError):
    """A split setting that cannot be honoured; the message names the setting."""


@dataclass(frozen=True)
class SplitSpec:
    """How to split one data set. See the module docstring for the modes.

    Attributes:
        label: label column (required except in ``single`` mode).
        mode: ``random``, ``stratified``, ``temporal`` or ``single``.
        ratios: split name -> fraction, summing to 1 (random, stratified).
        seed: seed of the hash (random) or of the block draws (stratified).
        customer_column, date_column, cutoffs: temporal mode.
        single_split: the split receiving every row in ``single`` mode.
        rows_per_shard, output_format, compression: output shards.
        batch_rows: rows per record batch in memory.
        processing: ``streaming`` (default) or ``batch`` (everything in one table first).
        threads: writer threads (splits are encoded in parallel with reading the next batch).
        memory_mb: when set, ``batch_rows`` is lowered to fit this budget (:func:`memsafe.budget.batch_rows_for`).
    """

    label: str | None = None
    mode: str = "stratified"
    ratios: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RATIOS))
    seed: int = 0
    customer_column: str | None = None
    date_column: str | None = None
    cutoffs: tuple[str, ...] = ()
    single_split: str = "test"
    rows_per_shard: int = 1_000_000
    output_format: str = "parquet"
    compression: str = "snappy"
    batch_rows: int = 100_000
    processing: str = "streaming"
    memory_mb: int | None = None
    threads: int = 2

    def split_names(self) -> list[str]:
        if self.mode == "single":
            return [self.single_split]
        if self.mode == "temporal":
            return ["train", "test"] if len(self.cutoffs) == 1 else ["train", "val", "test"]
        return list(self.ratios)

    def validate(self) -> None:
        if self.mode not in MODES:
            raise SplitConfigError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.processing not in PROCESSING:
            raise SplitConfigError(f"processing must be one of {PROCESSING}, got {self.processing!r}")
        if self.output_format not in FORMATS:
            raise SplitConfigError(f"output_format must be one of {FORMATS}, got {self.output_format!r}")
        if self.mode != "single" and not self.label:
            raise SplitConfigError(f"label must be set for the {self.mode} split")
        if self.mode in ("random", "stratified"):
            if not self.ratios or any(r < 0 for r in self.ratios.values()):
                raise SplitConfigError(f"ratios must be non-negative fractions, got {self.ratios}")
            total = sum(self.ratios.values())
            if abs(total - 1.0) > RATIO_TOLERANCE:
                raise SplitConfigError(f"ratios {self.ratios} sum to {total:g}; they must sum to 1")
        if self.mode == "temporal":
            if not self.customer_column or not self.date_column:
                raise SplitConfigError("temporal split needs customer_column and date_column")
            if len(self.cutoffs) not in (1, 2):
                raise SplitConfigError(f"cutoffs must hold 1 or 2 dates, got {list(self.cutoffs)}")
            dates = [parse_cutoff(c) for c in self.cutoffs]
            if dates != sorted(set(dates)):
                raise SplitConfigError(f"cutoffs must be strictly increasing, got {list(self.cutoffs)}")


@dataclass
class SplitResult:
    output: Path
    mode: str
    rows_in: int
    rows: dict[str, int]
    shards: dict[str, list[Path]]
    summary: dict
    seconds: float


def parse_cutoff(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise SplitConfigError(f"cutoffs: {text!r} is not an ISO date or datetime") from exc
    # Naive values are taken as UTC, like the timestamps the loader reads.
    return value if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None)


def _label_codes(arr: pa.Array, classes: pa.Array) -> np.ndarray:
    idx = pc.index_in(arr, value_set=classes)
    return idx.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _chunks(col: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return col.chunks if isinstance(col, pa.ChunkedArray) else [col]


class _Source:
    """Record batches of the shard folder: streamed, or (batch processing) one table in memory."""

    def __init__(self, folder: Path, spec: SplitSpec) -> None:
        self.folder = folder
        self.schema = shard_schema(folder)
        self.batch_rows = spec.batch_rows
        if spec.memory_mb:
            self.batch_rows = batch_rows_for(self.schema, spec.memory_mb, spec.batch_rows)
        self.table = None
        if spec.processing == "batch":
            self.table = pa.Table.from_batches(
                list(iter_shard_batches(folder, self.batch_rows)), schema=self.schema
            ).combine_chunks()

    def batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch | pa.Table]:
        if self.table is not None:
            yield self.table.select(columns) if columns else self.table
        else:
            yield from coalesce_batches(
                iter_shard_batches(self.folder, self.batch_rows, columns=columns), self.batch_rows
            )


def _valid_codes(arr: pa.Array) -> np.ndarray:
    """0 for a present label, -1 for a missing one (null or NaN): numeric labels outside stratified mode."""
    ok = pc.is_valid(arr)
    if pa.types.is_floating(arr.type):
        ok = pc.and_(ok, pc.invert(pc.is_nan(arr).fill_null(False)))
    return np.where(ok.to_numpy(zero_copy_only=False), 0, -1).astype(np.int64)


def _label_pass(src: _Source, label: str, count_classes: bool) -> tuple[pa.Array | None, Counter, int, int]:
    """Class counts (when ``count_classes``) and missing labels, reading the label column only.

    A numeric label outside stratified mode is not counted by value, so a regression target with
    millions of distinct values costs no memory.
    """
    counts: Counter = Counter()
    missing = rows = 0
    for batch in src.batches([label]):
        for chunk in _chunks(batch.column(0)):
            rows += len(chunk)
            missing += chunk.null_count
            if pa.types.is_floating(chunk.type):
                missing += int(pc.sum(pc.is_nan(chunk)).as_py() or 0)
                chunk = pc.if_else(pc.is_nan(chunk), None, chunk)
            if not count_classes:
                continue
            vc = pc.value_counts(chunk.drop_null())
            counts.update(dict(zip(vc.field(0).to_pylist(), vc.field(1).to_pylist(), strict=True)))
            if len(counts) > MAX_CLASSES:
                raise SplitConfigError(
                    f"label {label!r} has more than {MAX_CLASSES} distinct values; "
                    "a stratified split needs a class label"
                )
    if not count_classes:
        return None, counts, missing, rows
    classes = pa.array(sorted(counts), type=src.schema.field(label).type)
    return classes, counts, missing, rows


def _temporal_pass(src: _Source, spec: SplitSpec) -> tuple[pd.Index, np.ndarray, dict]:
    """First seen date per customer (ids only), then each customer's split index."""
    cust, date = spec.customer_column, spec.date_column
    first: pa.Table | None = None
    parts: list[pa.Table] = []
    waiting = 0
    for batch in src.batches([cust, date]):
        part = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        if not pa.types.is_timestamp(part.schema.field(date).type):
            i = part.schema.get_field_index(date)
            part = part.set_column(i, date, date_values(part.column(date), date))
        part = part.filter(pc.is_valid(part.column(cust))).group_by(cust).aggregate([(date, "min")])
        parts.append(part.select([cust, f"{date}_min"]))  # by name: pyarrow's output order varies
        waiting += part.num_rows
        # Merge when the waiting per-batch minima outnumber the merged customers: memory stays
        # within about twice the customer count and the merging work is linear overall.
        if waiting > max(first.num_rows if first is not None else 0, MERGE_MIN_ROWS):
            first, parts, waiting = _merge_first(first, parts, cust, date), [], 0
    if parts or first is None:
        first = _merge_first(first, parts, cust, date)
    if first is None or first.num_rows == 0:
        raise TabularInputError(f"{src.folder}: no rows with a {cust!r} value")
    first = first.filter(pc.is_valid(first.column(f"{date}_min")))
    seen = first.column(f"{date}_min").cast(pa.timestamp("us")).to_numpy()
    lo, hi = seen.min().astype("datetime64[us]").item(), seen.max().astype("datetime64[us]").item()
    cutoffs = [parse_cutoff(c) for c in spec.cutoffs]
    for text, cut in zip(spec.cutoffs, cutoffs, strict=True):
        if not lo < cut <= hi:
            raise SplitConfigError(
                f"cutoffs: {text} is outside the customers' first-seen range "
                f"{lo.isoformat()} .. {hi.isoformat()} of {date!r}"
            )
    bounds = np.array(cutoffs, dtype="datetime64[us]")
    split_of = np.searchsorted(bounds, seen.astype("datetime64[us]"), side="right").astype(np.int8)
    index = pd.Index(first.column(cust).to_numpy(zero_copy_only=False))
    info = {"customers": int(len(index)), "first_seen_min": lo.isoformat(), "first_seen_max": hi.isoformat()}
    return index, split_of, info


def date_values(col: pa.ChunkedArray, date: str) -> pa.ChunkedArray:
    """The ``date_column`` values as timestamp[us] (dates and ISO 8601 text; naive = UTC), so
    first-seen dates compare in time order, not as text.

    Raises:
        SplitConfigError: a value that is not a date (``Feb-2018``), naming the column, the value
            and the setting.
    """
    typ = col.type
    if pa.types.is_date(typ) or pa.types.is_string(typ) or pa.types.is_large_string(typ):
        try:
            return _to_utc_naive(col)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            bad = next((v for v in pc.unique(col).drop_null().to_pylist() if not _is_iso(v)), None)
            if bad is None:
                raise SplitConfigError(
                    f"date_column {date!r} mixes ISO times with and without a zone offset; write them all one way"
                ) from exc
            raise SplitConfigError(
                f"date_column {date!r}: value {bad!r} is not an ISO date or datetime (YYYY-MM-DD[THH:MM:SS]); "
                "the temporal split orders customers by this column: write it as ISO dates, or set "
                "date_column (--date-column) to a date column"
            ) from exc
    raise SplitConfigError(f"date_column {date!r} is {typ}, not a date, timestamp or ISO date text")


def _to_utc_naive(col):
    """Dates and naive ISO text as they are (UTC); text with a zone offset converted to UTC."""
    try:
        return col.cast(pa.timestamp("us"))
    except pa.ArrowInvalid:
        return col.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))


def _is_iso(value: object) -> bool:
    try:
        _to_utc_naive(pa.array([value]))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _merge_first(acc: pa.Table | None, parts: list[pa.Table], cust: str, date: str) -> pa.Table | None:
    tables = ([acc] if acc is not None else []) + parts
    if not tables:
        return None
    merged = pa.concat_tables(tables).group_by(cust).aggregate([(f"{date}_min", "min")])
    return pa.table({cust: merged.column(cust), f"{date}_min": merged.column(f"{date}_min_min")})


def split_dataset(shards: Path, output: Path, spec: SplitSpec) -> SplitResult:
    """Split the shards in ``shards`` into ``output/<split>/part-NNNNN.<fmt>`` plus ``_splits.json``.

    ``output`` is replaced atomically: a failed split leaves the previous one (or nothing).

    Raises:
        SplitConfigError: an invalid setting (named): ratios not summing to 1, an unknown mode,
            a missing label/customer/date column, a cutoff outside the data range...
        TabularInputError: a missing or unreadable shard folder/file (named).
    """
    spec.validate()
    t0 = time.perf_counter()
    src = _Source(shards, spec)
    for role in ("label", "customer_column", "date_column"):
        col = getattr(spec, role)
        if col and col not in src.schema.names and (role == "label" or spec.mode == "temporal"):
            raise SplitConfigError(
                f"{role}: column {col!r} does not exist in {shards} (columns: {src.schema.names[:20]})"
            )
    names = spec.split_names()
    summary: dict = {"mode": spec.mode, "seed": spec.seed, "splits": names}
    label = spec.label if spec.label in src.schema.names else None
    classes = None
    total_rows = 0  # known after the label pass; 0: progress shows the count alone
    if label:
        ltype = src.schema.field(label).type
        numeric = pa.types.is_integer(ltype) or pa.types.is_floating(ltype)
        classes, counts, missing, total_rows = _label_pass(src, label, spec.mode == "stratified" or not numeric)
        summary["label"] = {
            "column": label,
            "missing_dropped": missing,
            "numeric": numeric,
            "class_counts": None if classes is None else {str(c): counts[c] for c in classes.to_pylist()},
            "codes": None if numeric else {str(c): i for i, c in enumerate(classes.to_pylist())},
        }
    out_schema = src.schema
    if label and not summary["label"]["numeric"]:
        out_schema = out_schema.set(out_schema.get_field_index(label), pa.field(label, pa.int64()))

    assign_stream = None
    customer_index = customer_split = None
    if spec.mode == "stratified":
        ratios = [spec.ratios[n] for n in names]
        quotas = np.array([apportion(counts[c], ratios) for c in classes.to_pylist()], dtype=np.int64)
        summary["quotas"] = {
            str(c): dict(zip(names, q.tolist(), strict=True)) for c, q in zip(classes.to_pylist(), quotas, strict=True)
        }
        label_codes = (_label_codes(ch, classes) for b in src.batches([label]) for ch in _chunks(b.column(0)))
        assign_stream = CodeStream(stratified_blocks(label_codes, quotas, spec.seed))
    elif spec.mode == "temporal":
        customer_index, customer_split, info = _temporal_pass(src, spec)
        summary["temporal"] = {
            **info,
            "cutoffs": list(spec.cutoffs),
            "date_column": spec.date_column,
            "customer_column": spec.customer_column,
        }

    k = len(classes) if classes is not None else 1
    per_class = np.zeros((len(names), k), dtype=np.int64)
    dropped = Counter()
    pos = 0
    with atomic_dir(output) as staging:
        writers = [
            ShardWriter(
                staging / n,
                out_schema,
                spec.output_format,
                spec.rows_per_shard,
                spec.compression,
                min_row_group_rows=src.batch_rows // SMALL_WRITES_PER_BATCH,
            )
            for n in names
        ]
        pending = PendingWrites(spec.threads)
        progress = Progress(log, f"tabular split ({spec.mode})", total_rows, "rows")
        try:
            for batch in src.batches():
                n = batch.num_rows
                progress.add(n)
                codes = np.zeros(n, dtype=np.int64)
                if label:
                    col = batch.column(label)
                    to_codes = _valid_codes if classes is None else (lambda ch: _label_codes(ch, classes))
                    codes = np.concatenate([to_codes(ch) for ch in _chunks(col)]) if n else codes
                if spec.mode == "stratified":
                    assign = assign_stream.take(n)
                elif spec.mode == "random":
                    assign = random_assign(pos, n, spec.seed, [spec.ratios[x] for x in names])
                elif spec.mode == "temporal":
                    ids = batch.column(spec.customer_column).to_numpy(zero_copy_only=False)
                    where = customer_index.get_indexer(ids)
                    assign = np.where(where >= 0, customer_split[np.maximum(where, 0)], -1).astype(np.int8)
                    dropped["no_customer_or_date"] += int((where < 0).sum())
                else:
                    assign = np.zeros(n, dtype=np.int8)
                if label:
                    if spec.mode != "stratified":
                        dropped["missing_label"] += int(((codes < 0) & (assign >= 0)).sum())
                    assign = np.where(codes < 0, -1, assign).astype(np.int8)
                    if not summary["label"]["numeric"]:
                        batch = _replace_column(batch, label, pa.array(codes, pa.int64()))
                pos += n
                # Writing (Parquet encoding, one thread per split) overlaps reading the next batch.
                pending.submit(_split_parts(batch, assign, writers, out_schema))
                keep = assign >= 0
                np.add.at(per_class, (assign[keep], codes[keep] if label else 0), 1)
                # Let go of the batch before the next is read: only its grouped copy, in the
                # writers, needs to live on (one batch less at the peak).
                del batch
            pending.close()
            progress.done()
        except BaseException:
            pending.abort()  # writer threads done before the staging folder is removed
            raise
        shard_lists = [w.close() for w in writers]
        rows = {nm: w.rows for nm, w in zip(names, writers, strict=True)}
        if spec.mode == "stratified":
            dropped["missing_label"] = summary["label"]["missing_dropped"]
        summary.update(rows_in=pos, rows=rows, dropped=dict(dropped))
        if classes is not None:
            cls = [str(c) for c in classes.to_pylist()]
            summary["class_counts_by_split"] = {
                nm: dict(zip(cls, per_class[i].tolist(), strict=True)) for i, nm in enumerate(names)
            }
        if customer_index is not None:
            summary["temporal"]["customers_by_split"] = {
                nm: int((customer_split == i).sum()) for i, nm in enumerate(names)
            }
        summary["output_format"] = spec.output_format
        _write_json(staging / "_splits.json", summary)
    shards_out = {nm: [output / nm / s.name for s in sl] for nm, sl in zip(names, shard_lists, strict=True)}
    return SplitResult(output, spec.mode, pos, rows, shards_out, summary, time.perf_counter() - t0)


def _replace_column(batch, name: str, values: pa.Array):
    i = batch.schema.get_field_index(name)
    return batch.set_column(i, name, values)


def _split_parts(batch, assign: np.ndarray, writers: list[ShardWriter], schema: pa.Schema) -> list:
    """Group the batch's rows by split with one stable ``take`` (input order kept within a split);
    return ``(writer, rows)`` pairs."""
    if isinstance(batch, pa.Table):
        batch = batch.cast(schema)
    else:
        batch = pa.RecordBatch.from_arrays(batch.columns, schema=schema)
    start = int((assign < 0).sum())
    if len(writers) == 1 and start == 0:
        return [(writers[0], batch)]
    order = np.argsort(assign, kind="stable")
    sizes = np.bincount(assign[assign >= 0], minlength=len(writers))
    grouped = batch.take(pa.array(order[start:]))
    parts, offset = [], 0
    for writer, size in zip(writers, sizes.tolist(), strict=True):
        if size:
            parts.append((writer, grouped.slice(offset, size)))
        offset += size
    return parts
