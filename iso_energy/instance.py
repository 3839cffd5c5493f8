"""Apply every location's pools to a single-machine Dagster instance: ``python -m iso_energy.instance``.

Each code location declares its pools once, in its definitions module, as ``POOLS`` (pool name ->
the budget resource of one step, whose ``max_concurrent`` is the proposed limit). This module
reads the locations from workspace.yaml, checks that every pool's steps running at once, plus the
measured idle Dagster stack (:data:`memsafe.budget.DAGSTER_STACK_MB`), fit this machine, and sets
each pool's limit explicitly (Dagster 1.13's daemon ignores ``default_limit`` on its first pass,
see ../shared/notes/dagster-1.13.md section 2.3). It also frees pool slots that dead runs of this
host still hold (:func:`reap_dead_runs`).

That is the single-machine policy (SQLite storage). On a shared instance (PostgreSQL) the limits
are the operator's (``dagster instance concurrency set POOL N``): only pools without a limit get
the code's figure, and no machine sum is checked, since steps run on other nodes.
Idempotent; ``make demo``, ``make ui`` and ``make instance`` run it. Needs ``DAGSTER_HOME``.
"""

from __future__ import annotations

import importlib
import json
import socket
from pathlib import Path

import dagster as dg
import psutil
import yaml

from iso_energy.resources import POOL, ConversionBudgetResource
from memsafe.budget import check_fits_machine, check_pools_fit_machine
from memsafe.resources import STEP_HOSTS_TAG, MemoryBudgetResource, pool_limit
from memsafe.settings import PROJECT_ROOT


def apply_pool_limit(instance: dg.DagsterInstance, conversion: ConversionBudgetResource) -> int:
    """Check the conversion budget fits this machine, then set the pool limit; returns the limit.

    Raises:
        BudgetError: ``memory_mb x max_concurrent`` + the Dagster stack exceeds the machine.
        RuntimeError: the instance cannot enforce pools (an ephemeral, in-memory instance).
    """
    check_fits_machine(conversion.memory_mb, conversion.max_concurrent)
    _require_pools(instance)
    instance.event_log_storage.set_concurrency_slots(POOL, conversion.max_concurrent)
    return conversion.max_concurrent


def _require_pools(instance: dg.DagsterInstance) -> None:
    if not instance.event_log_storage.supports_global_concurrency_limits:
        raise RuntimeError("this Dagster instance cannot enforce pools; set DAGSTER_HOME to dagster_home/")


def location_pools(workspace: Path = PROJECT_ROOT / "workspace.yaml") -> dict[str, MemoryBudgetResource]:
    """Every pool declared by the workspace's code locations (``POOLS`` of each definitions module).

    Raises:
        ValueError: two locations declare one pool with different budgets or limits.
    """
    pools: dict[str, MemoryBudgetResource] = {}
    for entry in yaml.safe_load(workspace.read_text())["load_from"]:
        module = importlib.import_module(entry["python_module"]["module_name"])
        for name, budget in getattr(module, "POOLS", {}).items():
            seen = pools.setdefault(name, budget)
            if (seen.memory_mb, seen.max_concurrent) != (budget.memory_mb, budget.max_concurrent):
                raise ValueError(f"pool '{name}' is declared twice with different budgets ({module.__name__})")
    return pools


def is_single_machine(instance: dg.DagsterInstance) -> bool:
    """Whether the instance's runs live in SQLite files, which only one host can use."""
    from dagster._core.storage.runs import SqliteRunStorage

    return isinstance(instance.run_storage, SqliteRunStorage)


