"""Streaming daily cost-management summary of pod usage line items (DuckDB, bounded memory).

Grain of the output: one row per **usage date, namespace and node** (usage date = the UTC date
of ``interval_start``). Columns (:data:`SUMMARY_COLUMNS`)::

    usage_date DATE, namespace VARCHAR, node VARCHAR,
    pod_count                       distinct pods with a line item that day on that node
    line_items                      line items counted (after dropping duplicates)
    duplicate_line_items            extra copies of a line item that were dropped
    pod_{usage,request,limit,effective_usage}_cpu_core_hours          DOUBLE
    pod_{usage,request,limit,effective_usage}_memory_gigabyte_hours   DOUBLE
    node_capacity_cpu_cores         DOUBLE  max over the node's intervals that day
    node_capacity_cpu_core_hours    DOUBLE  node capacity, counted once per node and interval
    node_capacity_memory_bytes      BIGINT  max over the node's intervals that day
    node_capacity_memory_gigabyte_hours DOUBLE  counted once per node and interval
    cpu_share_of_node, memory_share_of_node  DOUBLE  effective usage / node capacity (NULL if 0)

Formulas (sums over the line items of the group, one line item = one pod and interval):

* ``core_hours = sum(core_seconds) / 3600``;
  ``gigabyte_hours = sum(byte_seconds) / 3600 / 2**30`` (GiB, as koku computes it).
* effective usage of a line item = ``max(usage, request)``; summed after taking the max.
* empty usage/request/limit (a completed pod) counts as 0.
* node capacity: the capacity columns repeat on every pod row of a node, so they are first
  reduced to **one value per node and interval** (``max`` over that node's rows of the interval),
  then summed over the day's intervals. ``node_capacity_*`` are the node's figures for the
  whole day (every interval the node reported), the same on every namespace row of the node.
* ``cpu_share_of_node = effective cpu core-seconds / node capacity cpu core-seconds`` (same day,
  same node); memory likewise.

Exactness: every line-item value is first quantised to an integer (cpu to micro-core-seconds,
``round_half_even(x * 1e6)``; memory to byte-seconds, ``round_half_even(x)``), and all sums are
integer sums, so the result does not depend on summation order or parallelism and equals the
in-memory pandas computation (``bench/baselines/pod_usage_pandas.py``) bit for bit. Quantisation
error is at most 0.5e-6 core-seconds and 0.5 byte-seconds per line item. Integer sums that
overflow BIGINT raise rather than wrap.

Duplicates: a line item is identified by ``(namespace, pod, interval_start)``. Copies (a report
uploaded twice) are counted and only one is kept: the copy from the file whose path sorts last
(a re-upload replaces the earlier one); within one file the largest
``(node, usage, request, limit ...)`` tuple, so the choice never depends on read order.
Capacity is taken from every row of the period, copies included: a ``max`` cannot change.

Memory: only the 16 needed columns are converted; the two aggregations (line items, then node
intervals) are DuckDB hash aggregates under :class:`memsafe.budget.Budget` (``memory_limit``,
``temp_directory``). An input whose line items fit one aggregate (:func:`line_item_buckets`)
is scanned twice, once per aggregation, and written by one sorted ``COPY``. A larger one is
scanned once, into a parquet spill partitioned by a hash of (namespace, pod, usage date) under the
budget's spill folder; the line-item aggregate then runs bucket by bucket, so its size is
bounded by the budget, not the input, the node intervals are read from the spill, and the
output is joined, sorted and written one usage date at a time (:func:`_write_by_date`), with the
same bytes as the one sorted ``COPY``.

Plain logic: no dagster import.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from memsafe.atomic import atomic_output
from memsafe.budget import MIN_ENGINE_MB, Budget
from memsafe.csv_source import SniffedFile
from memsafe.engine_errors import engine_file, engine_line, engine_problem
from memsafe.memory import MemoryReport, PeakMemory, duckdb_probe
from memsafe.progress import Progress, duckdb_progress
from pod_usage.format import (
    NoPodUsageFiles,
    PodUsageInputError,
    find_bad_row,
    group_by_header,
    read_sql,
)

log = logging.getLogger(__name__)

CPU_SCALE = 1e6  # micro-core-seconds per core-second
CPU_HOURS_DIVISOR = 3600 * CPU_SCALE  # micro-core-seconds per core-hour
MEMORY_GB_HOURS_DIVISOR = float(3600 * 2**30)  # byte-seconds per GiB-hour
BAD_ROW_MARKER = "POD_USAGE_BAD_ROW|"

SUMMARY_COLUMNS: tuple[str, ...] = (
    "usage_date",
    "namespace",
    "node",
    "pod_count",
    "line_items",
    "duplicate_line_items",
    "pod_usage_cpu_core_hours",
    "pod_request_cpu_core_hours",
    "pod_limit_cpu_core_hours",
    "pod_effective_usage_cpu_core_hours",
    "pod_usage_memory_gigabyte_hours",
    "pod_request_memory_gigabyte_hours",
    "pod_limit_memory_gigabyte_hours",
    "pod_effective_usage_memory_gigabyte_hours",
    "node_capacity_cpu_cores",
    "node_capacity_cpu_core_hours",
    "node_capacity_memory_bytes",
    "node_capacity_memory_gigabyte_hours",
    "cpu_share_of_node",
    "memory_share_of_node",
)


@dataclass
class SummaryStats:
    """What one summary did. Times in seconds, memory in MiB, sizes in bytes."""

    output: str
    report_period: str | None
    files_read: int
    bytes_read: int
    rows_in: int  # line-item rows of the report period, duplicates included
    rows_other_periods: int  # rows of the files read that belong to another report period
    line_items: int  # rows_in less duplicates
    duplicate_line_items: int
    rows_out: int
    bytes_out: int
    node_intervals: int
    capacity_conflicts: int  # node intervals whose rows disagree on capacity (max is kept)
    seconds: float
    memory: MemoryReport
    stale_temps_removed: int = 0
    line_item_buckets: int = 1  # (namespace, pod, usage date) hash buckets aggregated one at a time; 1: one pass
    files: list[str] = field(default_factory=list)

    @property
    def rows_per_s(self) -> float:
        """Rows read per second (every row of every file read, over the whole summary)."""
        rows = self.rows_in + self.rows_other_periods
        return rows / self.seconds if self.seconds > 0 else 0.0

    def as_metadata(self) -> dict[str, object]:
        out = {k: v for k, v in asdict(self).items() if k not in ("memory", "files")}
        out.update(self.memory.as_metadata())  # peak_rss_mb, rss_delta_mb, engine/spill peaks
        out["seconds"] = round(self.seconds, 3)  # the whole summary, not only the measured part
        out["rows_per_s"] = round(self.rows_per_s, 1)
        return out

    def to_json(self) -> str:
        return json.dumps(self.as_metadata(), sort_keys=True)


def _q(column: str, scale: str | None = None) -> str:
    """SQL quantising a (nullable) DOUBLE column to BIGINT: NULL -> 0, round half to even."""
    value = f'coalesce("{column}", 0)'
    if scale:
        value = f"{value} * {scale}"
    return f"CAST(round_even({value}, 0) AS BIGINT)"


def source_sql(groups: Sequence[Sequence[SniffedFile]]) -> str:
    """Typed, validated rows of every file (``$files0``, ``$files1`` ... bound to the groups),
    quantised, with ``in_period`` true for rows of ``$period`` (every row when it is NULL) and
    ``file_rank``, the file's position in ``$file_order`` (paths sorted: the duplicate rule).

    A row with an empty key or an interval that does not end after it starts raises a DuckDB
    error carrying :data:`BAD_ROW_MARKER` and the file, located to a line in Python.
    """
    union = "\nUNION ALL BY NAME\n".join(read_sql(g, f"files{i}") for i, g in enumerate(groups))
    keys_empty = " OR ".join(
        f"{c} IS NULL" for c in ("namespace", "pod", "node", "interval_start", "interval_end", "report_period_start")
    )
    return f"""
        SELECT namespace, pod, node, interval_start,
               list_position($file_order, _file) AS file_rank,
               ($period IS NULL OR report_period_start = $period) AS in_period,
               {_q("pod_usage_cpu_core_seconds", "$cpu_scale")} AS uc,
               {_q("pod_request_cpu_core_seconds", "$cpu_scale")} AS rc,
               {_q("pod_limit_cpu_core_seconds", "$cpu_scale")} AS lc,
               {_q("pod_usage_memory_byte_seconds")} AS um,
               {_q("pod_request_memory_byte_seconds")} AS rm,
               {_q("pod_limit_memory_byte_seconds")} AS lm,
               node_capacity_cpu_cores AS cap_cores,
               {_q("node_capacity_cpu_core_seconds", "$cpu_scale")} AS cap_cs,
               node_capacity_memory_bytes AS cap_mem,
               {_q("node_capacity_memory_byte_seconds")} AS cap_ms
        FROM ({union}) AS raw
        WHERE CASE WHEN {keys_empty} OR interval_end <= interval_start
                   THEN error(concat('{BAD_ROW_MARKER}', _file, '|'))
                   ELSE true END
    """


def namespace_day_sql(src: str) -> str:
    """One row per (usage_date, namespace, node): deduplicated line items summed."""
    return f"""
        WITH src AS NOT MATERIALIZED ({src}),
        line_items AS (
            SELECT namespace, pod, interval_start, count(*) AS copies,
                   max({{'f': file_rank, 'node': node, 'uc': uc,
                         'rc': rc, 'lc': lc, 'um': um, 'rm': rm, 'lm': lm}}) AS w
            FROM src WHERE in_period
            GROUP BY namespace, pod, interval_start
        ),
        pods AS (
            SELECT CAST(interval_start AS DATE) AS usage_date, namespace, w.node AS node, pod,
                   count(*) AS line_items, sum(copies) AS copies,
                   CAST(sum(w.uc) AS BIGINT) AS uc, CAST(sum(w.rc) AS BIGINT) AS rc,
                   CAST(sum(w.lc) AS BIGINT) AS lc,
                   CAST(sum(greatest(w.uc, w.rc)) AS BIGINT) AS ec,
                   CAST(sum(w.um) AS BIGINT) AS um, CAST(sum(w.rm) AS BIGINT) AS rm,
                   CAST(sum(w.lm) AS BIGINT) AS lm,
                   CAST(sum(greatest(w.um, w.rm)) AS BIGINT) AS em
            FROM line_items
            GROUP BY ALL
        )
        SELECT usage_date, namespace, node, count(*) AS pod_count,
               CAST(sum(line_items) AS BIGINT) AS line_items,
               CAST(sum(copies) AS BIGINT) AS rows_in,
               CAST(sum(uc) AS BIGINT) AS uc, CAST(sum(rc) AS BIGINT) AS rc,
               CAST(sum(lc) AS BIGINT) AS lc, CAST(sum(ec) AS BIGINT) AS ec,
               CAST(sum(um) AS BIGINT) AS um, CAST(sum(rm) AS BIGINT) AS rm,
               CAST(sum(lm) AS BIGINT) AS lm, CAST(sum(em) AS BIGINT) AS em
        FROM pods
        GROUP BY ALL
    """


CAPACITIES = ("cap_cores", "cap_cs", "cap_mem", "cap_ms")
# node_intervals (one row per node and interval) -> one row per (usage_date, node), and one row
# with a NULL date and node for the rows of other report periods.
NODE_DAY_FROM_INTERVALS = """
        SELECT CASE WHEN rows_in > 0 THEN CAST(interval_start AS DATE) END AS usage_date,
               CASE WHEN rows_in > 0 THEN node END AS node,
               CAST(sum(rows_other) AS BIGINT) AS rows_other,
               count(*) FILTER (WHERE rows_in > 0) AS intervals,
               count(*) FILTER (WHERE conflict) AS conflicts,
               max(cores) AS cores, CAST(sum(cs) AS BIGINT) AS cs,
               CAST(round_even(max(mem), 0) AS BIGINT) AS mem, CAST(sum(ms) AS BIGINT) AS ms
        FROM node_intervals
        GROUP BY ALL
