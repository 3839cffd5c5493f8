"""The tabular code location loads, and its assets materialise through Dagster into tmp_path."""

from __future__ import annotations

import json

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from memsafe.resources import BUDGET, DATA, DataDirResource, MemoryBudgetResource
from tabular import demo
from tabular.assets import ASSETS, DATASETS, tabular_shards, tabular_splits, tabular_transformed
from tabular.definitions import defs
from tabular.generate import generate_wide


def test_definitions_load_with_expected_assets():
    graph = defs.resolve_asset_graph()
    keys = sorted(k.to_user_string() for k in graph.get_all_asset_keys())
    assert keys == ["tabular_shards", "tabular_test", "tabular_train", "tabular_transformed", "tabular_val"]
    for key in keys:  # one dynamic partition per data set folder, added by the sensor
        assert graph.get(dg.AssetKey(key)).partitions_def == DATASETS
    assert graph.get(dg.AssetKey("tabular_train")).parent_keys == {dg.AssetKey("tabular_shards")}
    assert defs.resources["data"] is DATA and defs.resources["budget"] is BUDGET  # mergeable singletons
    assert {a.op.pool for a in ASSETS} == {"tabular"}
    assert defs.resolve_job_def("tabular_job") is not None


def test_definitions_merge_with_another_location():
    other = dg.Definitions(assets=[dg.AssetSpec("other_x")], resources={"data": DATA, "budget": BUDGET})
    merged = dg.Definitions.merge(defs, other)
    assert dg.AssetKey("other_x") in merged.resolve_asset_graph().get_all_asset_keys()


@pytest.fixture
def resources(tmp_path):
    return {
        "data": DataDirResource(data_dir=str(tmp_path)),
        "budget": MemoryBudgetResource(memory_mb=512, threads=1, batch_rows=1_000),
    }


