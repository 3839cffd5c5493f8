"""The probe_rows code location: definitions, the shard sensor, and assets materialised through Dagster."""

from __future__ import annotations

import json
import os

import dagster as dg
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from memsafe.resources import BUDGET, DATA, DataDirResource, MemoryBudgetResource
from probe_rows.assets import SHARD_PARTITIONS, measurement_shards, probe_rows
from probe_rows.definitions import RESOURCES, defs
from probe_rows.generate import generate_shards
from probe_rows.resources import ProbeRowsResource
from probe_rows.sensors import measurement_shard_sensor


def _resources(root):
    return {
        "data": DataDirResource(data_dir=str(root)),
        "budget": MemoryBudgetResource(memory_mb=512),
        "probe_settings": ProbeRowsResource(test_fraction=0.25),
    }


def _tick(instance, root, cursor=None):
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=_resources(root)) as ctx:
        return measurement_shard_sensor(ctx)


def _meta(result, key):
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_definitions_load_with_expected_keys_partitions_pool_and_resources():
    keys = {dg.AssetKey("measurement_shards"), dg.AssetKey("probe_rows")}
    assert set(defs.resolve_all_asset_keys()) == keys
    shards = defs.resolve_assets_def("measurement_shards")
    assert shards.partitions_def == SHARD_PARTITIONS and SHARD_PARTITIONS.name == "measurement_shards"
    rows = defs.resolve_assets_def("probe_rows")
    assert rows.partitions_def is None and rows.op.pool == "probe_rows"
    assert {s.name for s in defs.sensors} == {"measurement_shard_sensor", "probe_rows_automation"}
    assert defs.resolve_job_def("measurement_shard_job").partitions_def == SHARD_PARTITIONS
    # The shared singletons themselves, so Definitions.merge with other locations works.
    assert defs.resources["data"] is DATA and defs.resources["budget"] is BUDGET


def test_sensor_adds_partition_and_requests_run_for_new_and_changed_shards(tmp_path):
    folder = tmp_path / "raw" / "measurements"
    generate_shards(folder, 1_000, probes=5, shards=1, order="shuffled", prefix="a")
    (folder / ".b.parquet.1234.tmp").write_bytes(b"half written")  # an atomic writer's temporary
    with dg.instance_for_test() as instance:
        first = _tick(instance, tmp_path)
        assert [r.partition_key for r in first.run_requests] == ["a-shuffled-00000.parquet"]
        [add] = first.dynamic_partitions_requests
        assert (add.partitions_def_name, list(add.partition_keys)) == (
            "measurement_shards",
            ["a-shuffled-00000.parquet"],
        )
        instance.add_dynamic_partitions(add.partitions_def_name, list(add.partition_keys))  # the daemon's job
        assert set(json.loads(first.cursor)) == {"a-shuffled-00000.parquet"}

        again = _tick(instance, tmp_path, first.cursor)
        assert isinstance(again, dg.SkipReason)

        generate_shards(folder, 1_000, probes=5, shards=1, order="sorted", prefix="b")
        old = folder / "a-shuffled-00000.parquet"
        os.utime(old, ns=(old.stat().st_atime_ns, old.stat().st_mtime_ns + 10**9))  # the shard changed
        later = _tick(instance, tmp_path, first.cursor)
        assert [r.partition_key for r in later.run_requests] == ["a-shuffled-00000.parquet", "b-sorted-00000.parquet"]
        added = [list(r.partition_keys) for r in later.dynamic_partitions_requests]
        assert added == [["b-sorted-00000.parquet"]]
        assert len({r.run_key for r in first.run_requests + later.run_requests}) == 3


def test_sensor_requests_no_shard_whose_materialisation_is_up_to_date(tmp_path):
    folder = tmp_path / "raw" / "measurements"
    generate_shards(folder, 1_000, probes=5, shards=2, order="shuffled")
    with dg.instance_for_test() as instance:
        first = _tick(instance, tmp_path)
        for add in first.dynamic_partitions_requests:
            instance.add_dynamic_partitions(add.partitions_def_name, list(add.partition_keys))
        for r in first.run_requests:
            dg.materialize(
                [measurement_shards], partition_key=r.partition_key, instance=instance, resources=_resources(tmp_path)
            )
        fresh = _tick(instance, tmp_path)  # a new cursor: both shards are up to date
        assert fresh.run_requests == [] and fresh.dynamic_partitions_requests == []
        assert set(json.loads(fresh.cursor)) == {r.partition_key for r in first.run_requests}
        touched = folder / first.run_requests[1].partition_key
        os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
        assert [r.partition_key for r in _tick(instance, tmp_path).run_requests] == [touched.name]


