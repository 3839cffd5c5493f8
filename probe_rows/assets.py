"""probe_rows assets: measurement shards (one dynamic partition per file) -> per-probe rows."""

import dataclasses
import datetime as dt
import time
from pathlib import Path

import dagster as dg

from memsafe.memory import PeakMemory
from memsafe.metadata import materialize_result, peak_check_spec
from memsafe.resources import DataDirResource, MemoryBudgetResource
from probe_rows.grouping import STREAM_BATCH_ROWS, group_probes
from probe_rows.ordering import OrderDiagnostics, diagnose_shard
from probe_rows.resources import ProbeRowsResource
from probe_rows.shards import ShardError, check_shard

POOL = "probe_rows"
SHARD_PARTITIONS = dg.DynamicPartitionsDefinition(name="measurement_shards")
DIAGNOSTIC_KEYS = (
    "rows",
    "null_src_addr",
    "src_addr_changes",
    "src_addr_decreases",
    "event_time_violations",
    "event_time_ties",
    "sorted_within",
)


@dg.asset(partitions_def=SHARD_PARTITIONS, group_name="probe_rows", kinds={"parquet"})
def measurement_shards(
    context: dg.AssetExecutionContext, data: DataDirResource, probe_settings: ProbeRowsResource
) -> dg.MaterializeResult:
    """One partition per shard file in ``<data>/raw/measurements/``; one row per measurement.

    Materialising checks the shard's contract (fails naming the shard and column) and records its
    ordering diagnostics, which let ``probe_rows`` skip sorting when the shards are proven sorted.
    """
    path = probe_settings.shard_dir(data.root()) / context.partition_key
    if not path.is_file():
        raise ShardError(path, "registered shard file is missing")
    check_shard(path)
    with PeakMemory() as pm:
        diag = diagnose_shard(path)
    stat = path.stat()
    return materialize_result(
        path=path,
        rows=diag.rows,
        memory=pm.report,
        extra={
            "bytes": stat.st_size,
            "mtime_ns": str(stat.st_mtime_ns),
            **diag.as_metadata(),
        },
    )


@dg.asset(
    deps=[measurement_shards],
    group_name="probe_rows",
    kinds={"parquet", "polars"},
    pool=POOL,
    automation_condition=dg.AutomationCondition.eager(),
    check_specs=[peak_check_spec("probe_rows")],
)
def probe_rows(
    context: dg.AssetExecutionContext,
    data: DataDirResource,
    budget: MemoryBudgetResource,
    probe_settings: ProbeRowsResource,
) -> dg.MaterializeResult:
    """Train/test parquet under ``<data>/parquet/probe_rows/{train,test}/``; one row per probe.

    Each row holds the probe's measurements as a list of structs in ascending event_time, exactly,
    whatever the shard order; memory bounded by the ``budget`` resource.
    """
    started = time.time()
    root = data.root()
    bounded = dataclasses.replace(budget.budget(root), batch_rows=STREAM_BATCH_ROWS)
    keys = sorted(context.instance.get_dynamic_partitions(SHARD_PARTITIONS.name))
    files = [probe_settings.shard_dir(root) / k for k in keys]
    diagnostics = _recorded_diagnostics(context, files)
    with budget.admitted(POOL, context):  # a place on this node as well as the pool's slot
        stats = group_probes(
            None,
            probe_settings.output_dir(root),
            bounded,
            probe_settings.group_config(),
            files=files,
            diagnostics=diagnostics,
        )
    if stats.fell_back:
        context.log.warning("the recorded shard order did not hold: sorted instead")
    if stats.null_src_addr:
        context.log.warning(f"{stats.null_src_addr} measurements with a null src_addr were dropped")
    figures = stats.as_metadata()
    figures["grouping_path"] = figures.pop("path")  # streaming or bucketed; "path" is the output
    shared = {"output", "seconds", *(stats.memory.as_metadata() if stats.memory else {})}
    metadata = {k: v for k, v in figures.items() if k not in shared}
    if stats.null_src_addr:
        metadata["warning"] = f"{stats.null_src_addr} measurements with a null src_addr were dropped"
    return materialize_result(
        path=stats.output,
        rows=stats.probes_train + stats.probes_test,
        seconds=time.time() - started,
        memory=stats.memory,
        budget_mb=bounded.memory_mb,
        started_at=started,
        extra=metadata,
        check_asset="probe_rows",
    )


def _recorded_diagnostics(context: dg.AssetExecutionContext, files: list[Path]) -> list[OrderDiagnostics] | None:
    """The diagnostics recorded by each shard's latest materialisation, if every file is unchanged.

    Any missing or stale record gives ``None``: the grouping then verifies the order itself.
    """
    out = []
    for f in files:
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=measurement_shards.key, asset_partitions=[f.name]), limit=1
        ).records
        meta = records[0].asset_materialization.metadata if records else {}
        recorded = meta["mtime_ns"].value if "mtime_ns" in meta else None
        if not f.is_file() or recorded != str(f.stat().st_mtime_ns):
            return None
        values = {k: v.value for k, v in meta.items()}
        out.append(
            OrderDiagnostics(
                shard=f.name,
                **{k: values[k] for k in DIAGNOSTIC_KEYS if k != "sorted_within"},
                first_src_addr=values.get("first_src_addr"),
                first_event_time=_ts(values.get("first_event_time")),
                last_src_addr=values.get("last_src_addr"),
                last_event_time=_ts(values.get("last_event_time")),
            )
        )
    return out


def _ts(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None
