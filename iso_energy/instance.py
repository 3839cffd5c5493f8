"""Apply the conversion budget to the Dagster instance: ``python -m iso_energy.instance``.

Sets the ``iso_conversion`` pool's limit explicitly from :data:`iso_energy.definitions.CONVERSION`
(Dagster 1.13's daemon ignores ``default_limit`` on its first pass, see
../shared/notes/dagster-1.13.md section 2.3) after checking the budget fits the machine.
It also frees pool slots that dead runs still hold (:func:`reap_dead_runs`).
Idempotent; ``make demo``, ``make ui`` and ``make instance`` run it. Needs ``DAGSTER_HOME``.
"""

from __future__ import annotations

import dagster as dg
import psutil

from iso_energy.resources import POOL, ConversionBudgetResource, pool_limit
from memsafe.budget import check_fits_machine


def apply_pool_limit(instance: dg.DagsterInstance, conversion: ConversionBudgetResource) -> int:
    """Check the budget fits this machine, then set the pool limit; returns the limit.

    Raises:
        BudgetError: ``memory_mb x max_concurrent`` + Dagster's overhead exceeds the machine.
        RuntimeError: the instance cannot enforce pools (an ephemeral, in-memory instance).
    """
    check_fits_machine(conversion.memory_mb, conversion.max_concurrent)
    if not instance.event_log_storage.supports_global_concurrency_limits:
        raise RuntimeError("this Dagster instance cannot enforce pools; set DAGSTER_HOME to dagster_home/")
    instance.event_log_storage.set_concurrency_slots(POOL, conversion.max_concurrent)
    return conversion.max_concurrent


def _process_gone(pid: int | None, since: float) -> bool:
    """Whether the process that logged an event at ``since`` has exited (or its pid was reused)."""
    if pid is None:
        return False
    try:
        return psutil.Process(pid).create_time() > since + 1
    except psutil.NoSuchProcess:
        return True


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Free the pool slots of runs that can no longer give them back; return their run ids.

    A finished run's slots are freed. A run still marked STARTED whose step process is gone
    (killed with SIGKILL, a crashed ``dagster asset materialize``) is marked failed first. Without
    this, with no daemon running, such a run would hold its slot forever and two of them would
    block every conversion. Assumes runs execute on this machine, as with the SQLite instance.
    """
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits or POOL not in storage.get_concurrency_keys():
        return []
    reaped = []
    for run_id in sorted({slot.run_id for slot in storage.get_concurrency_info(POOL).claimed_slots}):
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            events = [e for e in instance.all_logs(run_id) if e.dagster_event is not None]
            last = events[-1] if events else None
            if last is None or not _process_gone(last.dagster_event.pid, last.timestamp):
                continue  # alive, or nothing tells us otherwise
            instance.report_run_failed(run, f"its process (pid {last.dagster_event.pid}) is gone; "
                                            f"pool slots freed by `python -m iso_energy.instance`")
        storage.free_concurrency_slots_for_run(run_id)
        reaped.append(run_id)
    return reaped


def main() -> int:
    from iso_energy.definitions import CONVERSION

    with dg.DagsterInstance.get() as instance:
        for run_id in reap_dead_runs(instance):
            print(f"freed the '{POOL}' slots of run {run_id} (finished, or its process is gone)")
        limit = apply_pool_limit(instance, CONVERSION)
        print(f"pool '{POOL}': limit {pool_limit(instance)} (budget {CONVERSION.memory_mb} MB x {limit} "
              f"conversions at once)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
