"""Dagster resources shared by every code location: where data lives and how much memory a step gets.

With :mod:`memsafe.metadata`, the only modules of :mod:`memsafe` that import dagster. Values are
read when a run starts (``setup_for_execution``), never at import.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psutil
from pydantic import Field

from memsafe.admission import Place, admit, node_slots
from memsafe.budget import Budget
from memsafe.settings import data_dir, spill_dir


class DataDirResource(dg.ConfigurableResource):
    """The data root: ``data_dir`` if set, else ``$MEMSAFE_DATA_DIR``, else ``<project>/data``."""

    data_dir: str | None = Field(default=None, description="Data root; default $MEMSAFE_DATA_DIR, then <project>/data")

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
        default=None, description="Spill folder for the engine; default $MEMSAFE_SPILL_DIR, then node-local disk"
    )
    max_concurrent: int = Field(
        default=2, description="Steps of this budget at once per pool (the pool's limit, `make instance`)"
    )

    def budget(self, root: Path | None = None) -> Budget:
        # Node-local by default (memsafe.settings.spill_dir), never the shared data root: ``root``
        # is accepted for callers that pass it, and no longer decides the spill folder.
        spill = str(spill_dir(self.spill_dir))
        return Budget(
            memory_mb=self.memory_mb,
            threads=self.threads,
            batch_rows=self.batch_rows,
            spill_dir=spill,
        )

    @contextmanager
    def admitted(self, pool: str, context: dg.InitResourceContext | dg.AssetExecutionContext) -> Iterator[Place]:
        """Hold a place of ``pool`` on this node (:func:`memsafe.admission.admit`) for the block.

        The node's places are :func:`memsafe.admission.node_slots` of ``memory_mb``, capped by the
        pool's limit in the instance (the operator's figure), or ``max_concurrent`` where the
        instance has none: however many steps Dagster's claim lets through at once, no more than
        that run their heavy work together on one node. Waiting is logged to ``context.log``.
        """
        limit = pool_limit(context.instance, pool) or self.max_concurrent
        with admit(pool, node_slots(self.memory_mb, limit), log=context.log.info) as place:
            yield place


STEP_HOSTS_TAG = "memsafe/step_hosts"


def record_step_host(instance: dg.DagsterInstance, run_id: str) -> None:
    """Add this host and this process' pid and its ancestors' to the run's ``memsafe/step_hosts`` tag.

    The tag is JSON ``{host: [pid, ...]}``. :func:`iso_energy.instance.reap_dead_runs` frees a
    run's slots only when every pid the run's events name is listed here under its own host and
    is gone: Dagster records pids but not hosts. Concurrent steps of one run may lose each
    other's entry; a missing entry only makes reaping more cautious.
    """
    run = instance.get_run_by_id(run_id)
    if run is None:
        return
    hosts = json.loads(run.tags.get(STEP_HOSTS_TAG, "{}"))
    me = psutil.Process()
    pids = {me.pid, *(p.pid for p in me.parents() if p.pid > 1)}
    host = socket.gethostname()
    hosts[host] = sorted(pids | set(hosts.get(host, [])))
    instance.add_run_tags(run_id, {STEP_HOSTS_TAG: json.dumps(hosts, sort_keys=True)})


def pool_limit(instance: dg.DagsterInstance | None, pool: str) -> int | None:
    """The instance's explicit slot count for ``pool``, or ``None`` if never set (or no instance)."""
    if instance is None:
        return None
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits or pool not in storage.get_concurrency_keys():
        return None
    return storage.get_concurrency_info(pool).slot_count


# Shared singletons: `Definitions.merge` requires the *same object* per resource key, so every
# definitions module binds these under the keys "data" and "budget".
DATA = DataDirResource()
BUDGET = MemoryBudgetResource()
SHARED_RESOURCES = {"data": DATA, "budget": BUDGET}
