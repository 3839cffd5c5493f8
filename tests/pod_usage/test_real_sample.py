"""The real koku export (../shared/data/real/pod_usage, 480 hourly line items, 4 pods, 2
namespaces, 1 node, 2019-02-01..05): sums checked by hand, capacity once per node and interval,
streaming equal to in-memory, and the newer export's column order."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from bench.baselines.pod_usage_pandas import summarize_in_memory
from pod_usage.summary import SUMMARY_COLUMNS, summarize_files
from tests.pod_usage.helpers import normalised


@pytest.fixture
def summary(real_sample, budget, tmp_path) -> pd.DataFrame:
    out = tmp_path / "out" / "2019-02.parquet"
    stats = summarize_files([real_sample], out, budget, report_period="2019-02")
    assert (stats.rows_in, stats.line_items, stats.duplicate_line_items, stats.rows_out) == (480, 480, 0, 10)
    assert pq.ParquetFile(out).schema_arrow.names == list(SUMMARY_COLUMNS)
    return pd.read_parquet(out)


def _row(summary: pd.DataFrame, day: str, namespace: str) -> pd.Series:
    rows = summary[(summary["usage_date"].astype(str) == day) & (summary["namespace"] == namespace)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_one_namespace_and_day_by_hand(real_sample, summary):
    # Independent figure: the csv module and plain float sums over the raw rows.
    with open(real_sample, newline="") as fh:
        items = [
            r
            for r in csv.DictReader(fh)
            if r["namespace"] == "namespace_qa" and r["interval_start"].startswith("2019-02-03 ")
        ]
    assert len(items) == 48  # 2 pods x 24 hours

    def total(col: str) -> float:
        return sum(float(r[col]) for r in items)

    row = _row(summary, "2019-02-03", "namespace_qa")
    assert row["pod_count"] == 2
    assert row["line_items"] == 48
    usage = total("pod_usage_cpu_core_seconds") / 3600
    assert row["pod_usage_cpu_core_hours"] == pytest.approx(usage, rel=1e-12)
    assert row["pod_request_cpu_core_hours"] == pytest.approx(total("pod_request_cpu_core_seconds") / 3600)
    assert row["pod_limit_cpu_core_hours"] == pytest.approx(total("pod_limit_cpu_core_seconds") / 3600)
    effective = sum(
        max(float(r["pod_usage_cpu_core_seconds"]), float(r["pod_request_cpu_core_seconds"])) for r in items
    )
    assert row["pod_effective_usage_cpu_core_hours"] == pytest.approx(effective / 3600, rel=1e-12)
    assert row["pod_usage_memory_gigabyte_hours"] == pytest.approx(
        total("pod_usage_memory_byte_seconds") / 3600 / 2**30, rel=1e-12
    )
    # Literal values, checked once by hand against the file (sum / 3600, sum / 3600 / 2**30).
    assert row["pod_usage_cpu_core_hours"] == pytest.approx(109.771121913889, rel=1e-12)
    assert row["pod_request_cpu_core_hours"] == pytest.approx(242.125)
    assert row["pod_usage_memory_gigabyte_hours"] == pytest.approx(4.355951694485957, rel=1e-12)
    # In this sample usage never exceeds the cpu request and always exceeds the (tiny) memory
    # request, so effective = request for cpu and = usage for memory.
    assert row["pod_effective_usage_cpu_core_hours"] == pytest.approx(242.125)
    assert row["pod_effective_usage_memory_gigabyte_hours"] == row["pod_usage_memory_gigabyte_hours"]


def test_node_capacity_counted_once_per_node_and_interval(real_sample, summary):
    # Node alpha: 2 cores, 7200 core-seconds per hourly interval, on every one of the 4 pods' rows.
    with open(real_sample, newline="") as fh:
        day = [r for r in csv.DictReader(fh) if r["interval_start"].startswith("2019-02-03 ")]
    per_row_sum = sum(float(r["node_capacity_cpu_core_seconds"]) for r in day) / 3600
    assert per_row_sum == 192.0  # the classic mistake: capacity summed on every pod row
    for namespace in ("namespace_ci", "namespace_qa"):
        row = _row(summary, "2019-02-03", namespace)
        assert row["node_capacity_cpu_cores"] == 2.0
        assert row["node_capacity_cpu_core_hours"] == 48.0  # 24 intervals x 2 cores
        assert row["node_capacity_memory_bytes"] == 4194304
        assert row["node_capacity_memory_gigabyte_hours"] == 24 * 15099494400 / 3600 / 2**30
        assert row["cpu_share_of_node"] == pytest.approx(row["pod_effective_usage_cpu_core_hours"] / 48.0)
    assert _row(summary, "2019-02-03", "namespace_qa")["cpu_share_of_node"] == pytest.approx(242.125 / 48)


def test_streaming_equals_in_memory(real_sample, summary):
    expected = summarize_in_memory([real_sample], report_period="2019-02")
    pd.testing.assert_frame_equal(normalised(summary), normalised(expected), check_exact=True, check_dtype=False)


def test_newer_export_column_order_and_node_role(real_sample, summary, budget, tmp_path):
    # The newer export reorders the columns and adds node_role: read by header name, same result.
    frame = pd.read_csv(real_sample, dtype=str, keep_default_na=False)
    newer = frame[list(reversed(frame.columns))].assign(node_role="worker")
    path = tmp_path / "newer" / "newer.csv"
    path.parent.mkdir()
    newer.to_csv(path, index=False)
    out = tmp_path / "newer_out.parquet"
    summarize_files([path], out, budget)
    pd.testing.assert_frame_equal(pd.read_parquet(out), summary, check_exact=True)


def test_other_report_period_is_counted_not_summarised(real_sample, budget, tmp_path: Path):
    from pod_usage.format import NoPodUsageFiles

    with pytest.raises(NoPodUsageFiles, match="2019-03"):
        summarize_files([real_sample], tmp_path / "x.parquet", budget, report_period="2019-03")
    assert not (tmp_path / "x.parquet").exists()
