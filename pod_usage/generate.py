"""Generate realistic koku pod usage line items at any size (tests, demo, benchmark).

Shape of the data: one report period (a calendar month, hourly intervals), ``nodes`` nodes of
mixed sizes, many namespaces, and pods that start and stop at random hours (long-running
services and short jobs). Each live pod yields one line item per hour. A job's last hour is
reported after it completed: usage empty, request and limit kept (as the operator does). Node
capacity repeats on every pod row of a node and interval, as in the real export.

Output: ``files`` CSV files ``pod_usage_<period>_<n>.csv`` in interval order, in the koku column
order, or with ``newer_format=True`` the newer export's order plus ``node_role``. With
``duplicate_fraction > 0`` a copy of that fraction of line items is written to an extra file
``pod_usage_<period>_reupload.csv`` (a re-uploaded report).

Memory: pods are planned in numpy (a few arrays of line-item length: about 40 bytes per line
item), CSV is written in chunks of ``chunk_rows`` through pyarrow. Deterministic for a seed.
Plain logic: no dagster import.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from pod_usage.format import KOKU_COLUMNS

NEWER_COLUMNS: tuple[str, ...] = (
    "interval_start",
    "interval_end",
    "report_period_start",
    "report_period_end",
    "namespace",
    "pod",
    "node",
    "node_role",
    "resource_id",
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
    "pod_labels",
)
GIB = 2**30
NODE_SIZES = ((4, 16), (8, 32), (16, 64), (32, 128), (64, 256))  # (cores, GiB)


@dataclass(frozen=True)
class GeneratedSample:
    files: list[Path]
    rows: int  # line items written, duplicates included
    duplicates: int


def go_time(t: datetime) -> str:
    """Go's ``time.Time`` string for a UTC instant: ``2019-02-01 00:00:00 +0000 UTC``."""
    return t.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def _plan_pods(rows: int, hours: int, nodes: int, namespaces: int, rng: np.random.Generator):
    """Pods with (namespace, node, start hour, lifetime) until ``rows`` line items are planned."""
    mean_life = max(4.0, hours / 6)
    n = max(1, int(rows / min(hours, mean_life) * 1.3) + 16)
    is_job = rng.random(n) < 0.35
    life = np.where(is_job, rng.integers(1, 13, n), rng.integers(hours // 4 + 1, hours + 1, n))
    life = np.minimum(life, hours)
    start = (rng.random(n) * (hours - life + 1)).astype(np.int64)
    total = np.cumsum(life)
    keep = int(np.searchsorted(total, rows)) + 1
    if keep > n or total[keep - 1] < rows:
        # Not enough planned pods (tiny months): repeat the plan; pods get distinct names anyway.
        reps = int(np.ceil(rows / total[-1]))
        is_job, life, start = np.tile(is_job, reps), np.tile(life, reps), np.tile(start, reps)
        total = np.cumsum(life)
        keep = int(np.searchsorted(total, rows)) + 1
    is_job, life, start = is_job[:keep], life[:keep].copy(), start[:keep]
    life[-1] -= int(total[keep - 1] - rows)  # exactly `rows` line items
    # Namespaces: a few big ones and a long tail (Zipf-like); nodes uniform.
    weights = 1.0 / np.arange(1, namespaces + 1)
    ns = rng.choice(namespaces, size=keep, p=weights / weights.sum())
    node = rng.integers(0, nodes, keep)
    return is_job, life, start, ns, node


@dataclass
class _Plan:
    """Every planned line item (arrays of line-item length) and the per-pod/per-node tables."""

    pod_of_row: np.ndarray
    hour: np.ndarray
    completed: np.ndarray
    pod_ns: np.ndarray
    pod_node: np.ndarray
    req_cpu: np.ndarray
    lim_cpu: np.ndarray
    req_mem: np.ndarray
    lim_mem: np.ndarray
    level: np.ndarray
    node_cores: np.ndarray
    node_mem: np.ndarray
    interval_text: np.ndarray
    ns_names: np.ndarray
    node_names: np.ndarray
    period_start: str
    period_end: str


def generate(
    out: Path,
    rows: int,
    *,
    period: str = "2024-01",
    files: int = 1,
    nodes: int | None = None,
    namespaces: int | None = None,
    seed: int = 0,
    newer_format: bool = False,
    duplicate_fraction: float = 0.0,
    chunk_rows: int = 500_000,
) -> GeneratedSample:
    """Write ``rows`` line items of report period ``period`` (``YYYY-MM``) under ``out``.

    Args:
        nodes / namespaces: defaults scale with ``rows`` (about 30 pods per node and hour).
        files: the line items are split over this many files, in interval order.
    Returns:
        The files written and the row counts.
    """
    if rows <= 0:
        raise ValueError(f"rows must be positive, got {rows}")
    rng = np.random.default_rng(seed)
    p0 = datetime.strptime(period, "%Y-%m")
    days = calendar.monthrange(p0.year, p0.month)[1]
    hours = days * 24
    per_hour = max(1, rows // hours)
    nodes = nodes or max(2, min(500, per_hour // 30 + 1))
    namespaces = namespaces or max(3, min(400, per_hour // 10 + 2))
    is_job, life, start, ns, node = _plan_pods(rows, hours, nodes, namespaces, rng)
    npods = len(life)

    # One line item per pod and hour, in interval order.
    pod_of_row = np.repeat(np.arange(npods), life)
    offset = np.arange(len(pod_of_row)) - np.repeat(np.cumsum(life) - life, life)
    hour = start[pod_of_row] + offset
    order = np.argsort(hour, kind="stable")
    pod_of_row, hour, offset = pod_of_row[order], hour[order], offset[order]
    # A job's last hour is reported after it completed: no usage, request and limit kept.
    completed = is_job[pod_of_row] & (offset == life[pod_of_row] - 1) & (life[pod_of_row] > 1)

    size = rng.integers(0, len(NODE_SIZES), nodes)
    req_cpu = rng.choice([0.05, 0.1, 0.25, 0.5, 1.0, 2.0], npods)
    req_mem = rng.choice([64, 128, 256, 512, 1024, 2048], npods) * 2**20
    plan = _Plan(
        pod_of_row=pod_of_row,
        hour=hour,
        completed=completed,
        pod_ns=ns,
        pod_node=node,
        req_cpu=req_cpu,
        lim_cpu=req_cpu * rng.choice([1.0, 1.5, 2.0], npods),
        req_mem=req_mem,
        lim_mem=req_mem * rng.choice([1, 2, 4], npods),
        level=rng.uniform(0.05, 1.6, npods),  # usage relative to request; > 1 bursts over it
        node_cores=np.array([NODE_SIZES[s][0] for s in size], dtype=np.int64),
        node_mem=np.array([NODE_SIZES[s][1] * GIB for s in size], dtype=np.int64),
        interval_text=np.array([go_time(p0 + timedelta(hours=h)) for h in range(hours + 1)], dtype=object),
        ns_names=np.array([f"ns-{i:03d}" for i in range(namespaces)], dtype=object),
        node_names=np.array([f"ip-10-0-{i // 250}-{i % 250}.ec2.internal" for i in range(nodes)], dtype=object),
        period_start=go_time(p0),
        period_end=go_time(p0 + timedelta(days=days)),
    )

    out.mkdir(parents=True, exist_ok=True)
    columns = NEWER_COLUMNS if newer_format else KOKU_COLUMNS
    bounds = np.linspace(0, rows, files + 1).astype(np.int64)
    written: list[Path] = []
    for f in range(files):
        path = out / f"pod_usage_{period}_{f:03d}.csv"
        _write_rows(path, columns, np.arange(bounds[f], bounds[f + 1]), chunk_rows, plan, seed)
        written.append(path)
    duplicates = 0
    if duplicate_fraction > 0:
        dup = np.flatnonzero(rng.random(rows) < duplicate_fraction)
        duplicates = len(dup)
        if duplicates:
            path = out / f"pod_usage_{period}_reupload.csv"
            _write_rows(path, columns, dup, chunk_rows, plan, seed)
            written.append(path)
    return GeneratedSample(files=written, rows=rows + duplicates, duplicates=duplicates)


def _write_rows(path: Path, columns, index: np.ndarray, chunk_rows: int, plan: _Plan, seed: int) -> None:
    """Write the planned line items at positions ``index`` to ``path``, ``chunk_rows`` at a time.

    Usage noise is seeded by line-item position, so a re-uploaded copy repeats the original's
    values exactly (as a real re-upload does).
    """
    opts = pacsv.WriteOptions(include_header=True, quoting_style="none")
    schema = _schema(columns)
    with pacsv.CSVWriter(path, schema, write_options=opts) as writer:
        for lo in range(0, len(index), chunk_rows):
            writer.write_table(_chunk(columns, schema, index[lo : lo + chunk_rows], plan, seed))


def _schema(columns) -> pa.Schema:
    types = {
        "pod_usage_cpu_core_seconds": pa.float64(),
        "pod_request_cpu_core_seconds": pa.float64(),
        "pod_limit_cpu_core_seconds": pa.float64(),
    }
    ints = {
        "pod_usage_memory_byte_seconds",
        "pod_request_memory_byte_seconds",
        "pod_limit_memory_byte_seconds",
        "node_capacity_cpu_cores",
        "node_capacity_cpu_core_seconds",
        "node_capacity_memory_bytes",
        "node_capacity_memory_byte_seconds",
    }
    return pa.schema([(c, types.get(c, pa.int64() if c in ints else pa.string())) for c in columns])


def _noise(index: np.ndarray, seed: int) -> np.ndarray:
    """A deterministic factor in [0.7, 1.3) per line-item position (hash, not a stream)."""
    h = (index.astype(np.uint64) + np.uint64(seed * 7919 + 1)) * np.uint64(0x9E3779B97F4A7C15)
    return 0.7 + 0.6 * ((h >> np.uint64(11)).astype(np.float64) / float(1 << 53))


def _chunk(columns, schema: pa.Schema, idx: np.ndarray, plan: _Plan, seed: int) -> pa.Table:
    pod = plan.pod_of_row[idx]
    hour = plan.hour[idx]
    node = plan.pod_node[pod]
    done = plan.completed[idx]
    factor = plan.level[pod] * _noise(idx, seed)
    n = len(idx)
    cols = {
        "report_period_start": np.full(n, plan.period_start, dtype=object),
        "report_period_end": np.full(n, plan.period_end, dtype=object),
        "interval_start": plan.interval_text[hour],
        "interval_end": plan.interval_text[hour + 1],
        "node": plan.node_names[node],
        "namespace": plan.ns_names[plan.pod_ns[pod]],
        "pod": np.char.add("pod-", pod.astype(str)).astype(object),
        "pod_usage_cpu_core_seconds": pa.array(np.round(plan.req_cpu[pod] * factor * 3600, 6), mask=done),
        "pod_request_cpu_core_seconds": plan.req_cpu[pod] * 3600,
        "pod_limit_cpu_core_seconds": plan.lim_cpu[pod] * 3600,
        "pod_usage_memory_byte_seconds": pa.array(
            np.round(plan.req_mem[pod] * np.minimum(factor, 1.9) * 3600).astype(np.int64), mask=done
        ),
        "pod_request_memory_byte_seconds": plan.req_mem[pod] * 3600,
        "pod_limit_memory_byte_seconds": plan.lim_mem[pod] * 3600,
        "node_capacity_cpu_cores": plan.node_cores[node],
        "node_capacity_cpu_core_seconds": plan.node_cores[node] * 3600,
        "node_capacity_memory_bytes": plan.node_mem[node],
        "node_capacity_memory_byte_seconds": plan.node_mem[node] * 3600,
        "resource_id": np.char.add("i-", node.astype(str)).astype(object),
        "pod_labels": np.char.add("app:svc", (pod % 97).astype(str)).astype(object),
        "node_role": np.array(["worker", "infra", "master"], dtype=object)[node % 3],
    }
    return pa.table({c: pa.array(cols[c], type=schema.field(c).type) for c in columns}, schema=schema)