def apply_pools(
    instance: dg.DagsterInstance, pools: dict[str, MemoryBudgetResource], *, single_machine: bool = True
) -> dict[str, int]:
    """Set each pool's limit; returns pool -> the limit now in the instance.

    ``single_machine``: check the sum first (:func:`memsafe.budget.check_pools_fit_machine`) and
    set every limit from the code. Otherwise set only the pools the operator has not set.

    Raises:
        BudgetError: on a single machine, the pools do not fit it together.
        RuntimeError: the instance cannot enforce pools.
    """
    _require_pools(instance)
    if single_machine:
        check_pools_fit_machine({name: (b.memory_mb, b.max_concurrent) for name, b in pools.items()})
    for name, budget in pools.items():
        if single_machine or pool_limit(instance, name) is None:
            instance.event_log_storage.set_concurrency_slots(name, budget.max_concurrent)
    return {name: pool_limit(instance, name) for name in pools}


def _process_gone(pid: int | None, since: float) -> bool:
    """Whether the process of this host that logged an event at ``since`` has exited (or its pid was reused)."""
    if pid is None:
        return False
    try:
        proc = psutil.Process(pid)
        # A killed process whose parent died too stays a zombie until init reaps it: it is gone.
        return proc.status() == psutil.STATUS_ZOMBIE or proc.create_time() > since + 1
    except psutil.NoSuchProcess:
        return True


def _provably_dead(instance: dg.DagsterInstance, run: dg.DagsterRun) -> int | None:
    """The pid of a dead run's last event if every process the run's events name ran on this host
    (recorded by its steps, :func:`memsafe.resources.record_step_host`) and the last one is gone."""
    here = set(json.loads(run.tags.get(STEP_HOSTS_TAG, "{}")).get(socket.gethostname(), []))
    events = [e for e in instance.all_logs(run.run_id) if e.dagster_event is not None]
    if not events or not here:
        return None
    if any(e.dagster_event.pid is not None and e.dagster_event.pid not in here for e in events):
        return None  # a process of another host, or one no step vouched for: leave it to run monitoring
    last = events[-1]
    return last.dagster_event.pid if _process_gone(last.dagster_event.pid, last.timestamp) else None


def reap_dead_runs(instance: dg.DagsterInstance, pools: list[str] | None = None) -> list[str]:
    """Free the pool slots of runs that can no longer give them back; return their run ids.

    A finished run's slots are freed. A run still marked STARTED is marked failed and freed only
    when it provably died on this host: every pid its events name was recorded by its steps as a
    process of this host, and the last one is gone (killed with SIGKILL, a crashed ``dagster asset
    materialize``). Runs of other hosts, or of processes nobody vouched for, are left to the
    daemon's run monitoring (``free_slots_after_run_end_seconds``). Without this, with no daemon
    running, such a run would hold its slot forever.
    """
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    known = set(storage.get_concurrency_keys())
    reaped = []
    for pool in [p for p in (pools or [POOL]) if p in known]:
        for run_id in sorted({slot.run_id for slot in storage.get_concurrency_info(pool).claimed_slots}):
            if run_id in reaped:
                continue
            run = instance.get_run_by_id(run_id)
            if run is not None and not run.is_finished:
                pid = _provably_dead(instance, run)
                if pid is None:
                    continue  # alive, or nothing proves otherwise
                instance.report_run_failed(
                    run,
                    f"its process (pid {pid}) on {socket.gethostname()} is gone; "
                    f"pool slots freed by `python -m iso_energy.instance`",
                )
            storage.free_concurrency_slots_for_run(run_id)
            reaped.append(run_id)
    return reaped


def main() -> int:
    pools = location_pools()
    with dg.DagsterInstance.get() as instance:
        single = is_single_machine(instance)
        for run_id in reap_dead_runs(instance, list(pools)):
            print(f"freed the pool slots of run {run_id} (finished, or its process on this host is gone)")
        limits = apply_pools(instance, pools, single_machine=single)
        for name, limit in limits.items():
            print(f"pool '{name}': limit {limit} (budget {pools[name].memory_mb} MB x {limit} at once)")
        if not single:
            print("shared instance: limits the operator set were kept; no machine-wide memory check")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
