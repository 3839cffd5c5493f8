"""Memory budgets: one place that bounds every engine call the same way.

A :class:`Budget` is the whole memory one heavy step may use (the Python process included).
DuckDB is given the budget less the process' own baseline, so the step's peak RSS, not only
DuckDB's buffer manager, stays inside the budget.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psutil

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
    pools: dict[str, tuple[int, int]], *, machine_mb: int | None = None, stack_mb: int = DAGSTER_STACK_MB,
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
    budget_mb: int, concurrent: int, *, machine_mb: int | None = None,
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
