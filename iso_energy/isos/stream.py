"""The conversion engine: parse with polars, normalise with the operator's SQL, dedup per day.

One operating year of one dataset is converted in two passes, neither holding the year::

    pass 1, per raw file (``Budget.engine_threads`` files at a time, one DuckDB thread each), in
    blocks of 4 MB of whole lines:
        polars CSV reader (declared numbers and booleans parsed, TIMESTAMP/DATE by strptime,
        only the columns the SQL names) -> DuckDB: casts of the remaining text columns, then the
        operator's own normalising SQL (the same text as the whole-year query it replaced)
        -> rows of the year, cut by UTC day of ``interval_start_utc`` -> one Arrow stream
        spill file per (raw file, day)
    pass 2, per month (``Budget.engine_threads`` months at once), per run of consecutive days
    (at most :func:`group_rows` rows, or one whole day):
        a run of days each held by one file, already in key order, is taken as it is; any other
        day is sorted (time, key, ``_version`` desc, file desc; polars) and the first row of each
        key kept -> appended as row groups to the month's parquet file
        (:mod:`iso_energy.isos.partition`: which months a re-conversion rewrites)

Rows can only collide with rows of the same key, and the key holds ``interval_start_utc``, so
two rows that collide always fall on the same UTC day: deduplicating per group of days gives
the same rows as deduplicating the whole year. Memory is bounded by the parse blocks and by one
group of days, not by the year (by construction; DuckDB is still capped by the budget).

A raw file the fast path cannot read is re-read alone by DuckDB's strict CSV reader through the
same SQL (:meth:`IsoConverter._stream_file`): it converts the file or names the line at fault.
"""

from __future__ import annotations

import itertools
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from iso_energy.isos.partition import MonthResult, month_file, month_of_day, months_of_days
from memsafe.progress import Progress

# Rows per pass-2 group of days at most (about 50 MB of Arrow for LMP rows), shared by the months
# in flight; fewer under a small budget (see group_rows). One day is never split. Groups are cut
# within a month, so a small input's groups are its months: the cap must be reached by them for
# the peak to stay flat as the input grows (600k gave 420 MB at 237 MB of CSV and 494-528 MB at
# 948 MB, two months in flight; 300k gives 412 and 420 MB, no slower).
GROUP_ROWS = 300_000
# A group's rows are held about this many times over (read, sorted copy, parquet encoding).
GROUP_COPIES = 6
# Bytes of whole lines parsed at once by polars in pass 1 (the unit of memory there).
BLOCK_BYTES = 4 << 20
SECONDS_PER_DAY = 86_400
# Bytes of a raw file read as one part in pass 1 at most (a file is cut into byte ranges of
# whole lines; the manifest records each range's months, so an incremental run re-reads only the
# ranges holding a month it rewrites: 16 MB of a monthly export, not all of it, for its overlap day).
PART_BYTES = 16 << 20
# Share of the engine's memory the day pieces may take while held in memory (a year that fits is
# never written to disk and read back; past it the whole spill turns to files): 298 MB of a
# 2,048 MB budget, the normalised rows of about 2.5M LMP rows.
HELD_SHARE = 1 / 6
# Rows per batch fetched from DuckDB in pass 1.
BLOCK_ROWS = 65_536


@dataclass
class FileCounts:
    """What pass 1 saw in one raw file (for the file index): all data rows, and current rows
    per operating year."""

    rows: int = 0
    years: dict[str, int] = field(default_factory=dict)

    def add(self, other: FileCounts) -> None:
        """Count ``other`` (another part of the same file) in."""
        self.rows += other.rows
        for y, n in other.years.items():
            self.years[y] = self.years.get(y, 0) + n


