"""The Dagster side: the definitions fragment loads and merges, the asset materialises a
partition into a temporary data root with its metadata and checks, and the demo runs."""

from __future__ import annotations

import shutil

import dagster as dg
import pyarrow.parquet as pq
import pytest

from memsafe.metadata import PEAK_CHECK
from memsafe.resources import BUDGET, DATA, SHARED_RESOURCES, DataDirResource, MemoryBudgetResource
from pod_usage.assets import CHECKS, REPORT_PERIODS, pod_usage_daily_summary
from pod_usage.summary import SUMMARY_COLUMNS
from tests.pod_usage.helpers import line_item, write_items


def test_definitions_load_and_merge():
    from pod_usage.definitions import defs

    key = dg.AssetKey("pod_usage_daily_summary")
    assert defs.resolve_asset_graph().get_all_asset_keys() == {key}
    assert defs.resources["data"] is DATA and defs.resources["budget"] is BUDGET
    spec = defs.resolve_assets_def(key)
    assert spec.partitions_def == REPORT_PERIODS
    assert "2019-02" in REPORT_PERIODS.get_partition_keys()
    assert {c.name for c in spec.check_specs} == {*CHECKS, PEAK_CHECK}
    assert pod_usage_daily_summary.op.pool == "pod_usage"
    assert defs.resolve_job_def("pod_usage_job").partitions_def == REPORT_PERIODS
    # The lead combines fragments with Definitions.merge: the shared singletons must not clash.
    other = dg.Definitions(assets=[dg.AssetSpec("elsewhere")], resources=SHARED_RESOURCES)
    merged = dg.Definitions.merge(defs, other)
    assert key in merged.resolve_asset_graph().get_all_asset_keys()


@pytest.fixture(scope="module")
def instance():
    """One temporary sqlite instance for the module (creating one costs seconds on 2 cores)."""
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def root(tmp_path, real_sample):
    raw = tmp_path / "data" / "raw" / "pod_usage"
    raw.mkdir(parents=True)
    shutil.copy2(real_sample, raw / real_sample.name)  # into the tmp data root, never the repo
    return tmp_path / "data"


def _materialize(instance, root, key="2019-02", **kw):
    resources = {
        "data": DataDirResource(data_dir=str(root)),
        "budget": MemoryBudgetResource(memory_mb=512, spill_dir=str(root / "spill")),
    }
    return dg.materialize([pod_usage_daily_summary], instance=instance, resources=resources, partition_key=key, **kw)


def test_asset_materialises_real_sample_with_metadata_and_checks(instance, root):
    # A re-upload of the same report lands in the same month partition: dropped, not summed.
    shutil.copy2(
        root / "raw" / "pod_usage" / "koku_ocp_pod_usage_2019-02.csv", root / "raw" / "pod_usage" / "reupload.csv"
    )
    result = _materialize(instance, root)
    assert result.success
    out = root / "parquet" / "pod_usage" / "daily_summary" / "2019-02.parquet"
    assert pq.ParquetFile(out).schema_arrow.names == list(SUMMARY_COLUMNS)
    assert pq.ParquetFile(out).metadata.num_rows == 10  # 5 days x 2 namespaces x 1 node
    event = result.get_asset_materialization_events()[0]
    md = {k: v.value for k, v in event.materialization.metadata.items()}
    assert (md["rows_in"], md["line_items"], md["duplicate_line_items"]) == (960, 480, 480)
    assert md["rows_out"] == 10
    assert md["dagster/row_count"] == 10 and md["path"] == str(out)
    assert md["rows_per_s"] > 0 and md["peak_rss_mb"] > 0 and md["seconds"] > 0
    assert [c.name for c in md["dagster/column_schema"].columns] == list(SUMMARY_COLUMNS)
    assert isinstance(event.materialization.metadata["started_at"], dg.TimestampMetadataValue)
    assert md["capacity_conflicts"] == 0 and md["node_intervals"] == 120
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {**dict.fromkeys(CHECKS, True), PEAK_CHECK: checks[PEAK_CHECK]}
    # In process, the peak is this test process' RSS (the whole suite's imports): the check must
    # agree with the figures it reports, whichever way they fall.
    assert checks[PEAK_CHECK] == (md["peak_rss_mb"] <= md["memory_budget_mb"])


def test_capacity_conflict_is_reported_by_a_warning_check(instance, root):
    # Two pods of one node and interval reporting different capacities: max kept, check fails.
    items = [line_item("a", "ns", "n9", 1, 0, cores=4), line_item("b", "ns", "n9", 1, 0, cores=8)]
    write_items(root / "raw" / "pod_usage" / "conflict.csv", items)
    result = _materialize(instance, root)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["capacity_consistent"].passed is False
    assert checks["capacity_consistent"].severity == dg.AssetCheckSeverity.WARN
    assert checks["line_items_accounted"].passed is True


def test_bad_file_fails_the_run_naming_file_and_line(instance, root):
    write_items(
        root / "raw" / "pod_usage" / "bad.csv", [line_item("a", "ns", "n1", 1, 3, end_hour=2)]
    )  # ends before it starts
    result = _materialize(instance, root, raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert failure.cause.cls_name == "PodUsageInputError"
    assert "bad.csv, line 2: interval_end" in failure.cause.message


def test_demo_runs_through_dagster(instance, tmp_path):
    from pod_usage.demo import run

    rows = run(instance, tmp_path, rows=5_000)
    assert [r["partition"] for r in rows] == ["2024-01", "2024-02"]
    for row in rows:
        assert set(row) >= {"location", "asset", "partition", "rows", "bytes", "seconds", "peak_rss_mb"}
        assert "error" not in row and row["rows"] > 0 and row["peak_rss_mb"] > 0
    assert rows[0]["duplicate_line_items"] > 0 and rows[1]["duplicate_line_items"] == 0
