"""Any table of measurements (CSV, TSV or parquet) -> measurement shards, by a column mapping.

For measurements that are not RIPE Atlas JSON (:mod:`probe_rows.ripe_atlas`): a latency matrix
``source,dest,size,time``, a ping log ``src,dst,ts,rtt``, a parquet export... Each input file
becomes one shard ``<output>/<file stem>.parquet`` with the columns of the shard contract
(:mod:`probe_rows.shards`), so ``group`` reads it as is.

Mapping (``mapping``, the CLI's ``--map src_addr=source,dst_addr=dest,rtt_ms=time``): shard
column -> input column, for ``src_addr``, ``dst_addr``, ``rtt_ms`` and ``event_time``. An
unmapped shard column is taken from the input column of the same name when there is one.

- ``src_addr`` / ``dst_addr``: cast to string whatever their type (a matrix's node ids
  ``0, 1, ...`` become ``"0", "1", ...``). A row without ``dst_addr`` measured nothing: dropped and
  counted (``no_destination``). A null ``src_addr`` is kept; ``group`` counts and drops it.
- ``rtt_ms``: cast to float64 milliseconds (a value that is not a number is an error naming the
  file, column and value). A null RTT is a failed measurement, kept (``null_rtt``), as for Atlas.
- ``event_time``, stored as timestamp[us, UTC]. From a mapped (or ``event_time``) column: a
  timestamp or ISO 8601 text (naive = UTC), or numbers of ``time_unit`` since the Unix epoch
  (default seconds, like RIPE Atlas). A row with a null time is dropped (``no_time``).
  **No timestamp column** (``time_rule``): ``"row-order"`` (default) makes event_time the
  1970-01-01T00:00:00Z epoch plus the row's position in seconds, counting data rows from 0 over
  all input files in the order given, so the input's row order is the time order of each probe's
  list. An ISO datetime instead gives every row that one time; each probe's list is then ordered
  by its other fields (``dst_addr``, ``rtt_ms``, extras), as ``group`` breaks every tie.
- every other numeric input column (int -> int64, float -> float64) is carried under its own name
  as an extra column of the structs (``extra_columns`` to choose them; ``()`` for none).

Memory: one record batch at a time (the CSV reader parses blocks of about 4 MB; parquet is read
one row group slice of ``batch_rows`` at a time), each written as it comes through memsafe's
atomic output, so a file of any size is imported in bounded memory and a failure leaves no shard.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from memsafe.atomic import atomic_path
from probe_rows.shards import REQUIRED

ROW_ORDER = "row-order"
TIME_UNITS = ("s", "ms", "us", "ns")
TARGETS = REQUIRED  # src_addr, dst_addr, event_time, rtt_ms
CSV_BLOCK_BYTES = 4 << 20
_SUFFIX_DELIMITER = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": ","}
EVENT_TYPE = pa.timestamp("us", tz="UTC")


class MeasurementCsvError(ValueError):
    """An input table or mapping that cannot become shards (names file, column and problem)."""


def parse_mapping(text: str | None) -> dict[str, str]:
    """``src_addr=source,dst_addr=dest`` -> ``{"src_addr": "source", ...}``.

    Raises:
        MeasurementCsvError: an entry that is not ``target=column`` or an unknown target.
    """
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        target, sep, column = (s.strip() for s in part.partition("="))
        if not sep or not target or not column:
            raise MeasurementCsvError(f"--map: expected shard_column=input_column, got {part!r}")
        if target not in TARGETS:
            raise MeasurementCsvError(f"--map: {target!r} is not a shard column; map any of {', '.join(TARGETS)}")
        out[target] = column
    return out


@dataclass(frozen=True)
class CsvImportConfig:
    """How input columns become shard columns (see the module docstring for the rules).

    Attributes:
        mapping: shard column -> input column.
        time_rule: ``"row-order"`` or an ISO datetime, used only when no time column exists.
        time_unit: unit of a numeric time column (``s``, ``ms``, ``us``, ``ns`` since the epoch).
        extra_columns: numeric input columns to carry; ``None`` = every numeric unmapped one.
        delimiter: CSV delimiter; ``None`` = by suffix (``.tsv``/``.tab``: tab, else comma).
        batch_rows: rows per parquet read batch.
    """

    mapping: dict[str, str] = field(default_factory=dict)
    time_rule: str = ROW_ORDER
    time_unit: str = "s"
    extra_columns: tuple[str, ...] | None = None
    delimiter: str | None = None
    batch_rows: int = 100_000

    def __post_init__(self) -> None:
        unknown = set(self.mapping) - set(TARGETS)
        if unknown:
            raise MeasurementCsvError(f"mapping: {sorted(unknown)} are not shard columns ({', '.join(TARGETS)})")
        if self.time_unit not in TIME_UNITS:
            raise MeasurementCsvError(f"time_unit must be one of {TIME_UNITS}, got {self.time_unit!r}")
        if self.time_rule != ROW_ORDER:
            constant_time(self.time_rule)
        if self.batch_rows <= 0:
            raise MeasurementCsvError(f"batch_rows must be positive, got {self.batch_rows}")


def constant_time(text: str) -> dt.datetime:
    """An ISO datetime (naive = UTC) as an aware UTC datetime.

    Raises:
        MeasurementCsvError: not ``row-order`` nor an ISO date or datetime.
    """
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise MeasurementCsvError(f"--time: {text!r} is neither {ROW_ORDER!r} nor an ISO datetime") from exc
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@dataclass
class CsvImportStats:
    """Counts of one file's import."""

    rows_read: int = 0
    measurements: int = 0
    no_destination: int = 0
    no_time: int = 0
    null_rtt: int = 0
    null_address: int = 0
    event_time_rule: str = ""
    extra_columns: list[str] = field(default_factory=list)


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def _delimiter(path: Path, config: CsvImportConfig) -> str:
    if config.delimiter:
        return config.delimiter
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    return _SUFFIX_DELIMITER.get(suffixes[-1] if suffixes else "", ",")


