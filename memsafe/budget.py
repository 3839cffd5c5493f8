"""Memory budgets: one place that bounds every engine call the same way.

A :class:`Budget` is the whole memory one heavy step may use (the Python process included).
DuckDB is given the budget less the process' own baseline, so the step's peak RSS, not only
DuckDB's buffer manager, stays inside the budget.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:  # neither is imported at run time: a process that never uses them does not pay for them
    import duckdb
    import pyarrow as pa

from memsafe.settings import spill_dir

# Python + pyarrow + duckdb loaded, before any data: measured at about 150-200 MB RSS.
PROCESS_BASELINE_MB = 256
# What the idle Dagster stack of a single-machine instance takes: `dagster dev -w workspace.yaml`
# (webserver, daemon, one code server per location; 9 processes) measured at 1311 MiB summed RSS
# (907 MiB USS) on an empty instance, Dagster 1.13.27, 2026-12-02; 1.55 GB after `make demo`
# (issue 13). Rounded up to the latter. Only `make instance` counts it: on a cluster the stack
# does not run beside the steps.
DAGSTER_STACK_MB = 1536
MIN_ENGINE_MB = 128
# DuckDB's sorts and windows need working memory per thread: with less than this per thread a
# small budget runs out of memory instead of spilling, so threads are reduced to fit.
MIN_MB_PER_THREAD = 128
# Record batches held at once by a streaming step: the reader's decoded row group, the batch being
# processed (a ``take`` copy), the batch in the writer threads, encoding buffers and allocator
# slack (measured: a tabular split at 2M x 400 peaked at 1,080 MB with six, over 1,024 MB).
BATCHES_IN_MEMORY = 8
MIN_BATCH_ROWS = 1024
# No record batch larger than this, whatever the budget: past it a batch is no faster (the fixed
# costs per batch are long amortised) and only raises the peak. Without it a wide table takes the
# budget's whole share per batch while a narrow one stops at its row cap: a split of the seeds'
# 831-column table at 2048 MB took 35k-row batches of 224 MB and peaked at 1,612 MB, against
# 1,183 MB for the 200-column table, whose 100k-row cap is 155 MB (issue 15, bench/RESULTS.md).
MAX_BATCH_MB = 160
# Memory a streaming step holds per column beside its batches, whatever their size: the Parquet
# reader's per-column dictionary, page and record buffers for the row group being read (measured
# 270 MB at the seeds' 831 columns and 50k-row row groups with a 64 KB read buffer: a third of a
# MB a column) and each writer's per-column state. Each of the ``BATCHES_IN_MEMORY`` batches gives
# up its share, so at the same budget an 831-column table's peak stays near a 200-column one's
# (issue 15: 1,289 / 1,324 MB against 916 / 885 MB at 3M rows with 160 MB batches for both).
COLUMN_STATE_MB = 1 / 3


class BudgetError(ValueError):
    """A memory budget that cannot be honoured on this machine."""


@dataclass(frozen=True)
class Budget:
    """Memory and CPU given to one heavy step.

    Attributes:
        memory_mb: whole-step budget in MiB (process RSS, engine included).
        threads: engine threads (DuckDB ``threads``, pyarrow readers).
        batch_rows: rows per Arrow record batch when streaming.
        spill_dir: folder for the engine's spill files; ``None``: :func:`memsafe.settings.spill_dir`
            (``$MEMSAFE_SPILL_DIR``, else node-local disk).
    """

    memory_mb: int = 2048
    threads: int = 2
    batch_rows: int = 100_000
    spill_dir: str | None = None

    @property
    def engine_memory_mb(self) -> int:
        """The DuckDB ``memory_limit`` in MiB: the budget less the process baseline."""
        return max(MIN_ENGINE_MB, self.memory_mb - PROCESS_BASELINE_MB)

    @property
    def engine_threads(self) -> int:
        """Threads DuckDB gets: ``threads``, reduced so each has ``MIN_MB_PER_THREAD``."""
        return max(1, min(self.threads, self.engine_memory_mb // MIN_MB_PER_THREAD))

    def batch_rows_for(self, schema: pa.Schema) -> int:
        """Rows per record batch of ``schema`` within this budget, at most :attr:`batch_rows`."""
        return batch_rows_for(schema, self.memory_mb, self.batch_rows)

    def spill_path(self) -> Path:
        """The spill folder, created if absent."""
        path = spill_dir(self.spill_dir)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def connect(self, database: str = ":memory:") -> duckdb.DuckDBPyConnection:
        """Open a DuckDB connection bounded by this budget.

        Sets ``memory_limit``, ``threads`` (see :attr:`engine_threads`), ``temp_directory``
        (spilling goes there, not to RAM) and ``preserve_insertion_order=false`` (lets DuckDB
        stream without buffering for order).
        Timestamps are handled in UTC whatever the machine's zone.
        """
        import duckdb  # here, not at module level: polars-only steps (probe grouping) skip its import

        con = duckdb.connect(
            database,
            config={
                "memory_limit": f"{self.engine_memory_mb}MB",
                "threads": self.engine_threads,
                "temp_directory": str(self.spill_path()),
                "preserve_insertion_order": False,
            },
        )
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")  # a session setting; logs, not bars
        return con


def machine_memory_mb() -> int:
    """Physical memory of this machine in MiB (respects a cgroup limit when one is lower)."""
    total = psutil.virtual_memory().total
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            raw = Path(path).read_text().strip()
        except OSError:
            continue
        if raw.isdigit():
            total = min(total, int(raw))
    return total // (1024 * 1024)


def check_fits_node(budget_mb: int, *, machine_mb: int | None = None) -> None:
    """Refuse a step budget that cannot fit the node (or pod, through its cgroup) it runs on.

    One step needs ``budget_mb`` plus its own process (Python, Dagster, engines loaded:
    :data:`PROCESS_BASELINE_MB`). How many steps a cluster runs at once is the pools' business,
    not this node's, so nothing else is added.

    Raises:
        BudgetError: ``budget_mb`` not positive, or ``budget_mb + PROCESS_BASELINE_MB`` exceeds the
            node's memory. The message gives every figure.
    """
    if budget_mb <= 0:
        raise BudgetError(f"memory budget ({budget_mb} MB) must be positive")
    machine_mb = machine_mb if machine_mb is not None else machine_memory_mb()
    needed = budget_mb + PROCESS_BASELINE_MB
    if needed > machine_mb:
        raise BudgetError(
            f"one step of {budget_mb} MB + {PROCESS_BASELINE_MB} MB for its process = {needed} MB, but this "
            f"node has {machine_mb} MB. Lower the step's memory budget or give the pod/node more memory."
        )


def check_pools_fit_machine(
    pools: dict[str, tuple[int, int]],
    *,
    machine_mb: int | None = None,
    stack_mb: int = DAGSTER_STACK_MB,
) -> int:
    """Refuse pools whose steps, all running at once beside Dagster, cannot fit one machine.

    For a single-machine instance (``make instance``): ``pools`` maps each pool to
    ``(budget_mb, limit)``; the need is ``sum(budget_mb x limit) + stack_mb``. Returns the need in MB.

    Raises:
        BudgetError: a value is not positive, or the need exceeds the machine's memory. The
            message lists every pool's figures and what to change.
    """
    for name, (budget_mb, limit) in pools.items():
        if budget_mb <= 0 or limit <= 0:
            raise BudgetError(f"pool '{name}': memory budget ({budget_mb} MB) and limit ({limit}) must be positive")
    machine_mb = machine_mb if machine_mb is not None else machine_memory_mb()
    needed = sum(b * n for b, n in pools.values()) + stack_mb
    if needed > machine_mb:
        terms = " + ".join(f"{n} x {b} MB ({name})" for name, (b, n) in pools.items())
        raise BudgetError(
            f"{terms} + {stack_mb} MB for Dagster's own processes = {needed} MB, but this machine has "
            f"{machine_mb} MB. Lower a memory budget or the number of steps a pool allows at once."
        )
    return needed


def check_fits_machine(
    budget_mb: int,
    concurrent: int,
    *,
    machine_mb: int | None = None,
    overhead_mb: int = DAGSTER_STACK_MB,
) -> None:
    """One pool's form of :func:`check_pools_fit_machine`: ``concurrent`` steps of ``budget_mb``.

    Raises:
        BudgetError: when ``budget_mb * concurrent + overhead_mb`` exceeds the machine's memory,
            or a value is not positive.
    """
    if budget_mb <= 0 or concurrent <= 0:
        raise BudgetError(f"memory budget ({budget_mb} MB) and concurrency ({concurrent}) must be positive")
    check_pools_fit_machine({"steps": (budget_mb, concurrent)}, machine_mb=machine_mb, stack_mb=overhead_mb)


def cpu_count() -> int:
    """Usable CPU cores (affinity-aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def row_bytes(schema: pa.Schema) -> int:
    """Estimated in-memory bytes of one row: fixed widths, 16 for strings (offset + short text)."""
    total = 0
    for fld in schema:
        try:
            total += max(1, fld.type.bit_width // 8)
        except ValueError:  # strings and other variable-width types
            total += 16
    return max(total, 1)


def batch_rows_for(schema: pa.Schema, memory_mb: int, cap: int, baseline_mb: int = PROCESS_BASELINE_MB) -> int:
    """Rows per record batch so that :data:`BATCHES_IN_MEMORY` batches of ``schema`` fit in
    ``memory_mb`` (MiB) less the process baseline, and one batch holds at most
    :data:`MAX_BATCH_MB`, each less its share of the per-column state (:data:`COLUMN_STATE_MB`
    a column). At most ``cap``, at least :data:`MIN_BATCH_ROWS`."""
    usable = max(64, memory_mb - baseline_mb) * (1 << 20)
    per_batch = min(usable // BATCHES_IN_MEMORY, MAX_BATCH_MB << 20)
    per_batch -= int(len(schema) * COLUMN_STATE_MB * (1 << 20)) // BATCHES_IN_MEMORY
    return int(max(MIN_BATCH_ROWS, min(cap, per_batch // row_bytes(schema))))


def add_budget_flags(
    parser: argparse.ArgumentParser, *, memory_mb: int, threads: int = 2, spill_dir: bool = True
) -> None:
    """The CLIs' shared budget flags: ``--memory-mb``, ``--threads`` and (optionally) ``--spill-dir``.

    Read them back with :func:`budget_from_args`.
    """
    parser.add_argument(
        "--memory-mb", type=int, default=memory_mb, help=f"whole-process memory budget in MiB (default {memory_mb})"
    )
    parser.add_argument("--threads", type=int, default=threads, help=f"engine threads (default {threads})")
    if spill_dir:
        parser.add_argument(
            "--spill-dir", default=None, help="folder for the engine's spill files (default: the system temp folder)"
        )


def budget_from_args(
    args: argparse.Namespace, *, spill_default: str | os.PathLike[str] | None = None, **fields: object
) -> Budget:
    """The :class:`Budget` of flags added by :func:`add_budget_flags` (plus ``fields``, e.g.
    ``batch_rows``); ``spill_default`` applies when ``--spill-dir`` is absent or not given."""
    spill = getattr(args, "spill_dir", None) or (str(spill_default) if spill_default else None)
    return Budget(memory_mb=args.memory_mb, threads=args.threads, spill_dir=spill, **fields)
