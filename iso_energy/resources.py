"""The conversion budget: memory of one conversion and how many may run at once.

``max_concurrent`` is the code's proposal for the ``iso_conversion`` pool's limit:
:func:`iso_energy.instance.apply_pool_limit` (``make instance``) writes it into a single-machine
instance. The limit in the instance is the operator's (``dagster instance concurrency set
iso_conversion N`` on a cluster): a step never rewrites it, it only warns when the two disagree.
Each conversion also takes a place of the node-local admission
(:meth:`memsafe.resources.MemoryBudgetResource.admitted`), which holds even when Dagster's slot
claim lets one step too many through.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr

from memsafe import resources as memsafe_resources
from memsafe.admission import Place
from memsafe.budget import BudgetError, check_fits_node
from memsafe.resources import MemoryBudgetResource, record_step_host
from memsafe.settings import catalog_path, data_dir

POOL = "iso_conversion"


def pool_limit(instance: dg.DagsterInstance) -> int | None:
    """The instance's explicit slot count for :data:`POOL`, or ``None`` if never set."""
    return memsafe_resources.pool_limit(instance, POOL)


class ConversionBudgetResource(MemoryBudgetResource):
    """Memory budget of one market-operator conversion, and the number allowed at once.

    When a step starts it refuses a budget that does not fit the node (or pod) it runs on
    (:func:`memsafe.budget.check_fits_node`), warns if the instance's pool limit differs from
    ``max_concurrent`` (without changing it) and records its host and process ids on the run
    (:func:`memsafe.resources.record_step_host`, for slot reaping). The assets then hold a
    node-local place of the pool (:meth:`admitted`) around the conversion itself: after the
    pool slot, in every executor, so the two are always taken in the same order.
    """

    max_concurrent: int = Field(default=2, description=f"Conversions at once (limit of pool '{POOL}')")

    # A budget that does not fit the node, found at setup and raised when the step asks for its
    # place (:meth:`admitted`): raised in setup it would end the step with no STEP_FAILURE on
    # Celery, and the pool slot would stay claimed until run monitoring frees it.
    _unfit: BudgetError | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        try:
            check_fits_node(self.memory_mb)
        except BudgetError as exc:
            self._unfit = exc
            context.log.error(str(exc))
        instance = context.instance
        current = pool_limit(instance)
        if current is None:
            context.log.warning(
                f"pool '{POOL}' has no limit in this instance; run `make instance` "
                f"(or `dagster instance concurrency set {POOL} N`) before launching work"
            )
        elif current != self.max_concurrent:
            context.log.warning(
                f"pool '{POOL}' limit is {current} in the instance, {self.max_concurrent} in "
                f"the code (ConversionBudgetResource.max_concurrent); keeping the instance's"
            )
        if instance is not None and context.run is not None:
            record_step_host(instance, context.run.run_id)

    @contextmanager
    def admitted(self, pool: str, context: dg.AssetExecutionContext) -> Iterator[Place]:
        """:meth:`MemoryBudgetResource.admitted`, after raising the setup's :class:`BudgetError` if any.

        Raises:
            BudgetError: one budget plus the step process does not fit this node.
        """
        if self._unfit is not None:
            raise self._unfit
        with super().admitted(pool, context) as place:
            yield place


class CatalogDuckDBResource(DuckDBResource):
    """dagster-duckdb's :class:`DuckDBResource` for the query catalog (see :mod:`iso_energy.catalog`).

    ``database`` defaults to ``$MEMSAFE_CATALOG``, then ``<data root>/catalog.duckdb``
    (:func:`memsafe.settings.catalog_path`), resolved when a run starts, never at import.
    """

    database: str = Field(
        default="", description="DuckDB file; default $MEMSAFE_CATALOG, then <data root>/catalog.duckdb"
    )

    def database_path(self, root: Path | None = None) -> Path:
        return catalog_path(root or data_dir(), self.database or None)

    @contextmanager
    def get_connection(self, root: Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        path = self.database_path(root)
        path.parent.mkdir(parents=True, exist_ok=True)
        with DuckDBResource(database=str(path), connection_config=self.connection_config).get_connection() as con:
            yield con
