"""A short tour of the probe_rows location, through Dagster, on generated shards.

``run(instance, root)`` writes 4 shuffled shards (200,000 measurements of 1,000 probes) into
``root/raw/measurements/``, lets the shard sensor register them as dynamic partitions, materialises
each ``measurement_shards`` partition and then ``probe_rows``, and returns one summary row per
materialisation: ``location, asset, partition, rows, bytes, seconds, peak_rss_mb``.
"""

from __future__ import annotations

import pathlib
import time

import dagster as dg

from memsafe.resources import DataDirResource, MemoryBudgetResource
from probe_rows.assets import measurement_shards, probe_rows
from probe_rows.generate import generate_shards
from probe_rows.resources import ProbeRowsResource
from probe_rows.sensors import measurement_shard_sensor

DEMO_MEASUREMENTS = 200_000
DEMO_PROBES = 1_000
DEMO_SHARDS = 4


def _row(result: dg.ExecuteInProcessResult, key: dg.AssetKey, partition: str | None, seconds: float) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    meta = {k: v.value for k, v in event.materialization.metadata.items()}
    if key == probe_rows.key:  # rows = probes written; bytes = the train + test parquet
        rows = meta["probes_train"] + meta["probes_test"]
        size = sum(p.stat().st_size for p in pathlib.Path(meta["path"]).rglob("*.parquet"))
    else:  # rows = measurements in the shard; bytes = the shard file
        rows, size = meta["rows"], meta["bytes"]
    return {
        "location": "probe_rows",
        "asset": key.to_user_string(),
        "partition": partition,
        "rows": rows,
        "bytes": size,
        "seconds": round(seconds, 3),
        "peak_rss_mb": meta["peak_rss_mb"],
    }


def planned(root: pathlib.Path) -> int:
    """How many materialisations :func:`run` reports: each shard, then ``probe_rows``."""
    return DEMO_SHARDS + 1


def run(instance: dg.DagsterInstance, root: pathlib.Path) -> list[dict]:
    """Generate, register, materialise; return the summary rows (see the module docstring)."""
    generate_shards(
        root / "raw" / "measurements",
        DEMO_MEASUREMENTS,
        probes=DEMO_PROBES,
        shards=DEMO_SHARDS,
        order="shuffled",
        seed=42,
    )
    resources = {
        "data": DataDirResource(data_dir=str(root)),
        "budget": MemoryBudgetResource(memory_mb=1024, spill_dir=str(root / "spill")),
        "probe_settings": ProbeRowsResource(),
    }
    with dg.build_sensor_context(instance=instance, resources=resources) as ctx:
        tick = measurement_shard_sensor(ctx)
    for request in tick.dynamic_partitions_requests:  # what the daemon does with the sensor's result
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    summary = []
    for request in tick.run_requests:
        t0 = time.perf_counter()
        result = dg.materialize(
            [measurement_shards], partition_key=request.partition_key, instance=instance, resources=resources
        )
        summary.append(_row(result, measurement_shards.key, request.partition_key, time.perf_counter() - t0))
    t0 = time.perf_counter()
    result = dg.materialize(
        [measurement_shards, probe_rows], selection=[probe_rows], instance=instance, resources=resources
    )
    summary.append(_row(result, probe_rows.key, None, time.perf_counter() - t0))
    return summary