@dataclass
class DedupCounts:
    """Rows dropped as duplicates, by kind.

    ``exact_duplicates``: same key and same values as the kept row (overlapping exports).
    ``conflicting_revisions``: same key and same ``_version`` as the kept row but different
    values (the operator published two different prices for one interval under one version;
    the kept one is the last file in name order). Other dropped rows are superseded revisions
    (a lower ``_version``).
    """

    dropped: int = 0
    exact_duplicates: int = 0
    conflicting_revisions: int = 0
    conflict_example: str | None = None


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def cast_sql(
    name: str, duck_type: str, timestampformat: str | None, dateformat: str | None, typed: bool = False
) -> str:
    """DuckDB expression typing text column ``name`` as the CSV reader would (``columns``);
    the column itself when it is ``typed`` already."""
    col = '"' + name.replace('"', '""') + '"'
    t = duck_type.upper()
    if t == "VARCHAR" or typed:
        return col
    if t == "TIMESTAMP" and timestampformat:
        return f"strptime({col}, {_sql_str(timestampformat)}) AS {col}"
    if t == "DATE" and dateformat:
        return f"CAST(strptime({col}, {_sql_str(dateformat)}) AS DATE) AS {col}"
    return f"CAST({col} AS {duck_type}) AS {col}"


class DaySpill:
    """Rows of one year cut by UTC day: one piece per (raw file, part, day), written through a
    :class:`FileSpill` per raw file (or part), so a raw file that fails half-way is dropped
    whole before it is re-read by the reference path. Pieces may be spilled from several threads
    at once.

    While the pieces together stay within ``memory_bytes`` they are held in memory (Arrow
    batches): a year that fits a share of the budget is never written to disk and read back.
    Raw bytes announced as coming (:meth:`expect`) that would not fit, or the first piece that
    would pass it, turn the whole spill to Arrow stream files under ``folder`` (what is held is
    written out then).
    """

    def __init__(self, folder: Path, year: int, memory_bytes: int = 0) -> None:
        self.folder = folder
        self.year = year
        self.rows: dict[int, int] = {}  # day -> rows of finished files
        # day -> (file index, part, spill file or held batches)
        self.parts: dict[int, list[tuple[int, int, Path | list[pa.RecordBatch]]]] = {}
        self.file_months: dict[int, dict[int, int]] = {}  # file index -> month -> rows
        self.bytes = 0
        self.schema: pa.Schema | None = None
        # Months (1..12, see partition.months_of_days) whose rows are kept; None: every month.
        self.keep: set[int] | None = None
        self.memory_bytes = memory_bytes
        self.held_bytes = 0  # reserved by pieces held in memory
        self.on_disk = memory_bytes <= 0
        self._lock = threading.Lock()

    def expect(self, nbytes: int) -> None:
        """About ``nbytes`` more are coming (the raw bytes about to be read: a normalised row
        takes about as many bytes as its CSV line): the spill turns to files now, before
        holding anything more, when they would not fit. A year decided too big from the start
        then holds nothing; the estimate being low is caught by :meth:`_hold`."""
        with self._lock:
            if not self.on_disk and self.held_bytes + nbytes > self.memory_bytes:
                self._turn_to_files()

    def _hold(self, nbytes: int) -> bool:
        """Reserve ``nbytes`` for a batch held in memory; False (and the spill turns to files)
        when that would pass :attr:`memory_bytes`."""
        with self._lock:
            if self.on_disk:
                return False
            if self.held_bytes + nbytes <= self.memory_bytes:
                self.held_bytes += nbytes
                return True
            self._turn_to_files()
            return False

    def _turn_to_files(self) -> None:
        """(Under the lock.) From now on pieces go to files."""
        self.on_disk = True
        # Committed pieces held in memory go to files now; pieces in flight write theirs at
        # their next batch or when they finish.
        for day, entries in self.parts.items():
            for i, (index, part, payload) in enumerate(entries):
                if isinstance(payload, list):
                    entries[i] = (index, part, self.write_file(index, part, day, payload))
        self.held_bytes = 0

    def release(self, nbytes: int) -> None:
        """Give back a reservation (a piece dropped, or written to a file)."""
        with self._lock:
            self.held_bytes = max(0, self.held_bytes - nbytes)

    def path(self, index: int, part: int, day: int) -> Path:
        """The stream file of one piece."""
        return self.folder / f"{index:06d}_{part:03d}_{day}.arrow"

    def write_file(self, index: int, part: int, day: int, batches: list[pa.RecordBatch]) -> Path:
        """Write held ``batches`` of one piece to its stream file."""
        path = self.path(index, part, day)
        with pa.OSFile(str(path), "wb") as sink, ipc.new_stream(sink, self.schema) as writer:
            for b in batches:
                writer.write_batch(b)
        return path

    def file(self, index: int, rank: int, part: int = 0) -> FileSpill:
        """A spill for raw file number ``index``, whose place in name order is ``rank`` (kept
        as column ``_rank``: the dedup tie-break among equal versions); ``part``: which byte
        range of the file (:func:`line_spans`) when it is read in several."""
        return FileSpill(self, index, rank, part)

    def _schema_of(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        with self._lock:
            if self.schema is None:
                self.schema = batch.schema
        return batch if batch.schema == self.schema else batch.cast(self.schema)

    def _commit(
        self, rows: dict[int, int], pieces: dict[int, Path | list[pa.RecordBatch]], index: int, part: int
    ) -> None:
        with self._lock:
            for day, payload in pieces.items():
                if isinstance(payload, list) and self.on_disk:  # turned to files meanwhile
                    payload = self.write_file(index, part, day, payload)
                self.parts.setdefault(day, []).append((index, part, payload))
            months = self.file_months.setdefault(index, {})
            for day, n in rows.items():
                self.rows[day] = self.rows.get(day, 0) + n
                m = month_of_day(day, self.year)
                months[m] = months.get(m, 0) + n

    def months(self) -> set[int]:
        """The months some finished file spilled rows for."""
        return {month_of_day(d, self.year) for d in self.rows}

    def close(self) -> None:
        self.bytes = sum(
            p.stat().st_size if isinstance(p, Path) else sum(b.nbytes for b in p)
            for ps in self.parts.values()
            for _, _, p in ps
        )

    def one_file(self, day: int) -> bool:
        """Whether one raw file holds all of ``day``'s rows (in one or several parts)."""
        return len({index for index, _, _ in self.parts[day]}) == 1

    def groups(self, max_rows: int, month: int | None = None) -> Iterator[list[int]]:
        """Runs of consecutive spilled days (in order) of at most ``max_rows`` rows (or one day),
        of ``month`` only when given."""
        group: list[int] = []
        n = 0
        days = sorted(d for d in self.rows if month is None or month_of_day(d, self.year) == month)
        for day in days:
            if group and n + self.rows[day] > max_rows:
                yield group
                group, n = [], 0
            group.append(day)
            n += self.rows[day]
        if group:
            yield group

    def read(self, days: list[int], consume: bool = False) -> pa.Table:
        """The rows of ``days``, in raw-file order within a day. ``consume``: the days' files
        are removed once mapped (the table keeps the mapping), so the removal is spread over
        pass 2's threads instead of one folder removal at the end."""
        batches = []
        for day in days:
            entries = sorted(self.parts[day], key=lambda e: e[:2])  # file order, then part order
            for _, _, payload in entries:
                if isinstance(payload, Path):
                    batches.extend(ipc.open_stream(pa.memory_map(str(payload))).read_all().to_batches())
                    if consume:
                        payload.unlink()
                else:
                    batches.extend(payload)
            if consume:  # held batches are let go once the table is built
                self.parts[day] = [e for e in entries if isinstance(e[2], Path)]
        return pa.Table.from_batches(batches, schema=self.schema)


class FileSpill:
    """The spill files of one raw file (or of one part of it): :meth:`add` batches, then
    :meth:`end` (they count) or :meth:`abort` (they are removed). A part of a file read in
    several calls :meth:`finish` (its files closed) and, once every part has succeeded,
    :meth:`commit`."""

    def __init__(self, spill: DaySpill, index: int, rank: int, part: int = 0) -> None:
        self.spill, self.index, self.rank, self.part = spill, index, rank, part
        self._writers: dict[int, tuple[pa.NativeFile, ipc.RecordBatchStreamWriter, Path]] = {}
        self._rows: dict[int, int] = {}
        self._paths: dict[int, Path] = {}  # finished, not yet committed
        self._held: dict[int, list[pa.RecordBatch]] = {}  # day -> batches held in memory
        self._held_bytes = 0

    def add(self, batch: pa.RecordBatch, days: np.ndarray) -> None:
        """Append ``batch`` (whose rows fall on UTC ``days``, one int per row) to its days."""
        if len(days) == 0:
            return
        if self.spill.keep is not None:  # an incremental pass: only the affected months' rows
            mask = np.isin(months_of_days(days, self.spill.year), list(self.spill.keep))
            if not mask.all():
                batch, days = batch.filter(pa.array(mask)), days[mask]
                if len(days) == 0:
                    return
        batch = batch.append_column("_rank", pa.array(np.full(batch.num_rows, self.rank, dtype=np.int32)))
        batch = self.spill._schema_of(batch)
        steps = np.diff(days)
        if not steps.any():
            self._write(int(days[0]), batch)
            return
        if (steps >= 0).all():  # rows already in day order (the usual export): slices, no copy
            ordered, sorted_days = batch, days
        else:
            order = np.argsort(days, kind="stable")
            ordered, sorted_days = batch.take(pa.array(order)), days[order]
        cuts = np.flatnonzero(np.diff(sorted_days)) + 1
        starts = np.concatenate(([0], cuts))
        ends = np.concatenate((cuts, [len(days)]))
        for s, e in zip(starts, ends, strict=True):
            self._write(int(sorted_days[s]), ordered.slice(s, e - s))

    def _write(self, day: int, batch: pa.RecordBatch) -> None:
        self._rows[day] = self._rows.get(day, 0) + batch.num_rows
        if not self._writers and self.spill._hold(batch.nbytes):
            self._held.setdefault(day, []).append(batch)
            self._held_bytes += batch.nbytes
            return
        self._to_files()
        self._writer(day).write_batch(batch)

    def _writer(self, day: int) -> ipc.RecordBatchStreamWriter:
        w = self._writers.get(day)
        if w is None:
            path = self.spill.path(self.index, self.part, day)
            sink = pa.OSFile(str(path), "wb")
            w = (sink, ipc.new_stream(sink, self.spill.schema), path)
            self._writers[day] = w
        return w[1]

    def _to_files(self) -> None:
        """The spill turned to files: what this piece holds goes first (its order kept)."""
        for day, batches in self._held.items():
            for b in batches:
                self._writer(day).write_batch(b)
        self._held.clear()
        self.spill.release(self._held_bytes)
        self._held_bytes = 0

    def _close(self) -> dict[int, Path]:
        paths = {}
        for day, (sink, writer, path) in self._writers.items():
            writer.close()
            sink.close()
            paths[day] = path
        self._writers.clear()
        return paths

    def months(self) -> set[int]:
        """Months (1..12) of the rows spilled so far."""
        return {month_of_day(d, self.spill.year) for d in self._rows}

    def finish(self) -> None:
        """Close the files written so far (no more :meth:`add`); they count after :meth:`commit`."""
        if self._held and self.spill.on_disk:
            self._to_files()
        self._paths.update(self._close())

    def commit(self) -> None:
        """The rows spilled count (pass 2 reads them)."""
        self.finish()
        pieces: dict[int, Path | list[pa.RecordBatch]] = {**self._held, **self._paths}
        self.spill._commit(self._rows, pieces, self.index, self.part)
        self._rows, self._paths, self._held, self._held_bytes = {}, {}, {}, 0

    def end(self) -> None:
        """The raw file is complete: its rows count."""
        self.commit()

    def abort(self) -> None:
        """Forget what the raw file spilled so far."""
        self._paths.update(self._close())
        for path in self._paths.values():
            path.unlink(missing_ok=True)
        self.spill.release(self._held_bytes)
        self._rows, self._paths, self._held, self._held_bytes = {}, {}, {}, 0


# Declared DuckDB types polars' CSV parser reads natively, with the same meaning.
POLARS_TYPES = {"DOUBLE": pl.Float64, "INTEGER": pl.Int32, "BIGINT": pl.Int64, "BOOLEAN": pl.Boolean}


def columns_used(header: tuple[str, ...], fmt) -> set[str]:
    """The header columns the format's SQL can read: those named in ``select_sql``,
    ``where_sql``, ``group_by_sql`` or ``from_sql`` (as a whole word, quoted or not). Every
    column when the SQL selects by pattern or star (``COLUMNS(``, ``*``): the others are not
    parsed at all."""
    sql = " ".join(x for x in (fmt.select_sql, fmt.where_sql, fmt.group_by_sql, fmt.from_sql) if x)
    if "COLUMNS(" in sql.upper() or "*" in sql:
        return set(header)
    return {c for c in header if re.search(r"(?<![\w])" + re.escape(c) + r"(?![\w])", sql)}


def polars_batches(
    path: Path,
    header: tuple[str, ...],
    skip: int,
    columns: dict[str, str],
    timestampformat: str | None,
    dateformat: str | None,
    counts: FileCounts,
    needed: set[str] | None = None,
    span: tuple[int, int] | None = None,
) -> tuple[pa.RecordBatchReader, set[str]]:
    """Stream ``path``'s data lines as record batches, parsed by polars (the fast path); only
    the whole lines in bytes ``span`` = (start, end) when given (:func:`line_spans`).

    Columns declared DOUBLE/INTEGER/BIGINT/BOOLEAN are parsed by polars' CSV reader; TIMESTAMP
    and DATE with the format's ``timestampformat``/``dateformat`` by polars' strptime (strict);
    every other column stays text for DuckDB to cast (:func:`cast_sql`); only ``needed`` columns
    are read (default all). Rows are counted into ``counts.rows``.

    Returns the reader and the set of columns already typed. Raises a polars error on a line
    it cannot parse (the caller then reads the file with DuckDB's strict reader instead).
    """
    schema = {c: POLARS_TYPES.get(columns.get(c, "VARCHAR").upper(), pl.String) for c in header}
    typed = {c for c, t in schema.items() if t != pl.String}
    exprs = []
    for c in header:
        t = columns.get(c, "VARCHAR").upper()
        if t == "TIMESTAMP" and timestampformat:
            exprs.append(pl.col(c).str.strptime(pl.Datetime("us"), timestampformat, strict=True))
            typed.add(c)
        elif t == "DATE" and dateformat:
            exprs.append(pl.col(c).str.strptime(pl.Date, dateformat, strict=True))
            typed.add(c)
    names = [c for c in header if needed is None or c in needed]
    raw_names = [f"column_{i + 1}" for i in range(len(header))]  # polars' names without a header
    raw_schema = {r: schema[c] for r, c in zip(raw_names, header, strict=True)}
    pick = [pl.col(r).alias(c) for r, c in zip(raw_names, header, strict=True) if c in names]

    wanted = [e for e in exprs if e.meta.output_name() in names]
    keep = [i for i, c in enumerate(header) if c in names]  # polars does not parse the others

    def parse(block: bytes | None) -> pl.DataFrame:
        df = (
            pl.DataFrame(schema=raw_schema)
            if block is None
            else pl.read_csv(block, has_header=False, schema=raw_schema, quote_char='"', columns=keep)
        )
        return df.select(pick).with_columns(*wanted)

    # Text columns leave polars as Arrow string views: no copy (the default large strings are
    # one copy of every text value); DuckDB reads views as VARCHAR.
    views = pl.CompatLevel.newest()
    empty = parse(None).to_arrow(compat_level=views)

    def gen() -> Iterator[pa.RecordBatch]:
        # Blocks of whole lines read from the file (never the whole file, never a memory map):
        # the unit of parsing and of memory.
        with open(path, "rb") as fh:
            if span is None:
                for _ in range(skip + 1):  # lines before the header, and the header
                    fh.readline()
                end = None
            else:
                fh.seek(span[0])
                end = span[1]
            while block := fh.read(BLOCK_BYTES if end is None else max(0, min(BLOCK_BYTES, end - fh.tell()))):
                if end is None or fh.tell() < end:  # ``end`` starts a line: never read past it
                    block += fh.readline()
                df = parse(block)
                counts.rows += df.height
                yield from df.to_arrow(compat_level=views).cast(empty.schema).to_batches(max_chunksize=BLOCK_ROWS)

    return pa.RecordBatchReader.from_batches(empty.schema, gen()), typed


def line_spans(path: Path, skip: int, parts: int) -> list[tuple[int, int]]:
    """Byte ranges (start, end) of ``path``'s data lines (after ``skip`` lines and the header)
    cut into at most ``parts`` pieces of about equal size, each of whole lines: every range but
    the first starts just after a newline. Reads a line at each cut, not the file."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        for _ in range(skip + 1):
            fh.readline()
        start = fh.tell()
        cuts = [start]
        for k in range(1, parts):
            target = start + (size - start) * k // parts
            if target <= cuts[-1]:
                continue
            fh.seek(target - 1)  # a cut that falls on a line start stays there
            fh.readline()
            pos = fh.tell()
            if pos >= size:
                break
            if pos > cuts[-1]:
                cuts.append(pos)
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a] or [(start, size)]


def dedup_sorted(table: pa.Table, key: tuple[str, ...], value_columns: list[str], counts: DedupCounts) -> pa.Table:
    """Keep the first row of each run of equal ``key`` in ``table`` (sorted by key, then by
    preference); count what was dropped into ``counts``."""
    n = table.num_rows
    if n < 2:
        return table
    same = np.ones(n - 1, dtype=bool)
    for k in key:
        col = table.column(k).combine_chunks()
        a, b = col.slice(1), col.slice(0, n - 1)
        eq = pc.fill_null(pc.equal(a, b), False)
        both_null = pc.and_(pc.is_null(a), pc.is_null(b))
        same &= pc.or_(eq, both_null).to_numpy(zero_copy_only=False)
    if not same.any():
        return table
    dup = np.concatenate(([False], same))
    # Index of the kept row of each row's run: the last run start at or before it.
    starts = np.flatnonzero(~dup)
    kept_of = starts[np.searchsorted(starts, np.arange(n), side="right") - 1]
    dropped = np.flatnonzero(dup)
    d, k_rows = table.take(pa.array(dropped)), table.take(pa.array(kept_of[dropped]))
    equal = np.ones(len(dropped), dtype=bool)
    for c in value_columns:
        a, b = d.column(c), k_rows.column(c)
        eq = pc.or_(pc.fill_null(pc.equal(a, b), False), pc.and_(pc.is_null(a), pc.is_null(b)))
        equal &= eq.to_numpy(zero_copy_only=False)
    same_version = pc.fill_null(pc.equal(d.column("_version"), k_rows.column("_version")), False)
    conflict = ~equal & same_version.to_numpy(zero_copy_only=False)
    counts.dropped += len(dropped)
    counts.exact_duplicates += int(equal.sum())
    counts.conflicting_revisions += int(conflict.sum())
    if counts.conflict_example is None and conflict.any():
        row = d.slice(int(np.flatnonzero(conflict)[0]), 1).to_pylist()[0]
        counts.conflict_example = ", ".join(f"{k}={row[k]}" for k in key)
    return table.filter(pa.array(~dup))


class WorkDir:
    """A private temporary folder under the budget's spill folder (removed on exit)."""

    def __init__(self, parent: Path, prefix: str) -> None:
        parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def sort_group(table: pa.Table, key: tuple[str, ...]) -> pa.Table:
    """``table`` in output order: time, the rest of the key, then preference (``_version``
    descending, then ``_rank``, the file's place in name order, descending); nulls last, as
    the reference query's ``ORDER BY``. Only the key columns are sorted (polars); the rows
    follow by one ``take``."""
    order = ["interval_start_utc", *(k for k in key if k != "interval_start_utc")]
    keys = pl.from_arrow(table.select([*order, "_version", "_rank"]))
    idx = (
        keys.select(
            pl.arg_sort_by(
                [*order, "_version", "_rank"], descending=[False] * len(order) + [True, True], nulls_last=True
            )
        )
        .to_series()
        .to_arrow()
    )
    return table.take(idx)


def _order_columns(key: tuple[str, ...]) -> list[str]:
    return ["interval_start_utc", *(k for k in key if k != "interval_start_utc")]


def strictly_ordered(table: pa.Table, key: tuple[str, ...]) -> bool:
    """Whether each row's key sorts strictly after the previous row's (time first, nulls last):
    the rows are then in output order with no duplicate key."""
    n = table.num_rows
    if n < 2:
        return True
    less = np.zeros(n - 1, dtype=bool)  # row i+1 sorts after row i, decided on earlier columns
    open_ = np.ones(n - 1, dtype=bool)  # rows i and i+1 equal on the columns so far
    for c in _order_columns(key):
        col = table.column(c)
        a, b = col.slice(0, n - 1), col.slice(1)
        a_null = pc.is_null(a).to_numpy(zero_copy_only=False)
        b_null = pc.is_null(b).to_numpy(zero_copy_only=False)
        lt = pc.fill_null(pc.less(a, b), False).to_numpy(zero_copy_only=False) | (~a_null & b_null)
        eq = pc.fill_null(pc.equal(a, b), False).to_numpy(zero_copy_only=False) | (a_null & b_null)
        less |= open_ & lt
        open_ &= eq
        if not (less | open_).all():
            return False  # some row sorts before its predecessor
    return bool(less.all())


def group_rows(memory_mb: int, spill: DaySpill, in_flight: int = 1) -> int:
    """Rows per pass-2 group under a ``memory_mb`` share: the spill's bytes per row, held
    :data:`GROUP_COPIES` times, in at most a quarter of it; at most :data:`GROUP_ROWS`. With
    ``in_flight`` groups written at once (months in parallel), each gets that share divided."""
    rows = max(1, sum(spill.rows.values()))
    per_row = max(1.0, spill.bytes / rows)
    cap = min(GROUP_ROWS, int(memory_mb * 2**20 / 4 / GROUP_COPIES / per_row))
    return max(1, cap // max(1, in_flight))


def write_month(
    spill: DaySpill,
    month: int,
    columns: list[str],
    key: tuple[str, ...],
    out: Path,
    row_group_rows: int,
    max_rows: int,
    schema: pa.Schema | None = None,
) -> MonthResult:
    """Pass 2 for one month: dedup and order each group of its days (at most ``max_rows`` rows,
    or one day) and append it to the parquet file ``out``. ``schema``: the column types written
    (the dataset's declared types, every column nullable)."""
    writer = None
    counts = DedupCounts()
    rows_in = rows_out = 0
    value_columns = [c for c in columns if c not in key]
    try:
        for days in spill.groups(max_rows, month):
            # A run of days one file each holds is taken as it is when in key order (the usual
            # export: one check per run). Otherwise (days several files hold, an overlap, or rows
            # out of order) the run is sorted and deduplicated at once: rows of different days
            # never share a key, and the sort is by time first, so this equals sorting each day
            # on its own (one sort per run, not per day: 366 daily files cost 366 sorts before).
            parts = []
            for single, run in itertools.groupby(days, key=spill.one_file):
                table = spill.read(list(run), consume=True)
                rows_in += table.num_rows
                if not (single and strictly_ordered(table, key)):
                    table = dedup_sorted(sort_group(table, key), key, value_columns, counts)
                parts.append(table.select(columns))
            table = pa.concat_tables(parts)
            if schema is not None and table.schema != schema:
                table = table.cast(schema)  # e.g. DuckDB's "Etc/UTC" -> the declared "UTC"
            if writer is None:
                # Dictionaries for text columns only: on prices and timestamps they cost more
                # time than they save space.
                strings = [f.name for f in table.schema if pa.types.is_string(f.type)]
                writer = pq.ParquetWriter(out, table.schema, compression="zstd", use_dictionary=strings)
            writer.write_table(table, row_group_size=row_group_rows)
            rows_out += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return MonthResult(
        rows_in=rows_in,
        rows_out=rows_out,
        exact_duplicates=counts.exact_duplicates,
        conflicting_revisions=counts.conflicting_revisions,
        conflict_example=counts.conflict_example,
    )


def write_months(
    spill: DaySpill,
    months: Iterable[int],
    columns: list[str],
    key: tuple[str, ...],
    folder: Path,
    row_group_rows: int,
    memory_mb: int = 2048,
    schema: pa.Schema | None = None,
    threads: int = 1,
    progress: Progress | None = None,
) -> dict[int, MonthResult]:
    """Pass 2: write each of ``months`` that has spilled rows to ``folder/<year>-<MM>.parquet``
    (:func:`write_month`), up to ``threads`` months at once (polars and pyarrow release the GIL).
    Memory: ``threads`` groups in flight, each of ``group_rows(memory_mb, spill, threads)`` rows,
    so the groups together stay within the single-writer share. A month's file is the same
    whatever ``threads``.

    Returns the result of each month written, in month order.
    """
    todo = sorted(set(months) & spill.months())
    max_rows = group_rows(memory_mb, spill, threads)

    def one(month: int) -> MonthResult:
        out = folder / month_file(spill.year, month)
        result = write_month(spill, month, columns, key, out, row_group_rows, max_rows, schema)
        if progress is not None:
            progress.add(rows=result.rows_out)
        return result

    if threads <= 1 or len(todo) <= 1:
        results = {m: one(m) for m in todo}
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            results = dict(zip(todo, pool.map(one, todo), strict=True))
    if progress is not None:
        progress.done()
    return results
