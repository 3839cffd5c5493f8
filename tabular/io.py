"""Reading raw tabular files in record batches, writing numbered shards.

Plain logic (no dagster). Every reader yields :class:`pyarrow.RecordBatch` objects of bounded
size, so a file of any length is never held whole in memory.

Formats: CSV (``.csv``), TSV (``.tsv``/``.tab``) and Parquet (``.parquet``/``.pq``), chosen by the
file name's suffix (a trailing ``.gz`` is decompressed on the fly for CSV/TSV).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = ("parquet", "csv", "tsv")
_SUFFIX_FORMAT = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv"}
# Bytes of CSV text per parsed block; type inference of a CSV file looks at its first block.
CSV_BLOCK_BYTES = 4 << 20
SCHEMA_FILE = "_schema.arrow"
# A Parquet column is dictionary-encoded when its first rows hold at most this many distinct
# values per row (see :func:`dictionary_columns`).
DICTIONARY_MAX_SHARE = 0.1
# Column chunks (row groups x columns) in one Parquet shard: past it the shard is closed and the
# next one started. A ``ParquetWriter`` keeps every row group's footer metadata (statistics,
# sizes, offsets: about 0.75 KB per column chunk, measured 0.63 MB per 831-column row group) in
# memory until its file closes, so without a bound a shard that receives many small row groups
# grows the process with the rows (issue 15: 1,531 MB at 3M x 831 rows against 1,163 MB at 1M).
# 50,000 chunks is at most about 40 MB per open shard: 60 row groups of 831 columns, 250 of 200.
MAX_COLUMN_CHUNKS = 50_000
# Bytes a Parquet column reader reads at a time. Without a buffer each column's reader loads its
# whole column chunk when the row group starts and keeps it to the row group's end: 97 MB for the
# seeds' 50k-row x 831-column row groups, beside the decoded batch (issue 15).
PARQUET_READ_BUFFER = 1 << 16
# pyarrow's default (and largest) row group of ``ParquetWriter.write_table``.
PARQUET_ROW_GROUP_ROWS = 1024 * 1024
# A Parquet row group of up to this many batches is decoded whole and cut into equal batches; a
# larger one is streamed (``iter_batches``), which holds every column's reader state to the row
# group's end (341 MB beside a 140 MB batch of 24,895 rows at 50k rows x 831 columns, where the
# whole row group decoded is 281 MB) and leaves a small tail batch (105 or 210 rows) to be
# processed alone.
WHOLE_ROW_GROUP_BATCHES = 2


class TabularInputError(ValueError):
    """A raw file that cannot be read or does not fit the data set. The message names the file."""


def file_format(path: Path) -> str | None:
    """``"parquet"``, ``"csv"`` or ``"tsv"`` from the file name, or ``None`` if not a tabular file."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return _SUFFIX_FORMAT.get(suffixes[-1]) if suffixes else None


def list_input_files(folder: Path) -> list[Path]:
    """Tabular files directly in ``folder``, sorted by name (the order rows are read and numbered).

    Raises:
        TabularInputError: the folder does not exist or holds no CSV/TSV/Parquet file.
    """
    if not folder.is_dir():
        raise TabularInputError(f"input folder {folder} does not exist")
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "_")) and file_format(p) is not None
    )
    if not files:
        raise TabularInputError(f"input folder {folder} holds no .csv/.tsv/.parquet file")
    return files


def _csv_options(fmt: str, column_types: dict[str, pa.DataType] | None, batch_rows: int | None):
    read = pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES, use_threads=True)
    parse = pacsv.ParseOptions(delimiter="\t" if fmt == "tsv" else ",")
    # Strings stay strings (no dictionary), empty/NA cells are null: the same rule pandas applies.
    convert = pacsv.ConvertOptions(column_types=column_types or {}, strings_can_be_null=True)
    return read, parse, convert


