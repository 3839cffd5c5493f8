"""Demo: generate a small wide data set and materialise every tabular asset through Dagster.

``run(instance, root)`` writes ``root/raw/tabular/demo/wide-0000N.csv`` (20,000 rows x 40 columns:
customer id, timestamp, a 3-class imbalanced label, categorical/float/bool/int features), then runs
loading + a temporal (customer-allocated) split in one run, and an exact stratified split +
transforms fitted on it in a second (so the transforms stay fresh against the splits that
remain), all with ``data`` rooted at ``root``. About 10 s on 2 cores.
"""

from __future__ import annotations

import pathlib

import dagster as dg

from memsafe.memory import folder_bytes
from memsafe.resources import DataDirResource, MemoryBudgetResource
from tabular.assets import ASSETS, DATASETS, tabular_shards, tabular_splits, tabular_transformed
from tabular.generate import generate_wide

DATASET = "demo"
ROWS, COLS, FILES = 20_000, 40, 4
ROLES = {"label": "label", "customer_column": "customer_id", "date_column": "event_time", "rows_per_shard": 8_000}


def _rows(result: dg.ExecuteInProcessResult) -> list[dict]:
    out = []
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        meta = {k: v.value for k, v in mat.metadata.items()}
        out.append(
            {
                "location": "tabular",
                "asset": mat.asset_key.to_user_string(),
                "partition": mat.partition,
                "rows": int(meta.get("rows", 0)),
                "bytes": folder_bytes(pathlib.Path(meta["path"])),
                "seconds": float(meta.get("seconds", 0.0)),
                "peak_rss_mb": float(meta.get("peak_rss_mb", 0.0)),
            }
        )
    return out


def run(instance: dg.DagsterInstance, root: pathlib.Path) -> list[dict]:
    """Generate the sample under ``root`` and materialise the tabular assets into ``root``.

    Returns one summary dict per materialisation: ``location, asset, partition, rows, bytes,
    seconds, peak_rss_mb``. Raises ``dagster.DagsterError`` subclasses if a run fails.
    """
    generate_wide(root / "raw" / "tabular" / DATASET, ROWS, COLS, files=FILES, fmt="csv", chunk_rows=5_000)
    resources = {
        "data": DataDirResource(data_dir=str(root)),
        "budget": MemoryBudgetResource(memory_mb=1024, threads=2, batch_rows=4_096),
    }
    instance.add_dynamic_partitions(DATASETS.name, [DATASET])  # what tabular_dataset_sensor does
    # The temporal split first, then the stratified one with the transforms fitted on it: the
    # transforms are then fitted on the splits that stay, so the UI does not show them stale.
    temporal = dg.materialize(
        [tabular_shards, tabular_splits],
        instance=instance,
        resources=resources,
        partition_key=DATASET,
        run_config={
            "ops": {
                "tabular_shards": {"config": ROLES},
                "tabular_splits": {"config": {**ROLES, "mode": "temporal", "cutoffs": ["2024-08-01", "2024-10-01"]}},
            }
        },
    )
    rows = _rows(temporal)  # sizes now: the run below replaces the split folders
    stratified = dg.materialize(
        ASSETS,
        selection=[tabular_splits, tabular_transformed],
        instance=instance,
        resources=resources,
        partition_key=DATASET,
        run_config={
            "ops": {
                "tabular_splits": {"config": {**ROLES, "mode": "stratified"}},
                "tabular_transformed": {"config": ROLES},
            }
        },
    )
    return rows + _rows(stratified)


def planned(root: pathlib.Path) -> int:
    """How many materialisations :func:`run` reports: shards, 3 splits twice, the transforms."""
    return 8


if __name__ == "__main__":  # pragma: no cover - manual run
    import json
    import tempfile

    with dg.instance_for_test() as inst, tempfile.TemporaryDirectory() as tmp:
        for row in run(inst, pathlib.Path(tmp)):
            print(json.dumps(row))