def _read_batches(path: Path, config: CsvImportConfig) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The file's schema and a stream of its record batches (bounded: one block or row group slice)."""
    if _is_parquet(path):
        pf = pq.ParquetFile(path, pre_buffer=False)

        def parquet() -> Iterator[pa.RecordBatch]:
            for group in range(pf.num_row_groups):
                yield from pf.iter_batches(batch_size=config.batch_rows, row_groups=[group])

        return pf.schema_arrow, parquet()
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(delimiter=_delimiter(path, config)),
        convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
    )
    return reader.schema, iter(reader)


def _plan(path: Path, schema: pa.Schema, config: CsvImportConfig) -> tuple[dict[str, str | None], list[str]]:
    """Input column per shard column (``event_time`` may be None) and the extra columns."""
    names = schema.names
    source: dict[str, str | None] = {}
    for target in TARGETS:
        col = config.mapping.get(target, target if target in names else None)
        if col is not None and col not in names:
            raise MeasurementCsvError(
                f"{path}: column {col!r} (mapped to {target}) is missing; columns are {names[:20]}"
            )
        if col is None and target != "event_time":
            raise MeasurementCsvError(
                f"{path}: no column for {target}; map one with --map {target}=<column> (columns are {names[:20]})"
            )
        source[target] = col
    if source["event_time"] is not None and config.time_rule != ROW_ORDER:
        raise MeasurementCsvError(
            f"{path}: --time {config.time_rule} is for tables without a time column, "
            f"but {source['event_time']!r} gives event_time"
        )
    used = {c for c in source.values() if c}
    numeric = [
        f.name
        for f in schema
        if f.name not in used
        and f.name not in TARGETS
        and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
    ]
    if config.extra_columns is None:
        return source, numeric
    for col in config.extra_columns:
        if col not in numeric:
            raise MeasurementCsvError(
                f"{path}: extra column {col!r} is missing, mapped, or not numeric (numeric unmapped columns: {numeric})"
            )
    return source, list(config.extra_columns)


def _out_schema(schema: pa.Schema, extras: Sequence[str]) -> pa.Schema:
    fields = [
        pa.field("src_addr", pa.string()),
        pa.field("dst_addr", pa.string()),
        pa.field("event_time", EVENT_TYPE),
        pa.field("rtt_ms", pa.float64()),
    ]
    for name in extras:
        typ = schema.field(name).type
        fields.append(pa.field(name, pa.int64() if pa.types.is_integer(typ) else pa.float64()))
    return pa.schema(fields)


def _cast(path: Path, arr: pa.Array, typ: pa.DataType, column: str, what: str) -> pa.Array:
    try:
        return arr.cast(typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        bad = _first_bad(arr, typ)
        raise MeasurementCsvError(f"{path}: column {column!r} ({what}): value {bad!r} is not {typ} ({exc})") from exc


def _first_bad(arr: pa.Array, typ: pa.DataType) -> object:
    for value in arr.to_pylist():
        try:
            pa.array([value]).cast(typ)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return value
    return None


def _event_time(path: Path, arr: pa.Array, column: str, unit: str) -> pa.Array:
    typ = arr.type
    if pa.types.is_timestamp(typ):
        out = arr if typ.tz is not None else pc.assume_timezone(arr, "UTC")
        return out.cast(EVENT_TYPE)
    if pa.types.is_date(typ):
        return arr.cast(pa.timestamp("us")).cast(EVENT_TYPE)
    if pa.types.is_integer(typ) or pa.types.is_floating(typ):
        scale = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0.001}[unit]
        micros = pc.multiply(arr.cast(pa.float64()), scale)
        return pc.round(micros).cast(pa.int64()).cast(EVENT_TYPE)
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        try:  # naive ISO text (read as UTC), else text with a zone offset
            return _event_time(path, arr.cast(pa.timestamp("us")), column, unit)
        except pa.ArrowInvalid:
            return _cast(path, arr, EVENT_TYPE, column, "event_time, ISO 8601")
    raise MeasurementCsvError(
        f"{path}: column {column!r} (event_time) is {typ}: not a timestamp, "
        "ISO text or a number of --time-unit since the epoch"
    )