def read_file_schema(path: Path) -> pa.Schema:
    """The schema of one file: Parquet footer, or CSV/TSV types inferred from its first block.

    Raises:
        TabularInputError: the file cannot be opened or parsed (message names the file).
    """
    fmt = file_format(path)
    try:
        if fmt == "parquet":
            return pq.read_schema(path)
        read, parse, convert = _csv_options(fmt, None, None)
        with pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert) as r:
            return r.schema
    except (pa.ArrowException, OSError) as exc:
        raise TabularInputError(f"{path}: unreadable {fmt} file ({exc})") from exc


def iter_file_batches(
    path: Path,
    batch_rows: int,
    column_types: dict[str, pa.DataType] | None = None,
    columns: Sequence[str] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Yield record batches of ``path``: at most ``batch_rows`` rows each for Parquet; one parsed
    block (about 4 MB of text) each for CSV/TSV.

    ``column_types`` forces CSV column types (used to apply the data set's unified schema);
    ``columns`` restricts the columns read.

    Raises:
        TabularInputError: a read or conversion error, naming the file.
    """
    fmt = file_format(path)
    try:
        if fmt == "parquet":
            # One row group at a time, without pre-buffering: ``iter_batches`` over a whole file
            # pre-buffers column chunks of later row groups (measured: 764 MB instead of 259 MB
            # for eleven 41k-row x 400-column row groups).
            pf = pq.ParquetFile(path, pre_buffer=False, buffer_size=PARQUET_READ_BUFFER)
            cols = list(columns) if columns else None
            for group in range(pf.num_row_groups):
                rows = pf.metadata.row_group(group).num_rows
                if rows > WHOLE_ROW_GROUP_BATCHES * batch_rows:
                    yield from pf.iter_batches(batch_size=batch_rows, row_groups=[group], columns=cols)
                    continue
                table = pf.read_row_group(group, columns=cols)
                # Equal batches, no tail: as many as batch_rows needs, the rows shared out evenly.
                pieces = max(1, -(-rows // batch_rows))
                size = max(1, -(-rows // pieces))
                for start in range(0, rows, size):
                    yield from table.slice(start, size).to_batches()
                table = None  # not held while the next row group is decoded
            return
        read, parse, convert = _csv_options(fmt, column_types, batch_rows)
        if columns:
            convert.include_columns = list(columns)
        with pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert) as r:
            for batch in r:
                # Re-slice CSV blocks so every batch respects the row bound.
                for start in range(0, batch.num_rows, batch_rows):
                    yield batch.slice(start, batch_rows)
    except (pa.ArrowException, OSError) as exc:
        raise TabularInputError(
            f"{path}: cannot read as {fmt} ({exc}); if a CSV column's type was inferred too narrowly "
            "from the start of the file, set it with --column-types name=type (column_types)"
        ) from exc


def write_schema(folder: Path, schema: pa.Schema) -> Path:
    """Store the exact Arrow schema beside CSV/TSV shards so they can be read back typed."""
    path = folder / SCHEMA_FILE
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema):
        pass
    return path


def read_schema(folder: Path) -> pa.Schema | None:
    path = folder / SCHEMA_FILE
    if not path.exists():
        return None
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).schema


def list_shards(folder: Path) -> list[Path]:
    """Shards of a folder, in order: ``part-NNNNN.<fmt>`` as written by :class:`ShardWriter`, or,
    when there is none, every CSV/TSV/Parquet file of the folder (e.g. generated raw files).

    Raises:
        TabularInputError: the folder is missing or holds no shard.
    """
    if not folder.is_dir():
        raise TabularInputError(f"shard folder {folder} does not exist (run the loading step first)")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "_")) and file_format(p))
    shards = [p for p in files if p.name.startswith("part-")] or files
    if not shards:
        raise TabularInputError(f"shard folder {folder} holds no part-*.parquet/csv/tsv shard")
    return shards


def iter_shard_batches(folder: Path, batch_rows: int, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
    """Record batches of every shard of ``folder`` in shard order, typed by the stored schema."""
    schema = read_schema(folder)
    types = {f.name: f.type for f in schema} if schema is not None else None
    for shard in list_shards(folder):
        yield from iter_file_batches(shard, batch_rows, column_types=types, columns=columns)


def coalesce_batches(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch | pa.Table]:
    """Consecutive batches joined (without copying) into tables of up to ``rows`` rows (a larger
    batch passes alone).

    Shards written with small row groups (the generator's 18,750 rows at 750k x 200) would
    otherwise make every later step (the split's ``take``, one output row group per write) work
    in small pieces; the fixed cost per piece dominated (docs/tabular.md). Memory stays within
    ``rows``. Held rows that another batch as large as the last would overflow are passed on
    before the next batch is read: holding them would keep the row group they were sliced from
    alive while the next one is decoded (issue 15: 90 MB at 3M x 831).
    """
    held: list[pa.RecordBatch] = []
    have = 0
    for batch in batches:
        if have + batch.num_rows > rows and held:
            yield held[0] if len(held) == 1 else pa.Table.from_batches(held)
            held, have = [], 0
        held.append(batch)
        have += batch.num_rows
        last, batch = batch.num_rows, None
        if have + last > rows:
            out, held, have = held, [], 0
            yield out[0] if len(out) == 1 else pa.Table.from_batches(out)
            out = None
    if held:
        yield held[0] if len(held) == 1 else pa.Table.from_batches(held)


def shard_schema(folder: Path) -> pa.Schema:
    """Schema of a shard folder: the stored ``_schema.arrow`` or the first Parquet shard's footer."""
    schema = read_schema(folder)
    return schema if schema is not None else read_file_schema(list_shards(folder)[0])


class ShardWriter:
    """Writes record batches to ``part-00000.<fmt>``, ``part-00001.<fmt>``, ... in ``folder``.

    A new shard starts after ``rows_per_shard`` rows, and a Parquet shard also after
    ``MAX_COLUMN_CHUNKS // columns`` row groups (its footer metadata stays in memory until it
    closes); numbering is continuous across every call to :meth:`write`. Parquet shards are
    streamed (one row group per written batch), so memory is one batch, not one shard.

    ``min_row_group_rows`` joins small writes: a write of fewer rows is copied (compacted, so it
    no longer holds the batch it was sliced from) and held until the held rows reach that many,
    then the held rows and the write that completes them go out as one row group. A split's
    smaller parts (a tenth of each batch) would otherwise each be a row group. Memory: at most
    ``min_row_group_rows`` held rows per writer. Row order is kept; :meth:`close` writes the rest.
    Meant to write inside a staging folder (see :func:`memsafe.atomic.atomic_dir`).
    """

    def __init__(
        self,
        folder: Path,
        schema: pa.Schema,
        fmt: str = "parquet",
        rows_per_shard: int = 1_000_000,
        compression: str = "snappy",
        min_row_group_rows: int = 0,
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"output_format must be one of {FORMATS}, got {fmt!r}")
        if rows_per_shard <= 0:
            raise ValueError(f"rows_per_shard must be positive, got {rows_per_shard}")
        self.folder, self.schema, self.fmt = folder, schema, fmt
        self.rows_per_shard, self.compression = rows_per_shard, compression
        self.min_row_group_rows = min_row_group_rows if fmt == "parquet" else 0
        self.max_row_groups = max(1, MAX_COLUMN_CHUNKS // max(1, len(schema)))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shards: list[Path] = []
        self.rows = 0
        self._writer = None
        self._in_shard = 0
        self._groups_in_shard = 0
        self._held: list[pa.RecordBatch] = []  # small writes waiting for a row group (compact copies)
        self._held_rows = 0
        self._dictionary: list[str] | None = None  # decided on the first rows written

    def _open(self, first: pa.RecordBatch | pa.Table) -> None:
        path = self.folder / f"part-{len(self.shards):05d}.{self.fmt}"
        self.shards.append(path)
        if self.fmt == "parquet":
            if self._dictionary is None:
                self._dictionary = dictionary_columns(first)
            self._writer = pq.ParquetWriter(
                path, self.schema, compression=self.compression, use_dictionary=self._dictionary
            )
        else:
            opts = pacsv.WriteOptions(delimiter="\t" if self.fmt == "tsv" else ",")
            self._writer = pacsv.CSVWriter(str(path), self.schema, write_options=opts)
        self._in_shard = 0
        self._groups_in_shard = 0

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        if not self.min_row_group_rows or batch.num_rows == 0:
            self._write(batch)
            return
        if self._held_rows + batch.num_rows < self.min_row_group_rows:
            # A copy: the slice would keep the whole batch it came from alive.
            self._held.append(pa.concat_batches(_batches(batch)))
            self._held_rows += batch.num_rows
            return
        if self._held:
            batch = pa.Table.from_batches([*self._held, *_batches(batch)])
            self._held, self._held_rows = [], 0
        self._write(batch)

    def _write(self, batch: pa.RecordBatch | pa.Table) -> None:
        offset = 0
        while offset < batch.num_rows:
            if self._writer is None:
                self._open(batch)
            take = min(batch.num_rows - offset, self.rows_per_shard - self._in_shard)
            part = batch.slice(offset, take)
            if isinstance(part, pa.Table):
                self._writer.write_table(part)
            else:
                self._writer.write_batch(part)
            offset += take
            self._in_shard += take
            # pyarrow writes one row group per call, of at most its default row group size.
            self._groups_in_shard += -(-take // PARQUET_ROW_GROUP_ROWS)
            self.rows += take
            if self._in_shard >= self.rows_per_shard or (
                self.fmt == "parquet" and self._groups_in_shard >= self.max_row_groups
            ):
                self._close_current()

    def _close_current(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def close(self) -> list[Path]:
        """Write the held rows, finish the last shard; write ``_schema.arrow`` for CSV/TSV; return
        the shard paths."""
        if self._held:
            held, self._held, self._held_rows = self._held, [], 0
            self._write(pa.Table.from_batches(held))
        self._close_current()
        if self.fmt != "parquet":
            write_schema(self.folder, self.schema)
        return self.shards


def _batches(data: pa.RecordBatch | pa.Table) -> list[pa.RecordBatch]:
    return [data] if isinstance(data, pa.RecordBatch) else data.to_batches()


def dictionary_columns(sample: pa.RecordBatch | pa.Table) -> list[str]:
    """Columns worth Parquet dictionary encoding, judged on ``sample`` (the first rows written).

    A column gets a dictionary when it has at most ``DICTIONARY_MAX_SHARE`` distinct values per
    row in the sample (categories, small integers); not when nearly every value differs (measured
    floats, ids, timestamps) nor for booleans. The writer would otherwise build a dictionary for
    every column and abandon it at the page limit: on 200 wide columns (40 of them random floats)
    that was 65 % of the encoding time and gave larger files (measured in docs/tabular.md).
    """
    rows = max(1, sample.num_rows)
    out = []
    for name, col in zip(sample.schema.names, sample.columns, strict=True):
        if pa.types.is_boolean(col.type) or pa.types.is_nested(col.type):
            continue
        if pc.count_distinct(col).as_py() <= DICTIONARY_MAX_SHARE * rows:
            out.append(name)
    return out


class PendingWrites:
    """Runs one batch's writes (one per shard writer) in threads while the caller prepares the next.

    At most one batch is in flight (memory grows by one batch), and each writer is used by one
    thread at a time, so shards keep their row order. ``threads <= 1`` writes inline.
    """

    def __init__(self, threads: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 else None
        self._futures: list = []

    def _wait(self) -> None:
        futures, self._futures = self._futures, []
        for f in futures:
            f.result()

    def submit(self, parts: list[tuple[ShardWriter, pa.RecordBatch | pa.Table]]) -> None:
        self._wait()
        if self._pool is None:
            for writer, part in parts:
                writer.write(part)
        else:
            self._futures = [self._pool.submit(writer.write, part) for writer, part in parts]

    def close(self) -> None:
        self._wait()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def abort(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def write_json(path: Path, doc: object) -> None:
    path.write_text(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")
