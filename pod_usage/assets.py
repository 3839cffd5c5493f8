"""Dagster asset: the daily cost-management summary of pod usage, one partition per report period.

Partitioning: **monthly, by the koku report period** (``report_period_start``), not dynamic per
uploaded report. A report period is what koku summarises and bills; a re-uploaded report
belongs to the same period, so its line items meet the earlier upload's inside one run, where
duplicates are detected and dropped. With one dynamic partition per upload the two copies would
sit in two partitions and be summed twice downstream. Monthly keys also give backfills and an
idempotent rerun that replaces exactly one month's file.
"""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at
# definition time and rejects it as a string.
import time

import dagster as dg

from memsafe.metadata import materialize_result, peak_check_spec
from memsafe.resources import DataDirResource, MemoryBudgetResource
from memsafe.settings import output_dir, raw_dir
from pod_usage.checks import check_summary
from pod_usage.format import NoPodUsageFiles, list_files
from pod_usage.summary import summarize_files

REPORT_PERIODS = dg.MonthlyPartitionsDefinition(start_date="2019-01", fmt="%Y-%m", end_offset=1)
POOL = "pod_usage"
CHECKS = {
    "unique_key": "One row per usage date, namespace and node.",
    "line_items_accounted": "Counted line items + dropped duplicates = line items read.",
    "effective_usage_bounds": "Effective usage >= usage and >= request on every row.",
    "capacity_consistent": "Every node interval reported one capacity (else the max was used).",
}
ERROR_CHECKS = {"unique_key", "line_items_accounted", "effective_usage_bounds"}


@dg.asset(
    partitions_def=REPORT_PERIODS,
    pool=POOL,
    group_name="pod_usage",
    kinds={"duckdb", "parquet"},
    check_specs=[
        *(dg.AssetCheckSpec(name, asset="pod_usage_daily_summary", description=text) for name, text in CHECKS.items()),
        peak_check_spec("pod_usage_daily_summary"),
    ],
)
def pod_usage_daily_summary(
    context: dg.AssetExecutionContext, data: DataDirResource, budget: MemoryBudgetResource
) -> dg.MaterializeResult:
    """Daily cost-management summary of Kubernetes pod usage line items.

    One parquet file per report period (``parquet/pod_usage/daily_summary/<YYYY-MM>.parquet``);
    one row per usage date, namespace and node: CPU core-hours and memory GiB-hours of usage,
    request, limit and effective usage (max of usage and request per line item), pod count,
    node capacity counted once per node and interval, and the namespace's share of it. Reads
    every koku CSV under ``raw/pod_usage/`` and keeps the rows of the partition's report period.
    Formulas: :mod:`pod_usage.summary`.
    """
    started = time.time()
    root = data.root()
    files = list_files(raw_dir(root, "pod_usage"))
    if not files:
        raise NoPodUsageFiles(f"no pod usage CSV under {raw_dir(root, 'pod_usage')}")
    out = output_dir(root, "pod_usage", "daily_summary") / f"{context.partition_key}.parquet"
    bounded = budget.budget(root)
    with budget.admitted(POOL, context):  # a place on this node as well as the pool's slot
        stats = summarize_files(files, out, bounded, report_period=context.partition_key)
    context.log.info(f"{stats.rows_in} line items -> {stats.rows_out} daily rows in {stats.seconds:.1f} s")
    checks = check_summary(out, stats, bounded)
    shared = {"output", "seconds", "rows_per_s", *stats.memory.as_metadata()}
    return materialize_result(
        path=out,
        rows=stats.rows_out,
        seconds=time.time() - started,
        memory=stats.memory,
        budget_mb=bounded.memory_mb,
        started_at=started,
        partition=context.partition_key,
        extra={k: v for k, v in stats.as_metadata().items() if k not in shared},
        check_asset="pod_usage_daily_summary",
        check_results=[
            dg.AssetCheckResult(
                check_name=name,
                passed=c.passed,
                metadata=c.metadata,
                severity=dg.AssetCheckSeverity.ERROR if name in ERROR_CHECKS else dg.AssetCheckSeverity.WARN,
            )
            for name, c in checks.items()
        ],
    )


# Partitioned by REPORT_PERIODS, inferred from the asset.
pod_usage_job = dg.define_asset_job("pod_usage_job", selection=[pod_usage_daily_summary])
