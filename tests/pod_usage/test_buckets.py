"""The bucketed summary (issue 15) gives the one-pass result, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from bench.baselines.pod_usage_pandas import summarize_in_memory
from memsafe.budget import Budget
from pod_usage import summary
from pod_usage.format import PodUsageInputError
from pod_usage.generate import generate
from pod_usage.summary import (
    BUCKET_MEMORY_SHARE,
    LINE_ITEM_AGGREGATE_BYTES,
    MIN_LINE_ITEM_CSV_BYTES,
    line_item_buckets,
    summarize_files,
)
from tests.pod_usage.helpers import line_item, normalised, write_items

COUNTS = (
    "rows_in",
    "rows_other_periods",
    "line_items",
    "duplicate_line_items",
    "rows_out",
    "node_intervals",
    "capacity_conflicts",
)


def _inputs(tmp_path: Path) -> list[Path]:
    """Generated line items over 3 files plus a 5% re-upload (duplicates of every bucket), and
    inline files: one line item with another value in a later file and twice in one file, a
    capacity conflict, and a row of another report period."""
    sample = generate(tmp_path / "raw", 30_000, files=3, seed=3, duplicate_fraction=0.05)
    two_cores = line_item("a", "ns", "n1", 1, 0, usage_cpu=7200)
    march = line_item("b", "ns", "n1", 1, 0)
    march["report_period_start"] = "2019-03-01 00:00:00 +0000 UTC"
    inline = [
        write_items(tmp_path / "raw" / "x-1.csv", [line_item("a", "ns", "n1", 1, 0, usage_cpu=3600), march]),
        write_items(tmp_path / "raw" / "x-2.csv", [two_cores, line_item("c", "ns", "n1", 1, 0, cores=8)]),
        write_items(
            tmp_path / "raw" / "x-0.csv",
            [line_item("d", "ns2", "n2", 2, 5, usage_cpu=10), line_item("d", "ns2", "n2", 2, 5, usage_cpu=20)],
        ),
    ]
    return [*sample.files, *inline]


@pytest.mark.parametrize(
    ("buckets", "report_period"),
    [
        (2, None),  # every period: the inline 2019-02/03 rows are summarised too
        (7, "2024-01"),  # the generated month: the inline rows only counted as other periods
    ],
    ids=["2-buckets-all-periods", "7-buckets-one-period"],
)
def test_bucketed_equals_one_pass(tmp_path, buckets, report_period):
    files = _inputs(tmp_path)
    spill = tmp_path / "spill"
    budget = Budget(memory_mb=512, threads=2, spill_dir=str(spill))
    one = summarize_files(files, tmp_path / "one.parquet", budget, report_period=report_period, buckets=1)
    split = summarize_files(files, tmp_path / "split.parquet", budget, report_period=report_period, buckets=buckets)
    assert (one.line_item_buckets, split.line_item_buckets) == (1, buckets)
    # The output written day by day and in row-group slices is the one sorted COPY's file.
    assert (tmp_path / "split.parquet").read_bytes() == (tmp_path / "one.parquet").read_bytes()
    assert {k: getattr(split, k) for k in COUNTS} == {k: getattr(one, k) for k in COUNTS}
    assert split.duplicate_line_items > 1500 and split.capacity_conflicts == (0 if report_period else 1)
    assert pq.read_schema(tmp_path / "split.parquet") == pq.read_schema(tmp_path / "one.parquet")
    frame = pd.read_parquet(tmp_path / "split.parquet")
    pd.testing.assert_frame_equal(frame, pd.read_parquet(tmp_path / "one.parquet"), check_exact=True)
    oracle = summarize_in_memory(files, report_period=report_period)
    pd.testing.assert_frame_equal(normalised(frame), normalised(oracle), check_exact=True, check_dtype=False)
    if report_period is None:  # the later file's copy (2 cores); in one file, the larger copy
        by = frame.set_index(["namespace", "pod_count"]).query("namespace in ('ns', 'ns2')")
        assert by["pod_usage_cpu_core_hours"].tolist() == [(7200 + 1800 + 1800) / 3600, 20 / 3600]
    assert list(spill.iterdir()) == []  # the bucket spill and DuckDB's temp files are gone


def test_output_written_by_day_has_the_one_pass_row_groups(tmp_path, monkeypatch):
    """The bucketed output is built one usage date at a time and cut into row-group slices; with
    the smallest row groups a sorted COPY writes (one 2,048-row vector) there are three, their
    boundaries inside days (about 134 rows a day), and the bytes still match."""
    row_group_rows = 2048
    monkeypatch.setattr(summary, "OUTPUT_ROW_GROUP_ROWS", row_group_rows)
    files = generate(tmp_path / "raw", 100_000, files=2, seed=5, nodes=60, namespaces=100).files  # 4,149 rows out
    budget = Budget(memory_mb=512, threads=2, spill_dir=str(tmp_path / "spill"))
    one = summarize_files(files, tmp_path / "one.parquet", budget, buckets=1)
    split = summarize_files(files, tmp_path / "split.parquet", budget, buckets=5)
    meta = pq.ParquetFile(tmp_path / "split.parquet").metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert split.rows_out == one.rows_out == sum(sizes) > 2 * row_group_rows
    assert set(sizes[:-1]) == {row_group_rows} and 0 < sizes[-1] <= row_group_rows
    assert sum(sizes) % row_group_rows != 0  # the last slice is a part of one
    assert (tmp_path / "split.parquet").read_bytes() == (tmp_path / "one.parquet").read_bytes()
    assert list((tmp_path / "spill").iterdir()) == []


@pytest.mark.parametrize(("buckets", "percentages"), [(1, True), (3, False)], ids=["one-pass", "bucketed"])
def test_duckdb_progress_only_where_no_units_are_counted(tmp_path, monkeypatch, buckets, percentages):
    """The bucketed path counts files, buckets and days itself: DuckDB's per-statement
    percentages would only interleave with those lines."""
    watched = []
    real = summary.duckdb_progress

    def recording(con, logger, what, *args, **kwargs):
        watched.append(what)
        return real(con, logger, what, *args, **kwargs)

    monkeypatch.setattr(summary, "duckdb_progress", recording)
    files = _inputs(tmp_path)[-3:]  # the inline files: a quick run
    budget = Budget(memory_mb=512, threads=2, spill_dir=str(tmp_path / "spill"))
    summarize_files(files, tmp_path / "out.parquet", budget, buckets=buckets)
    assert bool(watched) is percentages


@pytest.mark.parametrize(
    ("items", "line", "fragment"),
    [
        ([line_item("a", "ns", "n1", 1, 0, usage_cpu="n/a")], 2, "n/a"),  # the reader's error
        ([line_item("a", "ns", "n1", 1, 0), line_item("b", "ns", "n1", 1, 3, end_hour=2)], 3, "interval"),
    ],
    ids=["non-numeric", "interval-ends-first"],
)
def test_bucketed_errors_name_file_and_line(tmp_path, real_sample, items, line, fragment):
    bad = write_items(tmp_path / "raw" / "bad.csv", items)
    spill = tmp_path / "spill"
    budget = Budget(memory_mb=512, threads=2, spill_dir=str(spill))
    with pytest.raises(PodUsageInputError) as info:
        summarize_files([real_sample, bad], tmp_path / "out.parquet", budget, buckets=3)
    assert (info.value.path, info.value.line) == (str(bad), line)
    assert fragment in str(info.value)
    assert list(spill.iterdir()) == []


def test_bucket_count_follows_input_size_and_budget():
    budget = Budget(memory_mb=1024)
    per_bucket = budget.engine_memory_mb * 2**20 * BUCKET_MEMORY_SHARE / LINE_ITEM_AGGREGATE_BYTES
    assert line_item_buckets(10 * 2**20, budget) == 1  # tests, demo: one pass, no spill
    for csv_bytes in (2_789_379_573, 26_700_000_000):  # 10M and 100M generated line items
        buckets = line_item_buckets(csv_bytes, budget)
        line_items = csv_bytes / MIN_LINE_ITEM_CSV_BYTES  # estimated, at most the real count
        assert line_items / buckets <= per_bucket < line_items / (buckets - 1)  # the fewest that fit
    assert line_item_buckets(26_700_000_000, Budget(memory_mb=4096)) < line_item_buckets(26_700_000_000, budget) / 3
