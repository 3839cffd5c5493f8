"""Data loading: a folder of raw CSV/TSV/Parquet files -> numbered shards, signature, MODS, statistics.

Plain logic (no dagster). Two passes over the input, neither holding more than one record batch:

1. **Schema pass**: each file's schema (Parquet footer; CSV/TSV types inferred from its first
   4 MB block) is unified by the drift rule below. Cheap: no data rows are kept.
2. **Data pass**: files are read one after the other in record batches, each cast to the unified
   schema and re-cut into blocks of exactly ``batch_rows`` consecutive rows (a block may span two
   files). Each block is summarised into mergeable statistics (see :mod:`tabular.stats`), folded
   into the running total, and appended to the shard writer. The statistics are over all rows,
   not the first batch, and, because blocks do not depend on file sizes or reader batches, the
   batch mode (everything in one table, cut into the same blocks) gives identical statistics and
   byte-identical shards.

Everything is written into a staging folder that replaces ``<output>`` only when complete.

Schema drift rule (documented in docs/tabular.md):
- a column absent from some files is kept and null in those files' rows; a column that first
  appears in a later file is appended after the earlier columns;
- compatible widening is unified: any integer types -> ``int64``; integers and floats ->
  ``double``; ``date32`` and ``timestamp`` -> ``timestamp`` (finest unit, same time zone); an
  all-null column takes the other type; ``large_string`` -> ``string``;
- any other change (number vs string, boolean vs number, different time zones...) is an
  incompatible change: :class:`SchemaDriftError` names the column and both files;
- the label column (and the customer/date columns when given) must be present in every file.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from memsafe.atomic import atomic_dir
from memsafe.budget import batch_rows_for
from tabular.io import (
    FORMATS,
    PendingWrites,
    ShardWriter,
    TabularInputError,
    iter_file_batches,
    list_input_files,
    read_file_schema,
    write_json,
)
from tabular.stats import MAX_CATEGORIES, TableStats, mods_rows

PROCESSING = ("streaming", "batch")


class SchemaDriftError(TabularInputError):
    """An incompatible schema change between two files; the message names both files."""


@dataclass(frozen=True)
class LoadSpec:
    """How to load one data set.

    Attributes:
        label: the label column; must exist in every file (``None``: no label check).
        customer_column / date_column: other column roles, checked like the label when set.
        rows_per_shard: rows in each output shard (the last one may hold fewer).
        output_format: ``parquet``, ``csv`` or ``tsv``.
        batch_rows: rows per block (record batch) in memory; statistics fold blocks in order.
        column_types: forced Arrow types by column name (``{"zip": "string"}``), for CSV
            columns whose type the first block would infer wrongly.
        processing: ``streaming`` (default) or ``batch`` (load everything first; small data only).
        max_categories: distinct values counted exactly per categorical column.
        compression: Parquet codec of the shards.
        threads: writer threads (``1``: write inline).
        memory_mb: when set, ``batch_rows`` is lowered so about six batches of the unified schema
            fit in this budget (see :func:`memsafe.budget.batch_rows_for`).
    """

    label: str | None = None
    customer_column: str | None = None
    date_column: str | None = None
    rows_per_shard: int = 1_000_000
    output_format: str = "parquet"
    batch_rows: int = 100_000
    column_types: dict[str, str] = field(default_factory=dict)
    processing: str = "streaming"
    max_categories: int = MAX_CATEGORIES
    compression: str = "snappy"
    memory_mb: int | None = None
    threads: int = 2

    def validate(self) -> None:
        if self.output_format not in FORMATS:
            raise ValueError(f"output_format must be one of {FORMATS}, got {self.output_format!r}")
        if self.processing not in PROCESSING:
            raise ValueError(f"processing must be one of {PROCESSING}, got {self.processing!r}")
        for name in ("rows_per_shard", "batch_rows"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


@dataclass
class LoadResult:
    output: Path
    files: list[Path]
    shards: list[Path]
    rows: int
    schema: pa.Schema
    stats: dict
    seconds: float

    def as_metadata(self) -> dict:
        return {
            "rows": self.rows,
            "files": len(self.files),
            "shards": len(self.shards),
            "columns": len(self.schema),
            "seconds": round(self.seconds, 3),
        }


def widen(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    """The unified type of ``a`` and ``b`` under the drift rule, or ``None`` if incompatible."""
    if a.equals(b):
        return a
    if pa.types.is_null(a):
        return b
    if pa.types.is_null(b):
        return a
    strings = (pa.types.is_string, pa.types.is_large_string)
    if any(f(a) for f in strings) and any(f(b) for f in strings):
        return pa.string()
    if pa.types.is_integer(a) and pa.types.is_integer(b):
        return pa.int64()
    numeric = (pa.types.is_integer, pa.types.is_floating)
    if any(f(a) for f in numeric) and any(f(b) for f in numeric):
        return pa.float64()
    if pa.types.is_date32(a) and pa.types.is_timestamp(b):
        return b
    if pa.types.is_timestamp(a) and pa.types.is_date32(b):
        return a
    if pa.types.is_timestamp(a) and pa.types.is_timestamp(b) and a.tz == b.tz:
        units = ["s", "ms", "us", "ns"]
        return pa.timestamp(max(a.unit, b.unit, key=units.index), a.tz)
    return None


def unify_schemas(schemas: Sequence[tuple[Path, pa.Schema]], required: Sequence[str] = ()) -> pa.Schema:
    """One schema for every file, by the drift rule (module docstring).

    Raises:
        SchemaDriftError: an incompatible type change (names the column and both files), or a
            required column missing from a file (names the file and the column).
    """
    types: dict[str, pa.DataType] = {}
    origin: dict[str, Path] = {}
    for path, schema in schemas:
        names = schema.names
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise SchemaDriftError(f"{path}: duplicate column names {dup}")
        for col in required:
            if col not in names:
                raise SchemaDriftError(
                    f"{path}: column {col!r} (set as a column role) is missing; "
                    f"columns are {names[:20]}{'...' if len(names) > 20 else ''}"
                )
        for fld in schema:
            dtype = pa.string() if pa.types.is_large_string(fld.type) else fld.type
            if pa.types.is_dictionary(dtype):
                dtype = dtype.value_type
            if fld.name not in types:
                types[fld.name], origin[fld.name] = dtype, path
                continue
            unified = widen(types[fld.name], dtype)
            if unified is None:
                raise SchemaDriftError(
                    f"column {fld.name!r} is {types[fld.name]} in {origin[fld.name]} but {dtype} in {path}: "
                    "incompatible change (only integer->float, narrower->wider and date->timestamp are "
                    "unified); fix the file or force the type with --column-types name=type (column_types)"
                )
            types[fld.name] = unified
    return pa.schema([pa.field(n, t) for n, t in types.items()])


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Cast ``batch`` to ``schema``: columns reordered, widened, absent ones null."""
    arrays = []
    for fld in schema:
        idx = batch.schema.get_field_index(fld.name)
        if idx < 0:
            arrays.append(pa.nulls(batch.num_rows, fld.type))
        else:
            col = batch.column(idx)
            arrays.append(col if col.type.equals(fld.type) else col.cast(fld.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def file_schemas(files: Sequence[Path], column_types: dict[str, str]) -> list[tuple[Path, pa.Schema]]:
    forced = {k: pa.type_for_alias(v) for k, v in column_types.items()}
    out = []
    for path in files:
        schema = read_file_schema(path)
        for name, dtype in forced.items():
            idx = schema.get_field_index(name)
            if idx >= 0:
                schema = schema.set(idx, pa.field(name, dtype))
        out.append((path, schema))
    return out


def _conformed_batches(path: Path, schema: pa.Schema, batch_rows: int) -> Iterator[pa.RecordBatch]:
    own = read_file_schema(path).names
    types = {n: schema.field(n).type for n in own if n in schema.names}
    for batch in iter_file_batches(path, batch_rows, column_types=types):
        try:
            yield conform(batch, schema)
        except pa.ArrowException as exc:
            raise TabularInputError(f"{path}: cannot cast to the unified schema ({exc})") from exc


def rebatch(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Re-cut a stream of record batches into batches of exactly ``rows`` rows (the last may be
    shorter). Holds at most one output batch; slices are zero-copy, a block spanning two input
    batches is one concatenation."""
    pending: list[pa.RecordBatch] = []
    have = 0
    for batch in batches:
        offset = 0
        while offset < batch.num_rows:
            take = min(rows - have, batch.num_rows - offset)
            pending.append(batch.slice(offset, take))
            have, offset = have + take, offset + take
            if have == rows:
                yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)
                pending, have = [], 0
    if have:
        yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)


def load_dataset(input_dir: Path, output: Path, spec: LoadSpec = LoadSpec()) -> LoadResult:
    """Load every raw file of ``input_dir`` into shards in ``output`` (replaced atomically).

    Writes ``part-00000.<fmt>``..., ``_signature.json`` (column names in order), ``_mods.csv``
    (``varname,iscategory,datatype``), ``_metadata.json`` (statistics over all rows, files,
    column roles) and, for CSV/TSV, ``_schema.arrow``.

    Raises:
        TabularInputError: missing folder, unreadable file (named), schema drift (both files named),
            or a column role absent from a file.
        ValueError: an invalid setting (named).
    """
    spec.validate()
    t0 = time.perf_counter()
    files = list_input_files(input_dir)
    required = [c for c in (spec.label, spec.customer_column, spec.date_column) if c]
    schema = unify_schemas(file_schemas(files, spec.column_types), required)
    nested = [f"{f.name} ({f.type})" for f in schema if pa.types.is_nested(f.type)]
    if spec.output_format != "parquet" and nested:
        raise TabularInputError(
            f"output_format {spec.output_format}: CSV/TSV shards cannot hold the nested "
            f"column(s) {', '.join(nested)}; use parquet (--format parquet)"
        )
    total = TableStats(schema, spec.max_categories)
    batch_rows = spec.batch_rows
    if spec.memory_mb:
        batch_rows = batch_rows_for(schema, spec.memory_mb, spec.batch_rows)
    with atomic_dir(output) as staging:
        writer = ShardWriter(staging, schema, spec.output_format, spec.rows_per_shard, spec.compression)
        if spec.processing == "batch":
            # Reference mode: everything in one table first (small data only), then the same blocks.
            table = pa.Table.from_batches(
                [b for f in files for b in _conformed_batches(f, schema, batch_rows)], schema=schema
            ).combine_chunks()
            blocks = iter(table.to_batches(max_chunksize=batch_rows))
        else:
            stream = (b for f in files for b in _conformed_batches(f, schema, batch_rows))
            blocks = rebatch(stream, batch_rows)
        # The writer thread encodes block k while this thread summarises it and reads block k+1.
        pending = PendingWrites(spec.threads)
        try:
            for block in blocks:
                pending.submit([(writer, block)])
                total.update(block)
            pending.close()
        except BaseException:
            pending.abort()
            raise
        shards = writer.close()
        stats = total.as_dict()
        _write_metadata(staging, schema, stats, files, spec)
    final_shards = [output / s.name for s in shards]
    return LoadResult(output, files, final_shards, total.rows, schema, stats, time.perf_counter() - t0)


def _write_metadata(folder: Path, schema: pa.Schema, stats: dict, files: list[Path], spec: LoadSpec) -> None:
    write_json(folder / "_signature.json", {"columns": schema.names})
    # A real CSV writer: a datatype such as ``timestamp[s, tz=UTC]`` or ``decimal128(12, 2)``
    # holds a comma and must be quoted.
    with open(folder / "_mods.csv", "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("varname", "iscategory", "datatype"))
        writer.writerows(mods_rows(schema))
    roles = {"label": spec.label, "customer_column": spec.customer_column, "date_column": spec.date_column}
    write_json(
        folder / "_metadata.json",
        {
            **stats,
            "roles": roles,
            "files": [str(f) for f in files],
            "output_format": spec.output_format,
            "rows_per_shard": spec.rows_per_shard,
        },
    )
