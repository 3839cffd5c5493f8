"""The converter contract every market operator follows.

An operator module declares *data*: its identity (``iso_id``, ``timezone``) and, per dataset, a
:class:`DatasetFormat` (the columns of the operator's export, how its header is recognised, and
the SQL that maps one source row to the normalised schema). This base class does the rest, the
same way for every operator:

    sniff headers (Python, a few KB per file) -> parse (polars, in blocks) -> normalise
    (the operator's SQL, DuckDB over Arrow) -> keep the operating year -> cut by UTC day into
    spill files -> drop superseded revisions and duplicates per group of days -> write the
    affected month files and publish the partition folder atomically (engine:
    :mod:`iso_energy.isos.stream`; layout and manifest: :mod:`iso_energy.isos.partition`).

Memory is bounded by construction (one parse block per file in flight, one group of days) and
DuckDB by the budget's ``memory_limit`` (see :class:`memsafe.budget.Budget`); no step holds a
year. DuckDB's strict CSV reader reads a file the fast path cannot, and names bad lines.

The normalised schemas and input errors live in :mod:`iso_energy.isos.schema`, the SQL-text
helpers the operator modules use in :mod:`iso_energy.isos.sql`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from abc import ABC
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from iso_energy.isos import partition, stream
from iso_energy.isos.schema import LMP_KEY, LMP_SCHEMA, NoInputError, RawFileError
from memsafe.atomic import atomic_output
from memsafe.budget import Budget, BudgetError
from memsafe.csv_source import HEADER_SCAN_LINES, CsvHeaderError, SniffedFile, find_header, read_csv_sql
from memsafe.csv_source import sql_str as _sql_str
from memsafe.engine_errors import engine_line, engine_problem
from memsafe.memory import MemoryReport, PeakMemory, duckdb_probe
from memsafe.progress import Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetFormat:
    """How one operator publishes one dataset, and how a row maps to its normalised schema.

    Attributes:
        market: ``"DA"`` or ``"RT"``; ``None`` when rows of both markets share the dataset
            (ancillary services): ``select_sql`` then yields ``market`` itself.
        source: the operator's name for the report (docs and errors).
        columns: source column -> DuckDB type, read by header name (order-free). Timestamps
            typed here are parsed by the CSV reader with ``timestampformat``/``dateformat``, so a
            bad value is reported with its file and line.
        required: columns that must be present; others of ``columns`` may be absent (null).
        select_sql: SELECT list over ``src`` yielding every ``schema`` column except ``iso``
            and ``market`` plus ``_version`` (higher wins on duplicate keys) and ``_file``.
        schema / key: the normalised schema written and the columns unique in a partition:
            :data:`LMP_SCHEMA`/:data:`LMP_KEY` (default) or :data:`AS_SCHEMA`/:data:`AS_KEY`.
        where_sql: row filter applied before normalising (e.g. superseded revisions).
        group_by_sql: for long formats (one row per price component), the GROUP BY that pivots
            the components into one row; ``select_sql`` then uses aggregates.
        allow_extra_columns: whether columns outside ``columns`` are accepted (as VARCHAR).
        timestampformat / dateformat: strptime formats for TIMESTAMP / DATE columns.
        interval_minutes: interval length (documentation and the hour-count check).
        file_glob: which files of the raw folder belong to the dataset.
        from_sql: the relation ``select_sql`` reads; default ``src`` (the CSV rows). A wide
            format can reshape it here, e.g. ``(UNPIVOT src ON COLUMNS('^HE ') INTO NAME he
            VALUE price)`` for MISO's hour columns.
        prepare: for a format DuckDB's CSV reader cannot express (record-type prefixes, the
            operating day in a preamble line, a repeated hour told only by row order):
            ``prepare(raw, clean)`` streams ``raw`` line by line into a plain CSV at ``clean``
            (header + data lines; bounded memory, never the whole file) and returns the number
            of raw lines dropped before the first data line, so engine errors still name the
            raw file and its line; or returns ``None`` without writing when ``raw`` can be read
            as it is. It raises :class:`RawFileError` (naming ``raw``) for the format's own
            malformed cases. See :meth:`IsoConverter.prepared`.
    """

    market: str | None
    source: str
    columns: dict[str, str]
    required: tuple[str, ...]
    select_sql: str
    where_sql: str | None = None
    group_by_sql: str | None = None
    allow_extra_columns: bool = True
    timestampformat: str | None = None
    dateformat: str | None = None
    interval_minutes: int = 60
    file_glob: str = "*.csv"
    from_sql: str = "src"
    prepare: Callable[[Path, Path], int | None] | None = None
    schema: pa.Schema = LMP_SCHEMA
    key: tuple[str, ...] = LMP_KEY


@dataclass
class ConversionStats:
    """What one conversion did. Sizes in bytes, times in seconds, memory in MiB."""

    iso: str
    dataset: str
    year: int
    output: Path
    files_read: int
    bytes_read: int
    rows_read: int  # all data rows in the files read (every year, superseded included)
    rows_in_year: int  # current rows of this operating year, before dropping duplicates
    rows_out: int
    bytes_out: int
    started_at: float
    seconds: float
    memory: MemoryReport
    stale_temps_removed: int = 0
    files: list[str] = field(default_factory=list)
    # Of the duplicates dropped: same key and same values as the kept row; and same key and
    # same version but different values (with one example key). The rest are superseded
    # revisions (a lower version).
    exact_duplicates: int = 0
    conflicting_revisions: int = 0
    conflict_example: str | None = None
    # Per file read: {"rows": data rows, "years": {year: current rows}} (for the file index).
    file_counts: dict[Path, dict] = field(default_factory=dict)
    # Month files this run wrote, and those carried over unchanged from the previous output.
    months_written: int = 0
    months_carried: int = 0

    @property
    def duplicates_dropped(self) -> int:
        return self.rows_in_year - self.rows_out

    def as_metadata(self) -> dict[str, object]:
        return {
            "iso": self.iso,
            "dataset": self.dataset,
            "year": self.year,
            "path": str(self.output),
            "files_read": self.files_read,
            "bytes_read": self.bytes_read,
            "rows_read": self.rows_read,
            "rows_in_year": self.rows_in_year,
            "rows_out": self.rows_out,
            "duplicates_dropped": self.duplicates_dropped,
            "bytes_out": self.bytes_out,
            "started_at": round(self.started_at, 3),
            "seconds": round(self.seconds, 3),
            "stale_temps_removed": self.stale_temps_removed,
            "exact_duplicates": self.exact_duplicates,
            "conflicting_revisions": self.conflicting_revisions,
            "conflict_example": self.conflict_example or "",
            "months_written": self.months_written,
            "months_carried": self.months_carried,
            **self.memory.as_metadata(),
        }


@dataclass(frozen=True)
class PreparedFile:
    """A file to read: the raw file itself, or a clean copy of ``source`` from ``prepare``."""

    path: Path
    source: Path | None = None
    line_offset: int = 0


class IsoConverter(ABC):
    """Base of every market operator's converter. Subclasses declare class attributes only,
    plus :meth:`prepare_file` where a format needs more than a header scan (e.g. ISO-NE's
    record-type prefixes)."""

    iso_id: ClassVar[str]  # lower-case, used in paths and partition keys: "pjm"
    name: ClassVar[str]
    timezone: ClassVar[str]  # IANA zone of the operating day ("America/New_York")
    datasets: ClassVar[dict[str, DatasetFormat]]
    # Largest |lmp - (energy + congestion + loss)| the operator's published rounding allows, in
    # USD/MWh (asset check `lmp_equals_components`); None: it does not publish all components.
    component_tolerance: ClassVar[float | None] = None

    # -- files -----------------------------------------------------------------------------
    def raw_files(self, raw_root: Path, dataset: str) -> list[Path]:
        """Files of ``dataset`` under ``<raw_root>/<iso>/<dataset>/`` (recursive), sorted."""
        folder = raw_root / self.iso_id / dataset
        if not folder.is_dir():
            return []
        pattern = self.datasets[dataset].file_glob
        return sorted(p for p in folder.rglob(pattern) if p.is_file() and not p.name.startswith("."))

    def sniff(self, path: Path, dataset: str, source: Path | None = None, line_offset: int = 0) -> SniffedFile:
        """Find the header line of ``path`` and check it against the dataset's columns.

        Reads at most :data:`memsafe.csv_source.HEADER_SCAN_BYTES` (through
        :func:`memsafe.csv_source.find_header`). Raises :class:`RawFileError` for an empty file,
        an HTML page, an error text saved as CSV, or a header lacking required columns (naming
        the closest header-like line and what it lacks). ``source``: the raw file ``path`` was
        prepared from (named in errors, at raw line = line + ``line_offset``).
        """
        fmt = self.datasets[dataset]
        origin = source or path
        try:
            fields, skip = find_header(path, fmt.required, known=fmt.columns)
        except CsvHeaderError as exc:
            if exc.reason in ("empty", "html"):
                line = None if exc.reason == "empty" else exc.line
                raise RawFileError(origin, exc.problem, line=line, expected=f"a {fmt.source} CSV export") from None
            missing, at = exc.closest_missing, exc.closest_line
            if at:  # a header-like line that lacks some required columns: name them
                problem = (
                    f"no {fmt.source} header found in the first {HEADER_SCAN_LINES} lines; "
                    f"the closest, line {at + line_offset}, lacks the required column(s) {missing}"
                )
            else:
                problem = (
                    f"no {fmt.source} header found in the first {HEADER_SCAN_LINES} lines "
                    f"(required column(s) {missing} missing); first line is {exc.first_line[:120]!r}"
                )
            raise RawFileError(
                origin,
                problem,
                line=(at or 1) + line_offset,
                expected=f"a header with the columns {sorted(fmt.required)}",
            ) from None
        unknown = [f for f in fields if f not in fmt.columns]
        if unknown and not fmt.allow_extra_columns:
            raise RawFileError(
                origin,
                f"unknown column(s) {unknown}",
                line=skip + 1,
                expected=f"only the {fmt.source} columns {sorted(fmt.columns)}",
            )
        return SniffedFile(path=path, header=fields, skip=skip, source=source, line_offset=line_offset)

    # -- SQL -------------------------------------------------------------------------------
    def _read_sql(self, fmt: DatasetFormat, group: Sequence[SniffedFile], param: str) -> str:
        """One ``read_csv`` over files sharing a header; the file list is bound as ``param``."""
        source = read_csv_sql(
            param,
            group[0].header,
            fmt.columns,
            skip=group[0].skip,
            timestampformat=fmt.timestampformat,
            dateformat=fmt.dateformat,
        )
        # Columns of `fmt.columns` absent from this header are added as NULL so every group
        # has the same columns for UNION ALL BY NAME.
        missing = [c for c in fmt.columns if c not in group[0].header]
        extra = "".join(f', CAST(NULL AS {fmt.columns[c]}) AS "{c}"' for c in missing)
        return f"SELECT *{extra} FROM {source}"

    def normalised_sql(self, dataset: str, groups: Sequence[Sequence[SniffedFile]]) -> str:
        """SQL yielding the dataset's schema columns plus ``_version`` and ``_file``; the file
        lists are bound as ``$files0``, ``$files1``, ..."""
        fmt = self.datasets[dataset]
        src = "\nUNION ALL BY NAME\n".join(self._read_sql(fmt, g, f"files{i}") for i, g in enumerate(groups))
        where = f"WHERE {fmt.where_sql}" if fmt.where_sql else ""
        group = f"GROUP BY {fmt.group_by_sql}" if fmt.group_by_sql else ""
        market = "" if fmt.market is None else f"{_sql_str(fmt.market)} AS market, "
        return (
            f"WITH src AS ({src})\n"
            f"SELECT {_sql_str(self.iso_id)} AS iso, {market}"
            f"{fmt.select_sql}\nFROM {fmt.from_sql} {where} {group}"
        )

    # -- the steps -------------------------------------------------------------------------
    def sniff_all(self, files: Iterable[Path | PreparedFile], dataset: str) -> list[list[SniffedFile]]:
        """Sniff every file, grouped by (header, skip) in first-seen order."""
        groups: dict[tuple[tuple[str, ...], int], list[SniffedFile]] = {}
        for f in files:
            p = f if isinstance(f, PreparedFile) else PreparedFile(Path(f))
            s = self.sniff(p.path, dataset, source=p.source, line_offset=p.line_offset)
            groups.setdefault((s.header, s.skip), []).append(s)
        return list(groups.values())

    @contextmanager
    def prepared(
        self, files: Sequence[Path], dataset: str, workdir: Path | None = None
    ) -> Iterator[list[PreparedFile]]:
        """Yield the files DuckDB should read for ``files``: themselves, or, for a format with a
        ``prepare`` step, clean copies in a temporary folder (under ``workdir``, e.g. the spill
        folder; removed on exit). Copies are named in input order, so ``_file`` order (the
        tie-break among duplicates) is the raw files' order.

        Raises:
            RawFileError: from the format's ``prepare`` (names the raw file).
        """
        fmt = self.datasets[dataset]
        if fmt.prepare is None:
            yield [PreparedFile(Path(f)) for f in files]
            return
        if workdir is not None:
            workdir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"prepare_{self.iso_id}_{dataset}_", dir=workdir) as tmp:
            out = []
            for i, f in enumerate(files):
                clean = Path(tmp) / f"{i:06d}_{Path(f).name}"  # keeps the name (NYISO types)
                offset = fmt.prepare(Path(f), clean)
                out.append(
                    PreparedFile(Path(f)) if offset is None else PreparedFile(clean, source=Path(f), line_offset=offset)
                )
            yield out

    def _params(self, groups: Sequence[Sequence[SniffedFile]]) -> dict[str, list[str]]:
        return {f"files{i}": [str(s.path) for s in g] for i, g in enumerate(groups)}

    def _run(self, con: duckdb.DuckDBPyConnection, sql: str, groups, dataset: str, **params):
        """Execute ``sql``; on an engine error, name the file at fault (re-checked file by file)."""
        try:
            return con.execute(sql, {**self._params(groups), **params})
        except duckdb.Error as exc:
            raise self._locate_error(con, groups, dataset, exc) from exc

    def _locate_error(self, con, groups, dataset: str, exc: duckdb.Error) -> Exception:
        text = str(exc)
        if isinstance(exc, duckdb.OutOfMemoryException) or any(m in text.lower() for m in RESOURCE_ERRORS):
            # The budget, not a file, is at fault: say so at once instead of re-reading every file.
            return _budget_error(con, f"{self.iso_id} {dataset}", text)
        for g in groups:
            for s in g:
                if str(s.path) in text:
                    return RawFileError(
                        s.raw,
                        _engine_problem(text.replace(str(s.path), str(s.raw))),
                        line=s.raw_line(engine_line(text)),
                    )
        # The message did not name a file (e.g. an error in the normalising SQL): run each
        # file alone to find the one at fault. Only on the error path.
        for g in groups:
            for s in g:
                # hash of the whole row: every column is evaluated (count(*) alone would let
                # DuckDB skip a failing expression in a column it does not need).
                sql = f"SELECT count(*), max(hash(t)) FROM ({self.normalised_sql(dataset, [[s]])}) AS t"
                try:
                    con.execute(sql, self._params([[s]])).fetchone()
                except duckdb.Error as inner:
                    return RawFileError(
                        s.raw,
                        _engine_problem(str(inner).replace(str(s.path), str(s.raw))),
                        line=s.raw_line(engine_line(str(inner))),
                    )
        return exc

    def file_year_counts(self, con: duckdb.DuckDBPyConnection, path: Path, dataset: str) -> dict:
        """Scan one file: ``{"rows": all data rows, "years": {year: current rows}}``.

        The file index (:mod:`iso_energy.file_index`) caches this per file version, so a
        conversion reads only the files that can hold its year, and the sensor knows which
        partitions a new file affects.
        """
        fmt = self.datasets[dataset]
        # Prepared copies go to the connection's spill folder (a Budget's), not to /tmp, which
        # may be a RAM-backed tmpfs; a bare connection's relative default is not used.
        spill = Path(con.execute("SELECT current_setting('temp_directory')").fetchone()[0] or ".")
        with self.prepared([path], dataset, spill if spill.is_absolute() else None) as ready:
            groups = self.sniff_all(ready, dataset)
            src = self._read_sql(fmt, groups[0], "files0")
            norm = self.normalised_sql(dataset, groups)
            total = self._run(con, f"SELECT count(*) FROM ({src})", groups, dataset).fetchone()[0]
            rows = self._run(
                con,
                f"SELECT year(operating_date) AS y, count(*) FROM ({norm}) GROUP BY y ORDER BY y",
                groups,
                dataset,
            ).fetchall()
        return {"rows": int(total), "years": {str(int(y)): int(n) for y, n in rows}}

    def stream_sql(self, dataset: str, s: SniffedFile, typed: set[str] | None = None) -> str:
        """Pass-1 SQL: the operator's own normalising SQL (as :meth:`normalised_sql`) plus ``_y``
        (operating year) and ``_day`` (UTC day of ``interval_start_utc``, days since 1970-01-01).

        With ``typed`` (the fast path), ``src`` is the Arrow relation ``arrow_src`` (columns of
        ``s``'s header, ``typed`` ones already typed, the rest text cast here as declared);
        without, ``src`` is DuckDB's strict CSV reader over ``s`` (``$files0`` bound).
        """
        fmt = self.datasets[dataset]
        cols = ", ".join(f'"{f.name}"' for f in fmt.schema)
        if typed is None:
            norm = self.normalised_sql(dataset, [[s]])
        else:
            used = stream.columns_used(s.header, fmt)
            casts = [
                stream.cast_sql(c, fmt.columns.get(c, "VARCHAR"), fmt.timestampformat, fmt.dateformat, typed=c in typed)
                for c in s.header
                if c in used
            ]
            casts += [f'CAST(NULL AS {fmt.columns[c]}) AS "{c}"' for c in fmt.columns if c not in s.header]
            where = f"WHERE {fmt.where_sql}" if fmt.where_sql else ""
            group = f"GROUP BY {fmt.group_by_sql}" if fmt.group_by_sql else ""
            market = "" if fmt.market is None else f"{_sql_str(fmt.market)} AS market, "
            norm = (
                f"WITH src AS (SELECT {', '.join(casts)}, {_sql_str(str(s.path))} AS _file FROM arrow_src)\n"
                f"SELECT {_sql_str(self.iso_id)} AS iso, {market}{fmt.select_sql}\n"
                f"FROM {fmt.from_sql} {where} {group}"
            )
        return (
            f"SELECT {cols}, _version, year(operating_date) AS _y, "
            f"coalesce(CAST(floor(epoch(interval_start_utc) / {stream.SECONDS_PER_DAY}) AS INTEGER), "
            f"2147483647) AS _day FROM (\n{norm})"
        )

    def convert_year(
        self,
        files: Sequence[Path],
        dataset: str,
        year: int,
        output: Path,
        budget: Budget,
        *,
        key_root: Path | None = None,
        scan: Collection[Path] = (),
    ) -> ConversionStats:
        """Convert the rows of operating ``year`` found in ``files`` to the partition folder
        ``output``: one parquet file per month plus a manifest (:mod:`iso_energy.isos.partition`).

        Two passes, neither holding the year (see :mod:`iso_energy.isos.stream`): each file is
        streamed (polars parses, DuckDB applies the operator's SQL) into per-UTC-day spill
        files; then each month's runs of days are deduplicated (highest ``_version``, then last
        file in name order) and written in time order, ``budget.engine_threads`` months at once.
        Peak memory is one parse block per file in flight plus the groups of days in flight,
        whatever the size of the year.

        Incremental: when ``output`` holds a manifest of this converter version, only new or
        changed files are read whole; the months they (or removed files) hold are rewritten,
        reading the unchanged files that held those months for those months' rows; every other
        month file is carried over by hard link. The result equals a full conversion of ``files``.

        Args:
            files: raw CSV exports that may hold ``year`` (see :mod:`iso_energy.file_index`);
                the partition is the conversion of exactly these (a file of the manifest not
                listed counts as removed). Files holding no row of ``year`` are read and counted
                (the file index learns their years from :attr:`ConversionStats.file_counts`).
            dataset: a key of :attr:`datasets` (``"lmp_da"``, ``"lmp_rt"``).
            year: the operator's local operating year.
            output: the partition folder; published atomically (a temporary folder, then
                rename) under its lock, so on any error the previous output stays in place.
            budget: memory/threads/spill folder for DuckDB and the day spill files.
            key_root: raw files are named in the manifest relative to it (the data root).
            scan: files to read even if the manifest says they are unchanged (their year counts
                are wanted, e.g. by the file index); only their affected months' rows are kept.

        Returns:
            :class:`ConversionStats`; figures (rows, duplicates) are the whole partition's;
            ``files_read``/``bytes_read`` what this run read; ``memory`` the step's peak RSS.

        Raises:
            NoInputError: ``files`` is empty, or none holds a row of ``year``.
            RawFileError: a file is not the operator's format (names file, line, problem).
            BudgetError: the budget or the spill folder is too small.
        """
        if not files:
            raise NoInputError(f"no {self.iso_id} {dataset} raw file holds operating year {year}")
        started = time.time()
        fmt = self.datasets[dataset]
        columns = [f.name for f in fmt.schema]
        files = [Path(f) for f in files]
        keys = {f: partition.file_key(f, key_root) for f in files}
        sigs = {f: partition.signature(f) for f in files}
        # The dedup tie-break among equal versions: the last file in name order (of all files,
        # so an incremental run breaks ties as a full one does).
        rank = {f: r for r, f in enumerate(sorted(files, key=str))}
        con = budget.connect()
        # Parallelism is across files (one DuckDB cursor per file in flight), so each query runs
        # on one DuckDB thread: that also keeps each file's row order (with several threads and
        # preserve_insertion_order off, chunks come back shuffled), which lets pass 2 take a day
        # one file holds in key order as it is, without buffering for order.
        con.execute("SET threads = 1")
        file_counts: dict[Path, stream.FileCounts] = {}
        # One writer per partition at a time; leftovers of a killed writer are removed under the lock.
        with (
            atomic_output(output, folder=True) as staged,
            contextlib.closing(con),
            stream.WorkDir(budget.spill_path(), f"days_{self.iso_id}_{dataset}_{year}_") as work,
        ):
            old = partition.load(output, year)
            todo = partition.plan(old, files, keys)
            # Sampled every 0.1 s: DuckDB holds little here (no year-wide sort), and each probe costs CPU.
            # Spill counts the day files and prepared copies in ``work`` as well as DuckDB's own.
            with PeakMemory(engine_probe=duckdb_probe(con, spill_folder=work), interval=0.1) as pm:
                spill = stream.DaySpill(
                    work, year, memory_bytes=int(budget.engine_memory_mb * 2**20 * stream.HELD_SHARE)
                )
                index = {f: i for i, f in enumerate(files)}

                # Byte spans of the files read in parts, with the months of their rows (for the
                # manifest: a later run reads only the spans of the months it rewrites), and the
                # bytes each file read.
                new_spans: dict[Path, list[list]] = {}
                bytes_read: dict[Path, int] = {}

                def pass1(batch: list[Path], only: dict[Path, list[tuple[int, int]]] | None = None) -> None:
                    with self.prepared(batch, dataset, work) as ready:
                        for f in batch:
                            file_counts[f] = stream.FileCounts()
                        progress = Progress(log, f"{self.iso_id} {dataset} {year} pass 1", len(batch), "files")
                        sniffed = {
                            f: self.sniff(p.path, dataset, source=p.source, line_offset=p.line_offset)
                            for f, p in zip(batch, ready, strict=True)
                        }
                        units = self._pass1_units(sniffed, dataset, budget.engine_threads, only)
                        spans_of = {f: [u[1] for u in units if u[0] == f] for f in batch}
                        # Bytes each file reads: whole, or only the spans asked for.
                        to_read = {
                            f: sum(b - a for a, b in spans_of[f]) if only and f in only else f.stat().st_size
                            for f in batch
                        }
                        spill.expect(sum(to_read.values()))
                        # Per file read in parts: each part's spill and counts (None: it failed).
                        parts: dict[Path, list[tuple[stream.FileSpill, stream.FileCounts] | None]] = {
                            f: [None] * n for f, span, _, n in units if span is not None
                        }
                        left = {f: n for f, _, _, n in units}
                        lock = threading.Lock()

                        def whole(f: Path) -> None:
                            cur = con.cursor()  # one DuckDB connection per thread
                            try:
                                spilled = spill.file(index[f], rank[f])
                                self._stream_file(cur, sniffed[f], dataset, year, spilled, file_counts[f])
                            finally:
                                cur.close()

                        def one(unit: tuple[Path, tuple[int, int] | None, int, int]) -> None:
                            f, span, i, _ = unit
                            if span is None:
                                whole(f)
                            else:
                                cur = con.cursor()
                                try:
                                    part, counts = spill.file(index[f], rank[f], i), stream.FileCounts()
                                    if self._fast_path(cur, sniffed[f], dataset, year, part, counts, span):
                                        parts[f][i] = (part, counts)
                                finally:
                                    cur.close()
                            with lock:
                                left[f] -= 1
                                last = left[f] == 0
                            if last:
                                read = [c for _, c in filter(None, parts[f])] if f in parts else [file_counts[f]]
                                progress.add(rows=sum(c.rows for c in read), MB=to_read[f] / 1e6)

                        try:
                            # Files (or parts of them) in parallel (polars and DuckDB release the
                            # GIL), as many as the budget has engine threads (each holds a block).
                            with ThreadPoolExecutor(max_workers=budget.engine_threads) as pool:
                                list(pool.map(one, units))
                            bytes_read.update(to_read)
                            for f, got in parts.items():
                                if all(got):
                                    months = [sorted(part.months()) for part, _ in got]
                                    for part, counts in got:
                                        part.commit()
                                        file_counts[f].add(counts)
                                    # Months of a whole read only (not of a pass kept to some months),
                                    # and offsets of the raw file itself (not of a prepared copy).
                                    if spill.keep is None and fmt.prepare is None:
                                        new_spans[f] = [
                                            [a, b, m] for (a, b), m in zip(spans_of[f], months, strict=True)
                                        ]
                                    continue
                                # A part the fast path could not read: the whole file again, as
                                # one (the reference reader names the line at fault).
                                for g in filter(None, got):
                                    g[0].abort()
                                whole(f)
                                bytes_read[f] = f.stat().st_size
                            progress.done()
                        except OSError as exc:
                            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                                raise _spill_error(self, dataset, work, exc) from exc
                            raise

                try:
                    # New and changed files whole; then, once their months are known, the
                    # unchanged files holding an affected month, for those months only.
                    pass1(todo.changed)
                    affected = todo.affected | spill.months() if old is not None else set(range(1, 13))
                    spill.keep = affected
                    again = [f for f, ms in todo.unchanged.items() if ms & affected or f in scan]
                    if again:
                        # Of a file read in parts before, only the parts holding an affected month.
                        only = {}
                        for f in again:
                            spans = old.files[keys[f]].get("spans") if f not in scan else None
                            pick = [(a, b) for a, b, ms in spans or [] if set(ms) & affected]
                            if pick:
                                only[f] = pick
                        pass1(again, only)
                finally:
                    spill.close()
                carried = sorted(int(m) for m in (old.months if old else {}) if int(m) not in affected)
                spilled = sum(spill.rows.values())
                if spilled == 0 and not carried:
                    err = NoInputError(
                        f"no {self.iso_id} {dataset} row of operating year {year} in "
                        f"{len(files)} file(s): {[str(f) for f in files][:5]}"
                    )
                    # What the files do hold, for the file index and the caller's message.
                    err.file_counts = {f: {"rows": c.rows, "years": c.years} for f, c in file_counts.items()}
                    raise err
                try:
                    written = stream.write_months(
                        spill,
                        affected,
                        columns,
                        fmt.key,
                        staged.path,
                        max(budget.batch_rows, 10_000),
                        memory_mb=budget.engine_memory_mb,
                        schema=pa.schema([pa.field(f.name, f.type) for f in fmt.schema]),
                        threads=budget.engine_threads,
                        progress=Progress(log, f"{self.iso_id} {dataset} {year} pass 2", len(affected), "months"),
                    )
                except OSError as exc:
                    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                        raise _spill_error(self, dataset, work, exc) from exc
                    raise
                partition.carry(output, staged.path, year, carried)
                manifest = partition.Manifest(partition.converter_version(), year)
                for m in carried:
                    manifest.months[f"{m:02d}"] = old.months[f"{m:02d}"]
                for m, r in written.items():
                    manifest.months[f"{m:02d}"] = dataclasses.asdict(r)
                for f in files:
                    prev = old.files[keys[f]]["months"] if f in todo.unchanged else {}
                    months = {k: n for k, n in prev.items() if int(k) not in affected or f not in file_counts}
                    months |= {f"{m:02d}": n for m, n in spill.file_months.get(index[f], {}).items()}
                    size, mtime = sigs[f]
                    entry = {"size": size, "mtime_ns": mtime, "months": dict(sorted(months.items()))}
                    spans = new_spans.get(f) or (old.files[keys[f]].get("spans") if f in todo.unchanged else None)
                    if spans:
                        entry["spans"] = spans
                    manifest.files[keys[f]] = entry
                manifest.write(staged.path)
        total = manifest.totals()
        read = list(file_counts)
        return ConversionStats(
            iso=self.iso_id,
            dataset=dataset,
            year=year,
            output=output,
            files_read=len(read),
            bytes_read=sum(bytes_read.get(f, sigs[f][0]) for f in read),
            rows_read=sum(c.rows for c in file_counts.values()),
            rows_in_year=total.rows_in,
            rows_out=total.rows_out,
            bytes_out=sum(p.stat().st_size for p in output.glob("*.parquet")),
            started_at=started,
            seconds=time.time() - started,
            memory=pm.report,
            stale_temps_removed=staged.stale_removed,
            files=[str(f) for f in read],
            exact_duplicates=total.exact_duplicates,
            conflicting_revisions=total.conflicting_revisions,
            conflict_example=total.conflict_example,
            file_counts={f: {"rows": c.rows, "years": c.years} for f, c in file_counts.items()},
            months_written=len(written),
            months_carried=len(carried),
        )

    def _stream_file(
        self,
        con: duckdb.DuckDBPyConnection,
        s: SniffedFile,
        dataset: str,
        year: int,
        spill: stream.FileSpill,
        counts: stream.FileCounts,
    ) -> None:
        """Pass 1 for one file: normalised rows of ``year`` into ``spill``; years into ``counts``.

        Fast path: polars parses, DuckDB runs the operator's SQL over the Arrow batches. A file
        the fast path cannot read (a malformed line, a value polars parses differently) is
        re-read by DuckDB's strict CSV reader through the same SQL: it converts the file, or
        names the line at fault.
        """
        if self._fast_path(con, s, dataset, year, spill, counts):
            spill.end()
            return
        # The reference reader: strict, and its errors name the line.
        fmt = self.datasets[dataset]
        groups = [[s]]
        try:
            counts.rows = con.sql(
                f"SELECT count(*) FROM ({self._read_sql(fmt, groups[0], 'files0')})", params=self._params(groups)
            ).fetchall()[0][0]
            self._spill_result(con.sql(self.stream_sql(dataset, s), params=self._params(groups)), year, spill, counts)
        except (duckdb.Error, OSError) as exc:
            spill.abort()
            if isinstance(exc, OSError) and exc.errno is not None:
                raise  # the spill's disk: the caller's BudgetError
            # A DuckDB error past the first chunk reaches here through pyarrow's reader, as an
            # OSError without errno: the same message, located the same way.
            raise self._locate_error(con, groups, dataset, exc) from exc
        spill.end()

    def _fast_path(
        self,
        con: duckdb.DuckDBPyConnection,
        s: SniffedFile,
        dataset: str,
        year: int,
        spill: stream.FileSpill,
        counts: stream.FileCounts,
        span: tuple[int, int] | None = None,
    ) -> bool:
        """Pass 1's fast path for ``s`` (or only its whole lines in bytes ``span``): polars
        parses, DuckDB runs the operator's SQL; rows of ``year`` into ``spill`` (finished, not
        committed), years into ``counts``. False when polars, Arrow or DuckDB cannot read it (the
        spill is then aborted and ``counts`` reset): the caller reads the file with DuckDB's
        strict reader. Raises :class:`BudgetError` when DuckDB runs out of memory or spill space."""
        fmt = self.datasets[dataset]
        try:
            src, typed = stream.polars_batches(
                s.path,
                s.header,
                s.skip,
                fmt.columns,
                fmt.timestampformat,
                fmt.dateformat,
                counts,
                needed=stream.columns_used(s.header, fmt),
                span=span,
            )
            con.register("arrow_src", src)
            try:
                self._spill_result(con.sql(self.stream_sql(dataset, s, typed)), year, spill, counts)
            finally:
                con.unregister("arrow_src")
            spill.finish()
            return True
        except (pl.exceptions.PolarsError, pa.ArrowException, duckdb.Error, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno is not None:
                raise  # the spill's disk (ENOSPC ...): the caller's BudgetError, not a bad file
            # (A parse error past the first block reaches here as an OSError without errno:
            # DuckDB's "reading the stream registered as 'arrow_src' failed", raised by pyarrow.)
            if isinstance(exc, duckdb.OutOfMemoryException) or any(m in str(exc).lower() for m in RESOURCE_ERRORS):
                raise _budget_error(con, f"{self.iso_id} {dataset}", str(exc)) from exc
            spill.abort()
            counts.rows, counts.years = 0, {}
            return False

    def _pass1_units(
        self,
        sniffed: dict[Path, SniffedFile],
        dataset: str,
        threads: int,
        only: dict[Path, list[tuple[int, int]]] | None = None,
    ) -> list[tuple[Path, tuple[int, int] | None, int, int]]:
        """Pass 1's units of work, as (file, byte span or None for the whole file, part, parts).

        A file is cut into byte ranges of whole lines (:func:`stream.line_spans`), at least one
        parse block each: into parts of about :data:`stream.PART_BYTES` (their months go to the
        manifest, so a later incremental run reads only the parts holding the months it
        rewrites), and into more when there are fewer files than engine threads (an added
        month's export, one big yearly file), so every thread has work. ``only``: files of which
        just these spans are read. Never for a format with ``group_by_sql``: its pivot needs all
        of a file's rows of one interval in one query.
        """
        want = -(-threads // max(1, len(sniffed)))  # parts per file
        units: list[tuple[Path, tuple[int, int] | None, int, int]] = []
        for f, s in sniffed.items():
            if only and only.get(f):
                units += [(f, span, i, len(only[f])) for i, span in enumerate(only[f])]
                continue
            size = s.path.stat().st_size
            n = min(max(want, -(-size // stream.PART_BYTES)), size // stream.BLOCK_BYTES)
            spans = stream.line_spans(s.path, s.skip, n) if n >= 2 and not self.datasets[dataset].group_by_sql else []
            if len(spans) < 2:
                units.append((f, None, 0, 1))
                continue
            units += [(f, span, i, len(spans)) for i, span in enumerate(spans)]
        return units

    @staticmethod
    def _spill_result(rel, year: int, spill: stream.FileSpill, counts: stream.FileCounts) -> None:
        for batch in rel.to_arrow_reader(stream.BLOCK_ROWS):
            ys = batch.column("_y")
            lo_hi = pc.min_max(ys)
            if lo_hi["min"].as_py() == lo_hi["max"].as_py() == year and ys.null_count == 0:
                counts.years[str(year)] = counts.years.get(str(year), 0) + batch.num_rows  # the usual batch
            else:
                for item in pc.value_counts(ys).to_pylist():
                    if item["values"] is not None:
                        y = str(item["values"])
                        counts.years[y] = counts.years.get(y, 0) + item["counts"]
                batch = batch.filter(pc.fill_null(pc.equal(ys, year), False))
            if batch.num_rows:
                spill.add(batch.drop_columns(["_y", "_day"]), batch.column("_day").to_numpy())


def _spill_error(conv: IsoConverter, dataset: str, folder: Path, exc: OSError) -> BudgetError:
    free = shutil.disk_usage(folder).free / 1e9 if folder.exists() else 0.0
    return BudgetError(
        f"{conv.iso_id} {dataset}: the day spill files ran out of space in {folder} "
        f"({free:.1f} GB free): {exc}. Give the conversion's spill_dir more room."
    )


# Engine messages that mean the memory budget or the spill folder is too small.
RESOURCE_ERRORS = (
    "out of memory",
    "failed to offload",
    "failed to pin block",
    "max_temp_directory_size",
    "no space left on device",
)


def _budget_error(con: duckdb.DuckDBPyConnection, what: str, text: str) -> BudgetError:
    """A :class:`BudgetError` naming DuckDB's memory limit and the spill folder's free space."""
    try:
        limit, spill = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
        free = f"{shutil.disk_usage(spill).free / 1e9:.1f} GB free" if os.path.isdir(spill) else "missing"
    except (duckdb.Error, OSError):
        limit, spill, free = "?", "?", "?"
    return BudgetError(
        f"{what}: DuckDB ran out of memory or spill space (memory_limit {limit}, spill folder {spill}, "
        f"{free}): {_engine_problem(text)}. Raise the conversion's memory_mb or give its spill_dir more room."
    )


def _engine_problem(text: str) -> str:
    return engine_problem(text, max_lines=3)


def dumps_stats(stats: ConversionStats) -> str:
    """JSON of a conversion's metadata (used by the CLI and the benchmarks)."""
    return json.dumps(stats.as_metadata(), sort_keys=True)