def test_full_sensor_tick_against_the_definitions(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMSAFE_DATA_DIR", str(tmp_path))  # the bound singletons read it at run time
    generate_shards(tmp_path / "raw" / "measurements", 500, probes=5, shards=2, order="sorted")
    names = ["measurements-sorted-00000.parquet", "measurements-sorted-00001.parquet"]
    with dg.instance_for_test() as instance, dg.partition_loading_context(dynamic_partitions_store=instance):
        # A full tick validates run requests against the job's partitions, which the daemon adds
        # from the same result first; an unknown key is refused.
        with (
            dg.build_sensor_context(instance=instance, definitions=defs, resources=RESOURCES) as ctx,
            pytest.raises(dg.DagsterUnknownPartitionError),
        ):
            measurement_shard_sensor.evaluate_tick(ctx)
        instance.add_dynamic_partitions(SHARD_PARTITIONS.name, names)
        with dg.build_sensor_context(instance=instance, definitions=defs, resources=RESOURCES) as ctx:
            data = measurement_shard_sensor.evaluate_tick(ctx)
    assert sorted(r.partition_key for r in data.run_requests) == names
    assert data.dynamic_partitions_requests == []  # both already known


@pytest.mark.parametrize("order", ["sorted", "shuffled"])
def test_shards_then_probe_rows_through_dagster(tmp_path, order):
    folder = tmp_path / "raw" / "measurements"
    generate_shards(folder, 6_000, probes=40, shards=3, order=order, seed=2)
    res = _resources(tmp_path)
    with dg.instance_for_test() as instance:
        keys = sorted(p.name for p in folder.iterdir())
        instance.add_dynamic_partitions(SHARD_PARTITIONS.name, keys)
        cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor
        for key in keys:
            shard = dg.materialize([measurement_shards], partition_key=key, instance=instance, resources=res)
            meta = _meta(shard, measurement_shards.key)
            assert meta["rows"] == 2_000 and meta["sorted_within"] is (order == "sorted")
        # All shards landed: probe_rows' eager condition asks for it.
        auto = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        assert auto.get_num_requested(probe_rows.key) == 1
        result = dg.materialize(
            [measurement_shards, probe_rows], selection=[probe_rows], instance=instance, resources=res
        )
        # A shard changed after its diagnostics were recorded: the record is ignored, the pass checks.
        shard = folder / keys[0]
        os.utime(shard, ns=(shard.stat().st_atime_ns, shard.stat().st_mtime_ns + 10**9))
        again = _meta(
            dg.materialize([measurement_shards, probe_rows], selection=[probe_rows], instance=instance, resources=res),
            probe_rows.key,
        )
    meta = _meta(result, probe_rows.key)
    assert (meta["measurements_in"], meta["measurements_out"], meta["probes_in"]) == (6_000, 6_000, 40)
    assert meta["probes_train"] + meta["probes_test"] == 40 and meta["probes_test"] > 0
    # Sorted shards are proven sorted by their recorded diagnostics: no sort, no spill.
    assert meta["grouping_path"] == ("streaming" if order == "sorted" else "bucketed")
    assert (meta["order_evidence"], meta["fell_back"]) == ("recorded", False)
    assert meta["spill_bytes"] == 0 and meta["peak_rss_mb"] > 0 and meta["measurements_per_second"] > 0
    out = tmp_path / "parquet" / "probe_rows"
    assert meta["path"] == str(out) and meta["dagster/row_count"] == 40
    assert [c.name for c in meta["dagster/column_schema"].columns] == ["src_addr", "n_measurements", "measurements"]
    rows = pl.read_parquet(str(out / "train" / "*.parquet"))
    assert rows.height == meta["probes_train"]
    assert rows.columns == ["src_addr", "n_measurements", "measurements"]
    assert again["order_evidence"] == "checked_in_pass" and again["probes_in"] == 40


def test_null_src_addr_warned_in_metadata_and_bad_shard_fails_naming_shard_and_column(tmp_path):
    folder = tmp_path / "raw" / "measurements"
    folder.mkdir(parents=True)
    good = pa.table(
        {
            "src_addr": pa.array(["p1", None, "p2"]),
            "dst_addr": ["d", "d", "d"],
            "event_time": pa.array([1, 2, 3], pa.timestamp("s", tz="UTC")),
            "rtt_ms": [1.0, 2.0, 3.0],
        }
    )
    pq.write_table(good, folder / "a.parquet")
    pq.write_table(good.drop_columns(["event_time"]), folder / "b.parquet")
    res = _resources(tmp_path)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SHARD_PARTITIONS.name, ["a.parquet"])
        result = dg.materialize(
            [measurement_shards, probe_rows],
            instance=instance,
            resources=res,
            partition_key="a.parquet",
            selection=[measurement_shards],
        )
        assert _meta(result, measurement_shards.key)["null_src_addr"] == 1
        rows = dg.materialize(
            [measurement_shards, probe_rows], selection=[probe_rows], instance=instance, resources=res
        )
        meta = _meta(rows, probe_rows.key)
        assert meta["null_src_addr_dropped"] == 1 and "null src_addr" in meta["warning"]
        before = sorted(p.name for p in (tmp_path / "parquet" / "probe_rows").rglob("*"))

        instance.add_dynamic_partitions(SHARD_PARTITIONS.name, ["b.parquet"])
        bad = dg.materialize(
            [measurement_shards], partition_key="b.parquet", instance=instance, resources=res, raise_on_error=False
        )
        assert not bad.success
        [failure] = [e for e in bad.all_events if e.event_type_value == "STEP_FAILURE"]
        message = failure.event_specific_data.error.cause.message
        assert "b.parquet" in message and "'event_time'" in message
        # The grouping refuses the registered bad shard too, and leaves the previous output alone.
        again = dg.materialize(
            [measurement_shards, probe_rows],
            selection=[probe_rows],
            instance=instance,
            resources=res,
            raise_on_error=False,
        )
        assert not again.success
    assert sorted(p.name for p in (tmp_path / "parquet" / "probe_rows").rglob("*")) == before
