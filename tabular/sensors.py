"""The sensor that turns a new (or changed) data set folder under ``raw/tabular/`` into a partition
and a run of the tabular job (shards -> splits -> transformed)."""

import os
from pathlib import Path

import dagster as dg

from memsafe.resources import DataDirResource
from memsafe.sensors import changed_partition_requests
from memsafe.settings import raw_dir
from tabular.assets import DATASETS, GROUP, tabular_transformed

# Partitioned by DATASETS, inferred from its assets.
tabular_job = dg.define_asset_job(
    "tabular_job",
    selection=dg.AssetSelection.groups(GROUP),
    description="Load, split and transform one tabular data set (one partition per data set).",
)


def folder_print(folder: Path) -> str:
    """A fingerprint of a data set folder: file count, total bytes and newest mtime of its visible
    files (recursive; hidden names, e.g. the atomic writers' temporaries, are ignored)."""
    count = size = newest = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith("."):
                continue
            st = os.stat(os.path.join(dirpath, name))
            count, size, newest = count + 1, size + st.st_size, max(newest, st.st_mtime_ns)
    return f"{count}:{size}:{newest}"


@dg.sensor(job=tabular_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def tabular_dataset_sensor(
    context: dg.SensorEvaluationContext, data: DataDirResource
) -> dg.SensorResult | dg.SkipReason:
    """Watch ``<data>/raw/tabular/*``: a new data set folder adds a partition of
    ``tabular_datasets`` and requests a run of ``tabular_job`` for it; a changed folder (files,
    bytes or newest mtime) requests a new run of its partition. Empty folders wait.

    Cursor: JSON ``{data set: fingerprint}`` of the folders already requested.
    """
    root = raw_dir(data.root(), "tabular")
    current = {}
    if root.is_dir():
        for entry in os.scandir(root):
            if entry.is_dir() and not entry.name.startswith("."):
                print_ = folder_print(Path(entry.path))
                if not print_.startswith("0:"):
                    current[entry.name] = print_
    return changed_partition_requests(context, DATASETS, current, nothing=f"no new or changed data set under {root}")


# tabular_transformed follows its splits by declarative automation (TRANSFORMED_AUTOMATION), one
# request per data set whose splits changed. Declared here, running by default, so the location
# does not depend on the instance's default automation sensor being switched on.
tabular_automation = dg.AutomationConditionSensorDefinition(
    "tabular_automation",
    target=[tabular_transformed],
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
