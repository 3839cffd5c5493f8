"""Dagster resources shared by every code location: where data lives and how much memory a step gets.

With :mod:`memsafe.metadata`, the only modules of :mod:`memsafe` that import dagster. Values are
read when a run starts (``setup_for_execution``), never at import.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from memsafe.budget import Budget
from memsafe.settings import data_dir


class DataDirResource(dg.ConfigurableResource):
    """The data root: ``data_dir`` if set, else ``$MEMSAFE_DATA_DIR``, else ``<project>/data``."""

    data_dir: str | None = Field(
        default=None, description="Data root; default $MEMSAFE_DATA_DIR, then <project>/data"
    )

    def root(self) -> Path:
        return data_dir(self.data_dir)


class MemoryBudgetResource(dg.ConfigurableResource):
    """The memory, threads, batch size and spill folder of one heavy step.

    Every engine call of a step goes through :meth:`budget` -> :class:`memsafe.budget.Budget`,
    so DuckDB's ``memory_limit``/``threads``/``temp_directory`` are set in one place.
    """

    memory_mb: int = Field(default=2048, description="Whole-step memory budget (MiB)")
    threads: int = Field(default=2, description="Engine threads per step")
    batch_rows: int = Field(default=100_000, description="Rows per Arrow record batch")
    spill_dir: str | None = Field(
        default=None, description="Spill folder for the engine; default <data root>/spill"
    )

    def budget(self, root: Path | None = None) -> Budget:
        spill = self.spill_dir or (str(root / "spill") if root is not None else None)
        return Budget(
            memory_mb=self.memory_mb, threads=self.threads, batch_rows=self.batch_rows,
            spill_dir=spill,
        )


# Shared singletons: `Definitions.merge` requires the *same object* per resource key, so every
# definitions module binds these under the keys "data" and "budget".
DATA = DataDirResource()
BUDGET = MemoryBudgetResource()
SHARED_RESOURCES = {"data": DATA, "budget": BUDGET}