def test_assets_materialise_into_data_dir(tmp_path, resources):
    generate_wide(tmp_path / "raw" / "tabular" / "toy", 5_000, 12, files=2, fmt="csv")
    roles = {"label": "label", "rows_per_shard": 2_000}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(DATASETS.name, ["toy"])
        result = dg.materialize(
            ASSETS,
            instance=instance,
            resources=resources,
            partition_key="toy",
            run_config={
                "ops": {
                    "tabular_shards": {"config": roles},
                    "tabular_splits": {"config": {**roles, "ratios": {"train": 0.6, "test": 0.2, "val": 0.2}}},
                    "tabular_transformed": {"config": roles},
                }
            },
        )
    assert result.success
    base = tmp_path / "parquet" / "tabular" / "toy"
    assert sorted(p.name for p in (base / "shards").iterdir()) == [
        "_metadata.json",
        "_mods.csv",
        "_signature.json",
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    shards = pq.read_table(base / "shards")
    assert shards.num_rows == 5_000 and shards.schema.field("label").type == pa.string()
    train = pq.read_table(base / "splits" / "train")
    assert train.schema.field("label").type == pa.int64()  # high/low/mid -> 0/1/2
    meta = {
        e.materialization.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert meta["tabular_shards"]["rows"].value == 5_000
    assert meta["tabular_shards"]["path"].value == str(base / "shards")
    assert meta["tabular_shards"]["peak_rss_mb"].value > 0
    rows = {s: meta[f"tabular_{s}"]["rows"].value for s in ("train", "test", "val")}
    assert rows == {s: pq.read_table(base / "splits" / s).num_rows for s in rows}
    assert sum(rows.values()) == 5_000 and rows["train"] == pytest.approx(3_000, abs=3)
    assert meta["tabular_train"]["label_codes"].value == {"high": 0, "low": 1, "mid": 2}
    assert meta["tabular_transformed"]["rows"].value == 5_000
    assert json.loads((base / "transformed" / "_transforms.json").read_text())["fitted_on"] == "train"


def test_single_mode_materialises_only_that_split(tmp_path, resources):
    generate_wide(tmp_path / "raw" / "tabular" / "toy", 1_000, 8, fmt="parquet")
    cfg = {"label": "label"}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(DATASETS.name, ["toy"])
        dg.materialize(
            [tabular_shards],
            instance=instance,
            resources=resources,
            partition_key="toy",
            run_config={"ops": {"tabular_shards": {"config": cfg}}},
        )
        result = dg.materialize(
            [tabular_splits],
            instance=instance,
            resources=resources,
            partition_key="toy",
            run_config={"ops": {"tabular_splits": {"config": {**cfg, "mode": "single", "single_split": "val"}}}},
        )
    keys = [e.materialization.asset_key.to_user_string() for e in result.get_asset_materialization_events()]
    assert keys == ["tabular_val"]


def test_bad_ratio_config_fails_the_run_and_writes_nothing(tmp_path, resources):
    generate_wide(tmp_path / "raw" / "tabular" / "toy", 1_000, 8, fmt="parquet")
    cfg = {"label": "label"}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(DATASETS.name, ["toy"])
        dg.materialize(
            [tabular_shards],
            instance=instance,
            resources=resources,
            partition_key="toy",
            run_config={"ops": {"tabular_shards": {"config": cfg}}},
        )
        result = dg.materialize(
            [tabular_splits],
            instance=instance,
            resources=resources,
            partition_key="toy",
            raise_on_error=False,
            run_config={
                "ops": {"tabular_splits": {"config": {**cfg, "ratios": {"train": 0.5, "test": 0.1, "val": 0.1}}}}
            },
        )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "sum to 0.7" in failure.cause.message if failure.cause else "sum to 0.7" in failure.message
    assert not (tmp_path / "parquet" / "tabular" / "toy" / "splits").exists()


def test_demo_runs_and_reports(tmp_path):
    with dg.instance_for_test() as instance:
        rows = demo.run(instance, tmp_path)
        latest = {
            k: instance.fetch_materializations(dg.AssetKey(k), limit=1).records[0].storage_id
            for k in ("tabular_shards", "tabular_train", "tabular_test", "tabular_val", "tabular_transformed")
        }
    # The transforms were fitted on the splits that remain: newer than every split, not stale.
    assert latest["tabular_transformed"] > max(latest[k] for k in ("tabular_train", "tabular_test", "tabular_val"))
    assets = [r["asset"] for r in rows]
    splits = ["tabular_test", "tabular_train", "tabular_val"]
    assert assets[0] == "tabular_shards" and sorted(assets[1:4]) == splits  # the temporal split
    assert sorted(assets[4:7]) == splits and assets[7] == "tabular_transformed"  # stratified, then fitted
    assert len(rows) == demo.planned(tmp_path)
    for r in rows:
        assert set(r) == {"location", "asset", "partition", "rows", "bytes", "seconds", "peak_rss_mb"}
        assert r["location"] == "tabular" and r["bytes"] > 0 and r["peak_rss_mb"] > 0
    assert rows[0]["rows"] == demo.ROWS
    assert sum(r["rows"] for r in rows[1:4]) == demo.ROWS  # temporal: every row in exactly one split


def test_sensor_adds_a_partition_per_data_set_folder_and_reruns_a_changed_one(tmp_path):
    from tabular.sensors import tabular_dataset_sensor

    raw = tmp_path / "raw" / "tabular"
    generate_wide(raw / "toy", 100, 4, fmt="csv")
    (raw / "empty").mkdir()  # waits until it holds a file
    (raw / ".staging").mkdir()  # hidden: ignored
    data = DataDirResource(data_dir=str(tmp_path))
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources={"data": data})
        first = tabular_dataset_sensor(ctx)
        assert [r.partition_key for r in first.run_requests] == ["toy"]
        assert first.dynamic_partitions_requests[0].partition_keys == ["toy"]
        instance.add_dynamic_partitions(DATASETS.name, ["toy"])
        again = tabular_dataset_sensor(
            dg.build_sensor_context(instance=instance, resources={"data": data}, cursor=first.cursor)
        )
        assert isinstance(again, dg.SkipReason)  # nothing changed
        generate_wide(raw / "toy", 100, 4, files=2, fmt="csv", seed=1)  # a file added
        changed = tabular_dataset_sensor(
            dg.build_sensor_context(instance=instance, resources={"data": data}, cursor=first.cursor)
        )
        assert [r.partition_key for r in changed.run_requests] == ["toy"]
        assert changed.dynamic_partitions_requests == []  # already registered
        assert changed.run_requests[0].job_name in (None, "tabular_job")


def test_transformed_follows_rewritten_splits_per_data_set_by_declarative_automation(tmp_path, resources):
    """A data set whose splits are rewritten gets its transforms refitted; another data set and a
    data set already up to date get no request."""
    sensors = {s.name: s for s in defs.sensors}
    assert sensors["tabular_automation"].default_status == dg.DefaultSensorStatus.RUNNING
    for name in ("a", "b"):
        generate_wide(tmp_path / "raw" / "tabular" / name, 600, 6, fmt="parquet")
    transformed = dg.AssetKey("tabular_transformed")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(DATASETS.name, ["a", "b"])
        idle = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert idle.total_requested == 0  # nothing split yet
        for name in ("a", "b"):  # the sensor's run: shards, splits and transforms of each data set
            assert dg.materialize(ASSETS, instance=instance, resources=resources, partition_key=name).success
        fresh = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=idle.cursor)
        assert fresh.total_requested == 0  # transforms already fitted on the current splits
        # A second split of "a" (another seed) leaves its transforms fitted on the old train rows.
        resplit = {"ops": {"tabular_splits": {"config": {"seed": 7}}}}
        assert dg.materialize(
            [tabular_splits], instance=instance, resources=resources, partition_key="a", run_config=resplit
        ).success
        stale = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=fresh.cursor)
        assert stale.get_requested_partitions(transformed) == {"a"}
        assert stale.total_requested == 1
        assert dg.materialize([tabular_transformed], instance=instance, resources=resources, partition_key="a").success
        done = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=stale.cursor)
        assert done.total_requested == 0
