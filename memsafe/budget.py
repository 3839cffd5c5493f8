"""Memory budgets: one place that bounds every engine call the same way.

A :class:`Budget` is the whole memory one heavy step may use (the Python process included).
DuckDB is given the budget less the process' own baseline, so the step's peak RSS, not only
DuckDB's buffer manager, stays inside the budget.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    import duckdb

# Python + pyarrow + duckdb loaded, before any data: measured at about 150-200 MB RSS.
PROCESS_BASELINE_MB = 256
# What a three-location `dagster dev` uses before any work (webserver, daemon, code servers):
# about 1 GB, measured in ../shared/notes/dagster-1.13.md section 8.
DAGSTER_OVERHEAD_MB = 1024
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
        spill_dir: folder for the engine's spill files; ``None`` uses the system temp folder.
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
        path = Path(self.spill_dir) if self.spill_dir else Path(tempfile.gettempdir()) / "memsafe_spill"
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


def check_fits_machine(
    budget_mb: int, concurrent: int, *, machine_mb: int | None = None,
    overhead_mb: int = DAGSTER_OVERHEAD_MB,
) -> None:
    """Refuse ``concurrent`` steps of ``budget_mb`` each that cannot fit this machine.

    Raises:
        BudgetError: when ``budget_mb * concurrent + overhead_mb`` exceeds the machine's memory,
            or a value is not positive. The message gives every figure and what to change.
    """
    if budget_mb <= 0 or concurrent <= 0:
        raise BudgetError(f"memory budget ({budget_mb} MB) and concurrency ({concurrent}) must be positive")
    machine_mb = machine_mb if machine_mb is not None else machine_memory_mb()
    needed = budget_mb * concurrent + overhead_mb
    if needed > machine_mb:
        raise BudgetError(
            f"{concurrent} conversions x {budget_mb} MB + {overhead_mb} MB for Dagster's own "
            f"processes = {needed} MB, but this machine has {machine_mb} MB. Lower the per-"
            f"conversion memory budget or the number of conversions allowed at once."
        )


def cpu_count() -> int:
    """Usable CPU cores (affinity-aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1
