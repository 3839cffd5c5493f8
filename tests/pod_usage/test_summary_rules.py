"""The summary's rules on tiny inline line items, and streaming == in-memory on generated data."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.baselines.pod_usage_pandas import summarize_in_memory
from pod_usage.generate import generate
from pod_usage.summary import summarize_files
from tests.pod_usage.helpers import line_item, normalised, write_items


def _summarise(tmp_path, budget, files, **kw):
    out = tmp_path / "out" / "summary.parquet"
    stats = summarize_files(files, out, budget, **kw)
    frame = pd.read_parquet(out)
    pd.testing.assert_frame_equal(
        normalised(frame), normalised(summarize_in_memory(files, **kw)), check_exact=True, check_dtype=False
    )
    return stats, frame


def test_effective_usage_is_max_per_line_item_then_summed(tmp_path, budget):
    # a: usage 2 cores > request 1; b: usage 1 < request 3. Effective = 2 + 3 = 5 core-hours,
    # not max(usage sum 3, request sum 4) = 4.
    files = [
        write_items(
            tmp_path / "raw" / "a.csv",
            [
                line_item("a", "ns", "n1", 1, 0, usage_cpu=7200, request_cpu=3600),
                line_item("b", "ns", "n1", 1, 0, usage_cpu=3600, request_cpu=10800),
            ],
        )
    ]
    _, frame = _summarise(tmp_path, budget, files)
    row = frame.iloc[0]
    assert (row["pod_usage_cpu_core_hours"], row["pod_request_cpu_core_hours"]) == (3.0, 4.0)
    assert row["pod_effective_usage_cpu_core_hours"] == 5.0
    assert row["pod_count"] == 2


def test_capacity_once_per_node_and_interval_shared_by_namespaces(tmp_path, budget):
    # Node n1 (4 cores, 16 GiB) carries 3 pods in 2 namespaces for 2 hours: capacity is
    # 4 cores x 2 h = 8 core-hours and 16 GiB x 2 h = 32 GiB-hours, whatever the pod count.
    items = [line_item(p, ns, "n1", 1, h) for h in (0, 1) for p, ns in (("a", "x"), ("b", "x"), ("c", "y"))]
    items += [line_item("d", "x", "n2", 1, 0, cores=2, mem_bytes=8 * 2**30)]
    files = [write_items(tmp_path / "raw" / "a.csv", items)]
    stats, frame = _summarise(tmp_path, budget, files)
    assert stats.node_intervals == 3
    by = frame.set_index(["namespace", "node"])
    for key in (("x", "n1"), ("y", "n1")):
        assert by.loc[key, "node_capacity_cpu_core_hours"] == 8.0
        assert by.loc[key, "node_capacity_memory_gigabyte_hours"] == 32.0
    assert by.loc[("x", "n2"), "node_capacity_cpu_core_hours"] == 2.0
    # x on n1: 2 pods x 2 h x 1 core requested (usage 0.5) -> effective 4 core-hours of 8.
    assert by.loc[("x", "n1"), "pod_effective_usage_cpu_core_hours"] == 4.0
    assert by.loc[("x", "n1"), "cpu_share_of_node"] == 0.5
    assert by.loc[("y", "n1"), "cpu_share_of_node"] == 0.25
    # Memory: 2 GiB requested, 1 GiB used -> effective 2 GiB per pod-hour.
    assert by.loc[("x", "n1"), "memory_share_of_node"] == 8.0 / 32.0


def test_empty_usage_of_a_completed_pod_counts_as_zero(tmp_path, budget):
    files = [
        write_items(
            tmp_path / "raw" / "a.csv",
            [
                line_item("job", "ns", "n1", 1, 0, usage_cpu=3600, usage_mem=2**30 * 3600),
                line_item("job", "ns", "n1", 1, 1, usage_cpu="", usage_mem=""),  # completed: no usage
            ],
        )
    ]
    _, frame = _summarise(tmp_path, budget, files)
    row = frame.iloc[0]
    assert row["line_items"] == 2
    assert row["pod_usage_cpu_core_hours"] == 1.0
    assert row["pod_request_cpu_core_hours"] == 2.0
    assert row["pod_effective_usage_cpu_core_hours"] == 2.0  # max(1, 1) + max(0, 1)
    assert row["pod_usage_memory_gigabyte_hours"] == 1.0


def test_reuploaded_report_is_counted_once(real_sample, tmp_path, budget):
    # The same export uploaded twice: every line item has a copy; the sums must not double.
    copy = tmp_path / "raw" / "z_reupload.csv"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(real_sample.read_bytes())
    once = summarize_files([real_sample], tmp_path / "once.parquet", budget)
    stats, twice = _summarise(tmp_path, budget, [real_sample, copy])
    assert (stats.rows_in, stats.line_items, stats.duplicate_line_items) == (960, 480, 480)
    assert twice["duplicate_line_items"].sum() == 480
    expected = pd.read_parquet(tmp_path / "once.parquet").drop(columns="duplicate_line_items")
    pd.testing.assert_frame_equal(twice.drop(columns="duplicate_line_items"), expected, check_exact=True)
    assert once.rows_out == stats.rows_out


def test_duplicate_with_other_values_keeps_the_later_file(tmp_path, budget):
    one_core = line_item("a", "ns", "n1", 1, 0, usage_cpu=3600)
    two_cores = line_item("a", "ns", "n1", 1, 0, usage_cpu=7200)
    first = write_items(tmp_path / "raw" / "2019-02-a.csv", [one_core])
    later = write_items(tmp_path / "raw" / "2019-02-b.csv", [two_cores])
    same_file = write_items(
        tmp_path / "raw2" / "c.csv",
        [line_item("a", "ns", "n1", 1, 0, usage_cpu=7200), line_item("a", "ns", "n1", 1, 0, usage_cpu=3600)],
    )
    for files in ([first, later], [later, first]):  # order given does not matter: path order does
        stats, frame = _summarise(tmp_path, budget, files)
        assert stats.duplicate_line_items == 1
        assert frame.iloc[0]["pod_usage_cpu_core_hours"] == 2.0
    stats, frame = _summarise(tmp_path, budget, [same_file])  # same file: the larger copy
    assert frame.iloc[0]["pod_usage_cpu_core_hours"] == 2.0


def test_rows_of_other_report_periods_are_read_and_counted(tmp_path, budget):
    march = line_item("a", "ns", "n1", 1, 0)
    march["report_period_start"] = "2019-03-01 00:00:00 +0000 UTC"
    files = [write_items(tmp_path / "raw" / "a.csv", [line_item("a", "ns", "n1", 1, 0), march])]
    stats, frame = _summarise(tmp_path, budget, files, report_period="2019-02")
    assert (stats.rows_in, stats.rows_other_periods, stats.rows_out) == (1, 1, 1)


@pytest.mark.parametrize("newer_format", [False, True], ids=["koku-order", "newer-order-node-role"])
def test_streaming_equals_in_memory_on_generated_items(tmp_path, newer_format):
    from memsafe.budget import Budget

    sample = generate(tmp_path / "raw", 60_000, files=3, seed=7, newer_format=newer_format, duplicate_fraction=0.02)
    # The smallest budget DuckDB accepts here (128 MB engine), to exercise the bounded path.
    budget = Budget(memory_mb=384, threads=2, spill_dir=str(tmp_path / "spill"))
    stats, frame = _summarise(tmp_path, budget, sample.files)
    assert stats.rows_in == sample.rows
    assert stats.duplicate_line_items == sample.duplicates > 0
    assert stats.line_items == 60_000
    assert frame["pod_count"].sum() > 0 and frame["namespace"].nunique() > 3


def test_previous_output_survives_a_failed_run(tmp_path, budget, real_sample):
    from pod_usage.format import PodUsageInputError

    out = tmp_path / "out" / "summary.parquet"
    summarize_files([real_sample], out, budget)
    before = out.read_bytes()
    bad = write_items(tmp_path / "raw" / "bad.csv", [line_item("a", "ns", "n1", 1, 0, usage_cpu="n/a")])
    with pytest.raises(PodUsageInputError):
        summarize_files([real_sample, bad], out, budget)
    assert out.read_bytes() == before
    assert [p.name for p in out.parent.iterdir()] == ["summary.parquet"]  # no temporary left


def test_quantisation_rounds_half_to_even_in_both_engines(tmp_path, budget):
    # Byte-seconds 0.5, 1.5, 2.5 quantise to 0 + 2 + 2 = 4 (half to even), not 1 + 2 + 3 = 6;
    # _summarise also checks the pandas engine rounds the same way.
    halves = (("a", 0.5), ("b", 1.5), ("c", 2.5))
    items = [line_item(p, "ns", "n1", 1, 0, usage_mem=v, request_mem=0) for p, v in halves]
    files = [write_items(tmp_path / "raw" / "a.csv", items)]
    _, frame = _summarise(tmp_path, budget, files)
    assert frame.iloc[0]["pod_usage_memory_gigabyte_hours"] == 4 / (3600 * 2**30)
