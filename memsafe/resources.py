"""Dagster resources shared by every code location: where data lives and how much memory a step gets.

With :mod:`memsafe.metadata`, :mod:`memsafe.sensors` and :mod:`memsafe.demo`, the only modules of
:mod:`memsafe` that import dagster; :func:`step_logging` is where the plain modules' ``logging``
records meet a step's Dagster log. Values are read when a run starts, never at import.
"""

from __future__ import annotations

import json
import logging
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

# The packages whose plain logic logs through `logging` (never dagster): during a heavy step their
# INFO records (progress lines, waits for a place on the node) go to the step's Dagster log.
STEP_LOGGERS = ("memsafe", "iso_energy", "probe_rows", "tabular", "pod_usage")


class _DagsterLogHandler(logging.Handler):
    """Hands each record to a Dagster log manager (``context.log``) at the record's level."""

    def __init__(self, dagster_log) -> None:
        super().__init__(logging.INFO)
        self.dagster_log = dagster_log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.dagster_log.log(record.levelno, self.format(record))
        except Exception:  # noqa: BLE001 - logging must never fail the step (logging's own convention)
            self.handleError(record)


@contextmanager
def step_logging(context: dg.AssetExecutionContext | dg.InitResourceContext, names=STEP_LOGGERS) -> Iterator[None]:
    """Forward INFO and above of the plain-logic loggers ``names`` to ``context.log`` for the block.

    Plain modules log with ``logging.getLogger(__name__)``; this is the one place their records
    meet Dagster. The loggers' levels are lowered to INFO for the block and restored after.
    """
    handler = _DagsterLogHandler(context.log)
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        if lg.getEffectiveLevel() > logging.INFO:
            lg.setLevel(logging.INFO)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)


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
        that run their heavy work together on one node. For the block, the plain logic's log
        records (the wait for a place, progress lines) go to ``context.log`` (:func:`step_logging`).
        """
        limit = pool_limit(context.instance, pool) or self.max_concurrent
        with step_logging(context), admit(pool, node_slots(self.memory_mb, limit)) as place:
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
