"""The koku metrics operator's pod usage CSV, declared as data, and the errors it can raise.

Source format: the OpenShift/Kubernetes *koku metrics operator* (project-koku) exports one CSV
row per pod and hour ("line item")::

    report_period_start,report_period_end,interval_start,interval_end,node,namespace,pod,
    pod_usage_cpu_core_seconds,pod_request_cpu_core_seconds,pod_limit_cpu_core_seconds,
    pod_usage_memory_byte_seconds,pod_request_memory_byte_seconds,
    pod_limit_memory_byte_seconds,node_capacity_cpu_cores,node_capacity_cpu_core_seconds,
    node_capacity_memory_bytes,node_capacity_memory_byte_seconds,resource_id,pod_labels

Newer exports add ``node_role`` and change the column order, so files are read **by header
name**: files sharing a header are read together and the groups are unioned by name. Timestamps
are Go's ``time.Time`` string in UTC (``2019-02-01 00:00:00 +0000 UTC``); any other zone is
rejected as a parse error. Usage, request and limit may be empty (a completed pod): read as
NULL and counted as 0.

Plain logic: no dagster import.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from memsafe.csv_source import CsvHeaderError, SniffedFile, find_header, read_csv_sql

# Column -> DuckDB type for every column the summary needs. Everything else in a header
# (``resource_id``, ``pod_labels``, ``node_role``, ...) is declared VARCHAR and never converted:
# DuckDB's projection pushdown skips converting columns a query does not use.
NEEDED_COLUMNS: dict[str, str] = {
    "report_period_start": "TIMESTAMP",
    "interval_start": "TIMESTAMP",
    "interval_end": "TIMESTAMP",
    "node": "VARCHAR",
    "namespace": "VARCHAR",
    "pod": "VARCHAR",
    "pod_usage_cpu_core_seconds": "DOUBLE",
    "pod_request_cpu_core_seconds": "DOUBLE",
    "pod_limit_cpu_core_seconds": "DOUBLE",
    "pod_usage_memory_byte_seconds": "DOUBLE",
    "pod_request_memory_byte_seconds": "DOUBLE",
    "pod_limit_memory_byte_seconds": "DOUBLE",
    "node_capacity_cpu_cores": "DOUBLE",
    "node_capacity_cpu_core_seconds": "DOUBLE",
    "node_capacity_memory_bytes": "DOUBLE",
    "node_capacity_memory_byte_seconds": "DOUBLE",
}
# A file must carry every needed column (an absent one is an error, never silently NULL).
REQUIRED_COLUMNS: tuple[str, ...] = tuple(NEEDED_COLUMNS)
# The full koku header (documentation and the generator); `node_role` appears in newer exports.
KOKU_COLUMNS: tuple[str, ...] = (
    "report_period_start",
    "report_period_end",
    "interval_start",
    "interval_end",
    "node",
    "namespace",
    "pod",
    "pod_usage_cpu_core_seconds",
    "pod_request_cpu_core_seconds",
    "pod_limit_cpu_core_seconds",
    "pod_usage_memory_byte_seconds",
    "pod_request_memory_byte_seconds",
    "pod_limit_memory_byte_seconds",
    "node_capacity_cpu_cores",
    "node_capacity_cpu_core_seconds",
    "node_capacity_memory_bytes",
    "node_capacity_memory_byte_seconds",
    "resource_id",
    "pod_labels",
)
KEY_COLUMNS = ("namespace", "pod", "node", "interval_start", "interval_end", "report_period_start")
# Go's default time.Time String() layout as koku writes it (always UTC).
GO_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S %z UTC"
FILE_GLOB = "*.csv"


class PodUsageInputError(ValueError):
    """A pod usage file that cannot be summarised. Names the file, the line and the problem.

    ``line`` is the 1-based line of the file (the header is line 1).
    """

    def __init__(self, path: os.PathLike[str] | str, problem: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = self.path + (f", line {line}" if line else "")
        super().__init__(f"{where}: {problem}")


class NoPodUsageFiles(FileNotFoundError):
    """No pod usage CSV (or no line item of the requested report period) was found."""


def list_files(folder: Path) -> list[Path]:
    """CSV files under ``folder`` (recursive), hidden files skipped, sorted by path."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob(FILE_GLOB) if p.is_file() and not p.name.startswith("."))


def sniff(path: Path) -> SniffedFile:
    """Read the header line of ``path`` and check it (:func:`memsafe.csv_source.find_header`).

    Raises:
        PodUsageInputError: empty file, or a header lacking a required column (line 1).
    """
    try:
        header, _ = find_header(path, REQUIRED_COLUMNS, scan_lines=1)
    except CsvHeaderError as exc:
        problem = exc.problem + ("; expected a koku pod usage CSV header" if exc.problem == "file is empty" else "")
        raise PodUsageInputError(path, problem, line=exc.line) from None
    return SniffedFile(path=path, header=header)


def group_by_header(files: Iterable[Path]) -> list[list[SniffedFile]]:
    """Sniff every file; group files sharing a header (column order matters to the reader)."""
    groups: dict[tuple[str, ...], list[SniffedFile]] = {}
    for path in files:
        s = sniff(path)
        groups.setdefault(s.header, []).append(s)
    return list(groups.values())


def read_sql(group: Sequence[SniffedFile], param: str) -> str:
    """``read_csv`` over files sharing a header; the file list is bound as ``$<param>``.

    Typed, strict, no auto-detection (:func:`memsafe.csv_source.read_csv_sql`): a value that does
    not parse raises with its file and line. Yields the needed columns and ``_file`` (the path).
    """
    source = read_csv_sql(param, group[0].header, NEEDED_COLUMNS, timestampformat=GO_TIMESTAMP_FORMAT)
    names = ", ".join(f'"{c}"' for c in NEEDED_COLUMNS)
    return f"SELECT {names}, _file FROM {source}"


def parse_go_timestamp(value: str) -> datetime | None:
    """``2019-02-01 00:00:00 +0000 UTC`` -> aware datetime; ``None`` for an empty value."""
    value = value.strip()
    if not value:
        return None
    return datetime.strptime(value, GO_TIMESTAMP_FORMAT)


def find_bad_row(path: Path) -> tuple[int, str] | None:
    """Scan ``path`` with the csv module for the first row with an empty key or an interval
    that does not end after it starts: ``(line, problem)``. Only used on the error path, to
    turn an engine-side check into a file-and-line message."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            line = reader.line_num
            empty = [c for c in KEY_COLUMNS if not (row.get(c) or "").strip()]
            if empty:
                return line, f"empty required value(s) in {empty}"
            start, end = parse_go_timestamp(row["interval_start"]), parse_go_timestamp(row["interval_end"])
            if end <= start:
                return line, (
                    f"interval_end {row['interval_end']!r} is not after interval_start "
                    f"{row['interval_start']!r} (pod {row['pod']!r})"
                )
    return None
