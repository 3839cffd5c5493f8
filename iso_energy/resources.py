"""The conversion budget: memory of one conversion and how many may run at once.

One source of truth: ``max_concurrent`` here is what :func:`iso_energy.instance.apply_pool_limit`
writes into the instance as the limit of the ``iso_conversion`` pool (Dagster enforces it for
backfills, multi-operator runs and ``dagster asset materialize`` alike), and every run checks the
instance still agrees before converting.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from iso_energy.catalog import CATALOG_FILE
from memsafe.budget import check_fits_machine
from memsafe.resources import MemoryBudgetResource
from memsafe.settings import data_dir

POOL = "iso_conversion"


def pool_limit(instance: dg.DagsterInstance) -> int | None:
    """The instance's explicit slot count for :data:`POOL`, or ``None`` if never set."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return None
    if POOL not in storage.get_concurrency_keys():
        return None
    return storage.get_concurrency_info(POOL).slot_count


class ConversionBudgetResource(MemoryBudgetResource):
    """Memory budget of one market-operator conversion, and the number allowed at once.

    At run start it refuses a configuration whose ``memory_mb x max_concurrent`` plus Dagster's
    own ~1 GB does not fit this machine (:class:`memsafe.budget.BudgetError`), and it re-applies
    ``max_concurrent`` to the instance's pool if someone changed or never set it.
    """

    max_concurrent: int = Field(default=2, description=f"Conversions at once (limit of pool '{POOL}')")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        check_fits_machine(self.memory_mb, self.max_concurrent)
        instance = context.instance
        if instance is None or not instance.event_log_storage.supports_global_concurrency_limits:
            return
        current = pool_limit(instance)
        if current != self.max_concurrent:
            instance.event_log_storage.set_concurrency_slots(POOL, self.max_concurrent)
            context.log.warning(
                f"pool '{POOL}' limit was {current}, set to {self.max_concurrent} from the conversion "
                f"budget; run `make instance` before launching work so the first runs are limited too"
            )




class CatalogDuckDBResource(DuckDBResource):
    """dagster-duckdb's :class:`DuckDBResource` for the query catalog (see :mod:`iso_energy.catalog`).

    ``database`` defaults to ``<data root>/catalog.duckdb``, resolved when a run starts (the data
    root is ``$MEMSAFE_DATA_DIR`` or the ``data`` resource's folder), never at import.
    """

    database: str = Field(default="", description=f"DuckDB file; default <data root>/{CATALOG_FILE}")

    def database_path(self, root: Path | None = None) -> Path:
        return Path(self.database) if self.database else (root or data_dir()) / CATALOG_FILE

    @contextmanager
    def get_connection(self, root: Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        path = self.database_path(root)
        path.parent.mkdir(parents=True, exist_ok=True)
        with DuckDBResource(database=str(path), connection_config=self.connection_config).get_connection() as con:
            yield con
