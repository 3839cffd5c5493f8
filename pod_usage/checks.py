"""Data checks of a written daily summary (plain logic over the parquet file; no dagster).

Each check returns ``CheckOutcome(passed, metadata)``; the asset turns them into asset check
results. They read only the output (days x namespaces x nodes rows), so they cost little.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from memsafe.budget import Budget
from pod_usage.summary import SummaryStats


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    metadata: dict[str, object]


def check_summary(path: Path, stats: SummaryStats, budget: Budget) -> dict[str, CheckOutcome]:
    """Run every check on the summary at ``path``.

    * ``unique_key``: one row per (usage_date, namespace, node).
    * ``line_items_accounted``: counted line items + dropped duplicates = rows of the period
      read, so no line item was lost or counted twice.
    * ``effective_usage_bounds``: effective usage >= usage and >= request on every row (it is
      a per-line-item maximum of the two).
    * ``capacity_consistent``: every node interval reported one capacity (rows of a node and
      interval agree); when they do not, the maximum was used.
    """
    con = budget.connect()
    try:
        rel = "read_parquet($p)"
        p = {"p": str(path)}
        dup_keys = con.execute(
            f"SELECT count(*) FROM (SELECT usage_date, namespace, node FROM {rel} GROUP BY ALL HAVING count(*) > 1)", p
        ).fetchone()[0]
        items, dups = con.execute(
            f"SELECT coalesce(sum(line_items), 0), coalesce(sum(duplicate_line_items), 0) FROM {rel}", p
        ).fetchone()
        bad_effective = con.execute(
            f"SELECT count(*) FROM {rel} WHERE "
            "pod_effective_usage_cpu_core_hours < "
            "greatest(pod_usage_cpu_core_hours, pod_request_cpu_core_hours)"
            " OR pod_effective_usage_memory_gigabyte_hours < "
            "greatest(pod_usage_memory_gigabyte_hours, pod_request_memory_gigabyte_hours)",
            p,
        ).fetchone()[0]
    finally:
        con.close()
    return {
        "unique_key": CheckOutcome(dup_keys == 0, {"duplicate_keys": int(dup_keys)}),
        "line_items_accounted": CheckOutcome(
            int(items) + int(dups) == stats.rows_in,
            {"line_items": int(items), "duplicate_line_items": int(dups), "rows_in": stats.rows_in},
        ),
        "effective_usage_bounds": CheckOutcome(bad_effective == 0, {"rows_violating": int(bad_effective)}),
        "capacity_consistent": CheckOutcome(
            stats.capacity_conflicts == 0,
            {"node_intervals": stats.node_intervals, "conflicting_node_intervals": stats.capacity_conflicts},
        ),
    }