"""


def node_day_sql(src: str) -> str:
    """One row per (usage_date, node): capacity counted once per node and interval.

    Also counts the rows of other report periods (``rows_other``, on a NULL-date row) and the
    node intervals whose rows disagree on capacity.
    """
    return f"""
        WITH src AS NOT MATERIALIZED ({src}),
        node_intervals AS (
            SELECT node, interval_start,
                   count(*) FILTER (WHERE NOT in_period) AS rows_other,
                   count(*) FILTER (WHERE in_period) AS rows_in,
                   max(cap_cores) FILTER (WHERE in_period) AS cores,
                   max(cap_cs) FILTER (WHERE in_period) AS cs,
                   max(cap_mem) FILTER (WHERE in_period) AS mem,
                   max(cap_ms) FILTER (WHERE in_period) AS ms,
                   (min(cap_cores) FILTER (WHERE in_period) <> max(cap_cores) FILTER (WHERE in_period)
                    OR min(cap_cs) FILTER (WHERE in_period) <> max(cap_cs) FILTER (WHERE in_period)
                    OR min(cap_mem) FILTER (WHERE in_period) <> max(cap_mem) FILTER (WHERE in_period)
                    OR min(cap_ms) FILTER (WHERE in_period) <> max(cap_ms) FILTER (WHERE in_period)
                   ) AS conflict
            FROM src
            GROUP BY node, interval_start
        )
        {NODE_DAY_FROM_INTERVALS}
    """


def node_interval_parts_sql(src: str) -> str:
    """The share of the rows of ``src`` (one input file's) in every node interval they have: row
    counts and the smallest and largest of each capacity (rows of the period only), with the
    interval's ``usage_date``."""
    extremes = ", ".join(f"{f}({c}) FILTER (WHERE in_period) AS {f}_{c}" for c in CAPACITIES for f in ("min", "max"))
    return f"""
        SELECT CAST(interval_start AS DATE) AS usage_date, node, interval_start,
               count(*) FILTER (WHERE NOT in_period) AS rows_other,
               count(*) FILTER (WHERE in_period) AS rows_in, {extremes}
        FROM ({src}) AS src
        GROUP BY ALL
    """


def node_day_sum_sql(parts: str) -> str:
    """:func:`node_day_sql` from the :func:`node_interval_parts_sql` rows of parts of the rows in
    ``parts``: counts add up, the maxima and minima of a node interval are those of its parts'."""
    conflict = " OR ".join(f"min(min_{c}) <> max(max_{c})" for c in CAPACITIES)
    return f"""
        WITH node_intervals AS (
            SELECT node, interval_start, sum(rows_other) AS rows_other, sum(rows_in) AS rows_in,
                   max(max_cap_cores) AS cores, max(max_cap_cs) AS cs,
                   max(max_cap_mem) AS mem, max(max_cap_ms) AS ms, ({conflict}) AS conflict
            FROM {parts}
            GROUP BY node, interval_start
        )
        {NODE_DAY_FROM_INTERVALS}
    """


def final_sql(ns_day: str) -> str:
    """The output rows of ``ns_day`` (a table or a scan), joined to ``node_day``, in output order."""
    return f"""
    SELECT n.usage_date, n.namespace, n.node, n.pod_count, n.line_items,
           n.rows_in - n.line_items AS duplicate_line_items,
           CAST(n.uc AS DOUBLE) / $cpu_div AS pod_usage_cpu_core_hours,
           CAST(n.rc AS DOUBLE) / $cpu_div AS pod_request_cpu_core_hours,
           CAST(n.lc AS DOUBLE) / $cpu_div AS pod_limit_cpu_core_hours,
           CAST(n.ec AS DOUBLE) / $cpu_div AS pod_effective_usage_cpu_core_hours,
           CAST(n.um AS DOUBLE) / $mem_div AS pod_usage_memory_gigabyte_hours,
           CAST(n.rm AS DOUBLE) / $mem_div AS pod_request_memory_gigabyte_hours,
           CAST(n.lm AS DOUBLE) / $mem_div AS pod_limit_memory_gigabyte_hours,
           CAST(n.em AS DOUBLE) / $mem_div AS pod_effective_usage_memory_gigabyte_hours,
           d.cores AS node_capacity_cpu_cores,
           CAST(d.cs AS DOUBLE) / $cpu_div AS node_capacity_cpu_core_hours,
           d.mem AS node_capacity_memory_bytes,
           CAST(d.ms AS DOUBLE) / $mem_div AS node_capacity_memory_gigabyte_hours,
           CAST(n.ec AS DOUBLE) / CAST(nullif(d.cs, 0) AS DOUBLE) AS cpu_share_of_node,
           CAST(n.em AS DOUBLE) / CAST(nullif(d.ms, 0) AS DOUBLE) AS memory_share_of_node
    FROM {ns_day} AS n LEFT JOIN node_day AS d USING (usage_date, node)
    ORDER BY n.usage_date, n.namespace, n.node
"""


# Bucketed line items (issue 15). The line-item aggregate has one group per line item; past what
# the engine holds, DuckDB spills it, but the memory it keeps outside its limit while doing so
# grows with the number of groups (1,057 MB at 100M line items under a 1,024 MB budget). Every
# copy of a line item has the same namespace, pod and interval, and the line items are folded to
# pod-days before anything else, so the rows are split by a hash of (namespace, pod, usage date)
# into buckets that are aggregated one at a time: a bucket's pod-days are final, no bucket shares
# one, and its namespace-day rows are sums over its pod-days, added up across buckets one usage
# date at a time (:func:`_write_by_date`). A pod-day is at most a day's intervals (24 hourly line
# items), so every bucket holds about 1/buckets of the line items. Hashing (namespace, usage
# date) instead, as first done, kept namespace-days whole, but one namespace-day grows with the
# cluster's density (a Zipf-sized namespace: 147,000 line items a day at 30M generated items), so
# the largest bucket grew with the input: 2.1M line items against a mean of 1.1M at 30M.
#
# Engine bytes per line item of the line-item aggregate without spilling (keys, the kept copy's
# struct, hash table): measured about 200 (3M line items under a 768 MB limit did not spill,
# 10M spilled 750 MB); rounded up.
LINE_ITEM_AGGREGATE_BYTES = 250
# Share of the engine's memory one bucket's aggregate may take: the scan, the pod-day fold and
# allocator slack take the rest.
BUCKET_MEMORY_SHARE = 0.5
# The shortest CSV line a koku line item plausibly takes (its four Go timestamps alone are 116
# bytes; generated line items take 279, the real sample's 295): the number of line items is
# estimated from the input's bytes before reading it, and over-estimating only adds buckets.
MIN_LINE_ITEM_CSV_BYTES = 200
# The partitioned write keeps, per thread, a buffer for every bucket until it holds this many
# rows in all; DuckDB's default (524,288) took 833 MB at 9 buckets and grew with the number of
# buckets; at 4,096 rows, 84 buckets took 413 MB, for the same CPU (3M line items, 1 GB budget).
SPILL_FLUSH_ROWS = 4096
# Rows per row group of a bucket's spill file: one such buffer per open bucket file.
SPILL_ROW_GROUP_ROWS = 16_384
# Bucket files the partitioned write keeps open (DuckDB's default; past it, files are closed and
# new ones opened), and what each open one holds outside DuckDB's memory_limit (measured: 1.3-1.8
# MB a bucket, 3M line items written into 16, 84 and 200 buckets).
SPILL_OPEN_FILES = 100
SPILL_WRITER_MB = 2
# The CSV reader fills whatever memory_limit it is given with buffers (510 MB of a 768 MB limit on
# 10 files, 61 MB on 3), although the write streams: the spill write runs under this share of the
# engine's memory less the open bucket files, so its peak does not depend on the input's size.
SPILL_MEMORY_SHARE = 0.5


def line_item_buckets(csv_bytes: int, budget: Budget) -> int:
    """How many (namespace, pod, usage date) hash buckets the line items of ``csv_bytes`` of CSV need
    so that one bucket's line-item aggregate fits in ``BUCKET_MEMORY_SHARE`` of the engine's memory.

    1 means one pass over the CSVs, no bucket spill (inputs of up to ~300 MB at a 1 GB budget).
    """
    line_items = csv_bytes // MIN_LINE_ITEM_CSV_BYTES
    per_bucket = max(1, int(budget.engine_memory_mb * 2**20 * BUCKET_MEMORY_SHARE) // LINE_ITEM_AGGREGATE_BYTES)
    return max(1, -(-line_items // per_bucket))


def spill_memory_mb(budget: Budget, buckets: int) -> int:
    """DuckDB's ``memory_limit`` in MiB while the CSVs are written to ``buckets`` bucket files."""
    writers = min(buckets, SPILL_OPEN_FILES) * SPILL_WRITER_MB
    return max(MIN_ENGINE_MB, int(budget.engine_memory_mb * SPILL_MEMORY_SHARE) - writers)


def spill_sql(src: str) -> str:
    """Every row of ``src`` with ``bucket``, its (namespace, pod, usage date) hash bucket of ``$buckets``."""
    return f"SELECT *, hash(namespace, pod, CAST(interval_start AS DATE)) % $buckets AS bucket FROM ({src}) AS src"


def namespace_day_sum_sql(partials: str) -> str:
    """``ns_day`` rows from the per-bucket ones of :func:`namespace_day_sql` in ``partials``: a pod-day
    is in one bucket, so every count and sum of a namespace-day is the sum of its buckets'."""
    sums = ", ".join(
        f"CAST(sum({c}) AS BIGINT) AS {c}"
        for c in ("pod_count", "line_items", "rows_in", "uc", "rc", "lc", "ec", "um", "rm", "lm", "em")
    )
    return f"SELECT usage_date, namespace, node, {sums} FROM {partials} GROUP BY usage_date, namespace, node"


@dataclass(frozen=True)
class _Counts:
    """The figures of one summary that are not its rows (see :class:`SummaryStats`)."""

    rows_in: int
    line_items: int
    rows_other: int
    intervals: int
    conflicts: int
    rows_out: int


NODE_COUNTS_SQL = (
    "SELECT coalesce(sum(rows_other), 0), coalesce(sum(intervals), 0), coalesce(sum(conflicts), 0) FROM node_day"
)


def _summarize_in_one_pass(
    con: duckdb.DuckDBPyConnection, src: str, params: dict[str, object], out: Path
) -> _Counts | None:
    """``ns_day`` and ``node_day`` straight from the CSVs (two scans), then one sorted ``COPY`` to
    ``out``: inputs whose line items fit one aggregate. ``None``: no line item of the period."""
    con.execute(f"CREATE TEMP TABLE ns_day AS {namespace_day_sql(src)}", params)
    con.execute(f"CREATE TEMP TABLE node_day AS {node_day_sql(src)}", params)
    rows_in, line_items = con.execute(
        "SELECT coalesce(sum(rows_in), 0), coalesce(sum(line_items), 0) FROM ns_day"
    ).fetchone()
    if rows_in == 0:
        return None
    (rows_out,) = con.execute(
        f"COPY ({final_sql('ns_day')}) TO $out (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE $rg)",
        {**FINAL_PARAMS, "out": str(out), "rg": OUTPUT_ROW_GROUP_ROWS},
    ).fetchone()
    return _Counts(rows_in, line_items, *con.execute(NODE_COUNTS_SQL).fetchone(), rows_out)


def _summarize_by_bucket(
    con: duckdb.DuckDBPyConnection,
    groups: Sequence[Sequence[SniffedFile]],
    params: dict[str, object],
    buckets: int,
    budget: Budget,
    out: Path,
) -> _Counts | None:
    """The summary through a bucket spill, every phase in pieces whose size does not grow with
    the input, to ``out``. ``None``: no line item of the period.

    1. Each CSV is read once and its validated, quantised rows written to parquet partitioned by
       (namespace, pod, usage date) hash bucket under the budget's spill folder, **one file at a
       time** (one ``COPY`` each, into its own sub-folder), so the write's memory does not grow
       with the number of input files.
       Each file's share of every node interval (:func:`node_interval_parts_sql`) is then
       aggregated from its spill, into one folder per usage date (``PARTITION_BY (usage_date)``).
    2. Each bucket is aggregated alone: line items -> pod-days -> its sums per namespace-day,
       written next to the spill, one folder per usage date.
    3. The buckets' sums are added up, joined and written one usage date at a time, in output
       order (:func:`_write_by_date`).

    ``params``: :func:`_params` of all ``groups`` (the file ranks of the duplicate rule are
    global). The spill is removed on return.
    """
    folder = Path(tempfile.mkdtemp(prefix="pod_usage-", dir=budget.spill_path()))
    items, ns_day, nodes = folder / "items", folder / "ns_day", folder / "nodes"
    for sub in (items, ns_day, nodes):
        sub.mkdir()
    by_date = "(FORMAT parquet, PARTITION_BY (usage_date), WRITE_PARTITION_COLUMNS true)"
    try:
        con.execute(f"SET memory_limit = '{spill_memory_mb(budget, buckets)}MB'")
        con.execute(f"SET partitioned_write_flush_threshold = {SPILL_FLUSH_ROWS}")
        con.execute(f"SET partitioned_write_max_open_files = {SPILL_OPEN_FILES}")
        shared = {k: v for k, v in params.items() if not k.startswith("files")}
        files = [f for g in groups for f in g]
        writing = Progress(log, "pod_usage spill by bucket", total=len(files), unit="files")
        for n, sniffed in enumerate(files):
            # One COPY over all the files measured 201 MiB of a 200 MiB limit at 55 % of 100 CSVs
            # (100M line items, 83 buckets): the multi-file read's buffers grew with the files read.
            (rows,) = con.execute(
                f"COPY ({spill_sql(source_sql([[sniffed]]))}) TO $folder (FORMAT parquet, PARTITION_BY (bucket), "
                f"ROW_GROUP_SIZE {SPILL_ROW_GROUP_ROWS}, COMPRESSION snappy)",
                {**shared, "files0": [str(sniffed.path)], "buckets": buckets, "folder": str(items / f"{n:05d}")},
            ).fetchone()
            # The file's share of the node intervals, from its spill just written (6 columns). Per
            # file, not per bucket: a bucket has rows of nearly every node interval (its pods run
            # on every node), so per-bucket shares would be buckets x node intervals rows; a file
            # covers its report's hours (koku exports in interval order), so the files' shares
            # add up to about the node intervals once, at the cost of one aggregate as large as
            # the node intervals in one file (at most its rows).
            file_src = "SELECT * FROM read_parquet($spilled, hive_partitioning = false)"
            con.execute(
                f"COPY ({node_interval_parts_sql(file_src)}) TO $out {by_date}",
                {"spilled": str(items / f"{n:05d}" / "*" / "*.parquet"), "out": str(nodes / f"{n:05d}")},
            )
            writing.add(rows=rows)
        writing.done()
        con.execute(f"SET memory_limit = '{budget.engine_memory_mb}MB'")
        parts = sorted({p.name for p in items.glob("*/bucket=*")})
        if not parts:
            return None
        # Each bucket's sums are written out, one folder per usage date, not kept in a table
        # that would grow with the output while the next buckets run.
        progress = Progress(log, "pod_usage line items", total=len(parts), unit="buckets")
        for i, part in enumerate(parts):
            bucket_src = "SELECT * FROM read_parquet($part, hive_partitioning = false)"
            con.execute(
                f"COPY ({namespace_day_sql(bucket_src)}) TO $out {by_date}",
                {"part": str(items / "*" / part / "*.parquet"), "out": str(ns_day / f"{i:05d}")},
            )
            progress.add()
        progress.done()
        shutil.rmtree(items)  # not needed any more: the disk it takes is the input's order
        rows_in, line_items = con.execute(
            "SELECT coalesce(sum(rows_in), 0), coalesce(sum(line_items), 0) "
            "FROM read_parquet($ns_day, hive_partitioning = false)",
            {"ns_day": str(ns_day / "*" / "*" / "*.parquet")},
        ).fetchone()
        if rows_in == 0:
            return None
        return _Counts(rows_in, line_items, *_write_by_date(con, ns_day, nodes, folder, out))
    finally:
        shutil.rmtree(folder)


# Rows per row group of the output: DuckDB's default, written out so that the one-pass output
# (one sorted COPY) and the one assembled date by date (:func:`_write_by_date`) have the same
# row groups, hence the same bytes.
OUTPUT_ROW_GROUP_ROWS = 122_880
# Output columns that may be NULL (the node's side of the join); the others never are.
NULLABLE_COLUMNS = SUMMARY_COLUMNS[SUMMARY_COLUMNS.index("node_capacity_cpu_cores") :]
FINAL_PARAMS = {"cpu_div": CPU_HOURS_DIVISOR, "mem_div": MEMORY_GB_HOURS_DIVISOR}


def _day_folders(root: Path) -> dict[date, str]:
    """``usage_date=<day>`` folder names under ``root``'s bucket folders, by day."""
    return {date.fromisoformat(p.name.split("=", 1)[1]): p.name for p in root.glob("*/usage_date=*")}


def _write_by_date(
    con: duckdb.DuckDBPyConnection, ns_day: Path, nodes: Path, folder: Path, out: Path
) -> tuple[int, int, int, int]:
    """Write the output to ``out`` from the buckets' namespace-day sums under ``ns_day`` and the
    files' node-interval shares under ``nodes`` (one ``usage_date=<day>`` folder per day in each
    bucket's or file's folder), one day at a time. Returns ``(rows_other, intervals, conflicts, rows_out)``.

    The output is sorted by usage date first, so the days' sorted rows, concatenated in date
    order, are the output in order: each day's ``node_day`` and namespace-day rows are added up
    from the parts', joined and sorted alone (a day holds at most namespaces x nodes rows and
    nodes x 24 node intervals, however long the input). The concatenation is then written in
    slices of exactly :data:`OUTPUT_ROW_GROUP_ROWS` rows, each one parquet file of one row group,
    and the slices streamed in order into ``out`` by one ``COPY``, so the file has the row groups
    of one sorted ``COPY`` and the same bytes (the bytes are the tests' and the benchmark's check).
    """
    ns_days, node_days = _day_folders(ns_day), _day_folders(nodes)  # every day has node rows
    (folder / "days").mkdir()
    pieces: list[str] = []
    starts = [0]
    totals = [0, 0, 0]  # rows of other periods, node intervals, capacity conflicts
    progress = Progress(log, "pod_usage output", total=len(node_days), unit="days")
    for day in sorted(node_days):
        day_parts = "read_parquet($day, hive_partitioning = false)"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE node_day AS {node_day_sum_sql(day_parts)}",
            {"day": str(nodes / "*" / node_days[day] / "*.parquet")},
        )
        totals = [t + int(n) for t, n in zip(totals, con.execute(NODE_COUNTS_SQL).fetchone(), strict=True)]
        if day in ns_days:  # else: only rows of other report periods that day
            piece = str(folder / "days" / f"{len(pieces):06d}.parquet")
            (rows,) = con.execute(
                f"COPY ({final_sql(f'({namespace_day_sum_sql(day_parts)})')}) TO $out (FORMAT parquet)",
                {**FINAL_PARAMS, "day": str(ns_day / "*" / ns_days[day] / "*.parquet"), "out": piece},
            ).fetchone()
            pieces.append(piece)
            starts.append(starts[-1] + rows)
        progress.add()
    progress.done()
    # Slices: the rows at positions [lo, lo + OUTPUT_ROW_GROUP_ROWS) of the concatenation, read
    # from the few days they span (a day's position = its first row's + the row's in its file).
    (folder / "slices").mkdir()
    slices: list[str] = []
    for lo in range(0, starts[-1], OUTPUT_ROW_GROUP_ROWS):
        hi = lo + OUTPUT_ROW_GROUP_ROWS
        span = [i for i in range(len(pieces)) if starts[i] < hi and starts[i + 1] > lo]
        piece_slice = str(folder / "slices" / f"{len(slices):06d}.parquet")
        con.execute(
            "COPY (SELECT * EXCLUDE (filename, file_row_number, pos) FROM ("
            "  SELECT *, $starts[list_position($files, filename)] + file_row_number AS pos"
            "  FROM read_parquet($files, filename = true, file_row_number = true)"
            ") WHERE pos >= $lo AND pos < $hi ORDER BY pos) TO $out (FORMAT parquet, ROW_GROUP_SIZE $rg)",
            {
                "files": [pieces[i] for i in span],
                "starts": [starts[i] for i in span],
                "lo": lo,
                "hi": hi,
                "out": piece_slice,
                "rg": OUTPUT_ROW_GROUP_ROWS,
            },
        )
        slices.append(piece_slice)
    # One scan per slice, in a UNION ALL: a single-file scan carries its file's statistics, so
    # the columns without NULLs are written `required`, as from the one-pass tables; a multi-file
    # scan has none. The node's columns are written `optional` as the one-pass join makes them.
    columns = ", ".join(
        f'CASE WHEN "{c}" IS NULL THEN NULL ELSE "{c}" END AS "{c}"' if c in NULLABLE_COLUMNS else f'"{c}"'
        for c in SUMMARY_COLUMNS
    )
    union = " UNION ALL ".join(f"SELECT * FROM read_parquet($s{i})" for i in range(len(slices)))
    con.execute("SET preserve_insertion_order = true")  # the slices' order is the output's
    con.execute(
        f"COPY (SELECT {columns} FROM ({union})) TO $out (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE $rg)",
        {**{f"s{i}": s for i, s in enumerate(slices)}, "out": str(out), "rg": OUTPUT_ROW_GROUP_ROWS},
    )
    con.execute("SET preserve_insertion_order = false")
    return totals[0], totals[1], totals[2], starts[-1]


def period_start(report_period: str | None) -> datetime | None:
    """``"2019-02"`` -> ``datetime(2019, 2, 1)`` (naive UTC, as the reader yields); ``None`` -> all."""
    if report_period is None:
        return None
    return datetime.strptime(report_period[:7], "%Y-%m")


def _params(groups: Sequence[Sequence[SniffedFile]], report_period: str | None) -> dict[str, object]:
    params: dict[str, object] = {f"files{i}": [str(s.path) for s in g] for i, g in enumerate(groups)}
    # Files ranked by path: the duplicate rule keeps the copy of the highest rank. An integer in
    # the line-item hash table instead of the path string (heap-allocated beyond 12 bytes).
    params["file_order"] = sorted(str(s.path) for g in groups for s in g)
    params["period"] = period_start(report_period)
    params["cpu_scale"] = CPU_SCALE
    return params


def _located(exc: duckdb.Error, groups: Sequence[Sequence[SniffedFile]]) -> Exception:
    """Turn an engine error into a :class:`PodUsageInputError` naming the file and line."""
    text = str(exc)
    if BAD_ROW_MARKER in text:
        path = Path(text.split(BAD_ROW_MARKER, 1)[1].split("|", 1)[0])
        found = find_bad_row(path)
        if found:
            return PodUsageInputError(path, found[1], line=found[0])
        return PodUsageInputError(path, "a row with an empty key or an interval ending before it starts")
    named = engine_file(text)
    known = {str(s.path): s.path for g in groups for s in g}
    if named in known:
        return PodUsageInputError(known[named], engine_problem(text), line=engine_line(text))
    return exc


def _no_line_items(files: Sequence[Path], report_period: str | None) -> NoPodUsageFiles:
    return NoPodUsageFiles(
        f"no line item of report period {report_period} in {len(files)} file(s): {[str(f) for f in files][:5]}"
    )


def summarize_files(
    files: Sequence[Path],
    output: Path,
    budget: Budget,
    *,
    report_period: str | None = None,
    buckets: int | None = None,
) -> SummaryStats:
    """Summarise pod usage line items of ``files`` to one parquet file of daily rows.

    Args:
        files: koku pod usage CSVs (any column order; see :mod:`pod_usage.format`).
        output: the final parquet path, written atomically (temporary name, then rename): on any
            error the previous output stays in place.
        budget: DuckDB ``memory_limit``/``threads``/``temp_directory`` for the whole summary.
        report_period: ``"YYYY-MM"`` keeps only rows whose ``report_period_start`` is that
            month (the other rows are still read, validated and counted); ``None`` keeps all.
        buckets: (namespace, pod, usage date) hash buckets of the line-item aggregation; ``None``: from the
            input's size and the budget (:func:`line_item_buckets`), 1: one pass, no spill.

    Returns:
        :class:`SummaryStats`; ``memory`` holds the peak RSS and DuckDB's own figures.

    Raises:
        NoPodUsageFiles: ``files`` is empty, or no row belongs to ``report_period``.
        PodUsageInputError: a missing column, a value that does not parse (e.g. non-numeric
            usage), an empty key or an interval that does not end after it starts; the message
            names the file and line.
    """
    if not files:
        raise NoPodUsageFiles("no pod usage CSV to summarise")
    started = time.perf_counter()
    groups = group_by_header(files)
    src = source_sql(groups)
    params = _params(groups, report_period)
    bytes_read = sum(f.stat().st_size for f in files)
    buckets = buckets or line_item_buckets(bytes_read, budget)
    con = budget.connect()
    # The folder is shared by every report period: the target's lock, and only its own leftovers.
    with atomic_output(output) as staged, contextlib.closing(con):
        removed = staged.stale_removed
        with PeakMemory(engine_probe=duckdb_probe(con)) as pm:
            try:
                if buckets == 1:
                    with duckdb_progress(con, log, "pod_usage summary"):
                        counts = _summarize_in_one_pass(con, src, params, staged.path)
                else:  # counts its own units (files, buckets, days): no per-statement percentages
                    counts = _summarize_by_bucket(con, groups, params, buckets, budget, staged.path)
            except duckdb.Error as exc:
                raise _located(exc, groups) from exc
            if counts is None:
                raise _no_line_items(files, report_period)
    return SummaryStats(
        output=str(output),
        report_period=report_period,
        files_read=len(files),
        bytes_read=bytes_read,
        rows_in=int(counts.rows_in),
        rows_other_periods=int(counts.rows_other),
        line_items=int(counts.line_items),
        duplicate_line_items=int(counts.rows_in - counts.line_items),
        rows_out=int(counts.rows_out),
        bytes_out=output.stat().st_size,
        node_intervals=int(counts.intervals),
        capacity_conflicts=int(counts.conflicts),
        seconds=time.perf_counter() - started,
        memory=pm.report,
        stale_temps_removed=removed,
        line_item_buckets=buckets,
        files=[str(f) for f in files],
    )