def _convert(
    path: Path,
    batch: pa.RecordBatch,
    source: dict[str, str | None],
    extras: Sequence[str],
    out_schema: pa.Schema,
    config: CsvImportConfig,
    first_row: int,
    stats: CsvImportStats,
) -> pa.Table:
    n = batch.num_rows
    cols: dict[str, pa.Array] = {}
    for target in ("src_addr", "dst_addr"):
        cols[target] = _cast(path, batch.column(source[target]), pa.string(), source[target], target)
    cols["rtt_ms"] = _cast(path, batch.column(source["rtt_ms"]), pa.float64(), source["rtt_ms"], "rtt_ms")
    if source["event_time"] is not None:
        cols["event_time"] = _event_time(
            path, batch.column(source["event_time"]), source["event_time"], config.time_unit
        )
    elif config.time_rule == ROW_ORDER:
        seconds = np.arange(first_row, first_row + n, dtype=np.int64)
        cols["event_time"] = pa.array(seconds * 1_000_000, pa.int64()).cast(EVENT_TYPE)
    else:
        stamp = constant_time(config.time_rule)
        cols["event_time"] = pa.array([stamp] * n, EVENT_TYPE)
    for name in extras:
        cols[name] = batch.column(name).cast(out_schema.field(name).type)
    table = pa.table({f.name: cols[f.name] for f in out_schema}, schema=out_schema)
    has_dst = pc.is_valid(table.column("dst_addr"))
    has_time = pc.is_valid(table.column("event_time"))
    stats.no_destination += n - pc.sum(has_dst).as_py() if n else 0
    stats.no_time += pc.sum(pc.and_(has_dst, pc.invert(has_time))).as_py() if n else 0
    table = table.filter(pc.and_(has_dst, has_time))
    stats.null_rtt += table.column("rtt_ms").null_count
    stats.null_address += table.column("src_addr").null_count
    return table


def import_table(
    path: Path, shard: Path, config: CsvImportConfig = CsvImportConfig(), first_row: int = 0
) -> CsvImportStats:
    """Convert one CSV/TSV/parquet file into one measurement shard at ``shard`` (written atomically).

    ``first_row`` is the position of the file's first data row under the ``row-order`` time rule.

    Raises:
        MeasurementCsvError: a mapped column missing, a value that cannot be cast (file, column
            and value named), or an unreadable file.
        FileNotFoundError: ``path`` does not exist.
    """
    if not path.is_file():
        raise FileNotFoundError(f"no input file {path}")
    stats = CsvImportStats()
    try:
        schema, batches = _read_batches(path, config)
        source, extras = _plan(path, schema, config)
        out_schema = _out_schema(schema, extras)
        stats.event_time_rule = f"column {source['event_time']}" if source["event_time"] else config.time_rule
        stats.extra_columns = list(extras)
        with atomic_path(shard) as tmp, pq.ParquetWriter(tmp, out_schema) as writer:
            for batch in batches:
                table = _convert(path, batch, source, extras, out_schema, config, first_row + stats.rows_read, stats)
                stats.rows_read += batch.num_rows
                writer.write_table(table)
                stats.measurements += table.num_rows
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise MeasurementCsvError(
            f"{path}: cannot read as {'parquet' if _is_parquet(path) else 'CSV/TSV'} ({exc})"
        ) from exc
    return stats


def import_tables(
    paths: Iterable[Path], out_dir: Path, config: CsvImportConfig = CsvImportConfig()
) -> dict[Path, CsvImportStats]:
    """Convert each file into ``out_dir/<file stem>.parquet``; rows are numbered across the files
    in the order given (the ``row-order`` time rule). Returns the stats per shard."""
    out: dict[Path, CsvImportStats] = {}
    row = 0
    for path in paths:
        shard = out_dir / f"{path.name.split('.')[0]}.parquet"
        if shard in out:
            raise MeasurementCsvError(f"{path}: two inputs would write the same shard {shard.name}")
        out[shard] = import_table(path, shard, config, first_row=row)
        row += out[shard].rows_read
    return out
