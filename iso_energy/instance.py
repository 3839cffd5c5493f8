"""Apply the conversion budget to the Dagster instance: ``python -m iso_energy.instance``.

Sets the ``iso_conversion`` pool's limit explicitly from :data:`iso_energy.definitions.CONVERSION`
(Dagster 1.13's daemon ignores ``default_limit`` on its first pass, see
../shared/notes/dagster-1.13.md section 2.3) after checking the budget fits the machine.
Idempotent; ``make demo``, ``make ui`` and ``make instance`` run it. Needs ``DAGSTER_HOME``.
"""

from __future__ import annotations

import dagster as dg

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


def main() -> int:
    from iso_energy.definitions import CONVERSION

    with dg.DagsterInstance.get() as instance:
        limit = apply_pool_limit(instance, CONVERSION)
        print(f"pool '{POOL}': limit {pool_limit(instance)} (budget {CONVERSION.memory_mb} MB x {limit} "
              f"conversions at once)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
