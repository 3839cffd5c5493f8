"""The sensor that turns a new (or changed) shard file into a partition and a run."""

import os

import dagster as dg

from memsafe.resources import DataDirResource
from memsafe.sensors import changed_partition_requests
from probe_rows.assets import SHARD_PARTITIONS, measurement_shards, probe_rows
from probe_rows.resources import ProbeRowsResource
from probe_rows.shards import SHARD_GLOB

# Partitioned like its one asset (inferred: the partitions_def argument is deprecated in 1.13).
shard_job = dg.define_asset_job("measurement_shard_job", selection=[measurement_shards])


@dg.sensor(job=shard_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def measurement_shard_sensor(
    context: dg.SensorEvaluationContext, data: DataDirResource, probe_settings: ProbeRowsResource
) -> dg.SensorResult | dg.SkipReason:
    """Watch ``<data>/raw/measurements/``: a new shard adds a partition and requests its run; a
    changed shard (size or mtime) requests a new run of its partition, unless the partition's
    latest materialisation already recorded this very file version (``bytes``, ``mtime_ns``), so
    a new cursor (a first tick after the demo) requests nothing that is up to date.

    Cursor: JSON ``{file name: "size:mtime_ns"}`` of the shards already requested. Hidden files
    (``.name``, the atomic writers' temporaries) are ignored, so write shards atomically.
    """
    folder = probe_settings.shard_dir(data.root())
    current = {}
    if folder.is_dir():
        for entry in os.scandir(folder):
            if entry.is_file() and entry.name.endswith(SHARD_GLOB[1:]) and not entry.name.startswith("."):
                st = entry.stat()
                current[entry.name] = f"{st.st_size}:{st.st_mtime_ns}"
    return changed_partition_requests(
        context,
        SHARD_PARTITIONS,
        current,
        nothing=f"no new or changed shard in {folder}",
        up_to_date=lambda shard, version: _recorded_version(context.instance, shard) == version,
    )


def _recorded_version(instance: dg.DagsterInstance, shard: str) -> str | None:
    """``"size:mtime_ns"`` of the shard as its latest materialisation recorded it, or ``None``."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=measurement_shards.key, asset_partitions=[shard]), limit=1
    ).records
    if not records:
        return None
    meta = records[0].asset_materialization.metadata
    if "bytes" not in meta or "mtime_ns" not in meta:
        return None
    return f"{meta['bytes'].value}:{meta['mtime_ns'].value}"


# probe_rows is re-materialised by its eager() automation condition once the shard runs have
# landed (it waits while a registered shard is still missing). Declared here, running by default,
# so the location does not depend on the instance's default automation sensor being switched on.
probe_rows_automation = dg.AutomationConditionSensorDefinition(
    "probe_rows_automation",
    target=[probe_rows],
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
