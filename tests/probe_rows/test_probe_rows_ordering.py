"""Ordering diagnostics on tiny inline shards, and the proof across shards."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from probe_rows.ordering import diagnose_shard, proven_ordered

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _shard(path: Path, rows: list[tuple[str | None, int]]) -> Path:
    src, secs = zip(*rows, strict=True) if rows else ((), ())
    pq.write_table(
        pa.table(
            {
                "src_addr": pa.array(src, pa.string()),
                "event_time": pa.array([T0 + dt.timedelta(seconds=s) for s in secs], pa.timestamp("us", tz="UTC")),
            }
        ),
        path,
    )
    return path


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # sorted by probe then time: 1 change, nothing out of order
        ([("a", 1), ("a", 2), ("b", 0)], (1, 0, 0, 0, True)),
        # probe order goes down once (b -> a): contiguous but not sorted
        ([("b", 1), ("a", 1), ("a", 2)], (1, 1, 0, 0, False)),
        # time goes backwards within a probe
        ([("a", 2), ("a", 1)], (0, 0, 1, 0, False)),
        # equal times within a probe: a tie, not proof
        ([("a", 1), ("a", 1), ("a", 2)], (0, 0, 0, 1, False)),
        # interleaved probes: every row a change
        ([("a", 1), ("b", 1), ("a", 2), ("b", 2)], (3, 1, 0, 0, False)),
        # null probe rows are skipped (counted apart), the rest is sorted
        ([("a", 1), (None, 0), ("a", 2)], (0, 0, 0, 0, True)),
    ],
    ids=["sorted", "probe-decrease", "time-violation", "tie", "interleaved", "nulls-skipped"],
)
def test_diagnostics(tmp_path, rows, expected):
    d = diagnose_shard(_shard(tmp_path / "s.parquet", rows))
    assert (
        d.src_addr_changes,
        d.src_addr_decreases,
        d.event_time_violations,
        d.event_time_ties,
        d.sorted_within,
    ) == expected
    assert d.rows == len(rows) and d.null_src_addr == sum(r[0] is None for r in rows)


def test_diagnostics_count_across_batch_boundaries(tmp_path):
    rows = [("a", 3), ("a", 1), ("b", 1), ("a", 9)]
    d = diagnose_shard(_shard(tmp_path / "s.parquet", rows), batch_rows=1)
    assert (d.src_addr_changes, d.src_addr_decreases, d.event_time_violations) == (2, 1, 1)
    assert (d.first_src_addr, d.last_src_addr, d.last_event_time) == ("a", "a", T0 + dt.timedelta(seconds=9))


@pytest.mark.parametrize(
    ("shards", "proven"),
    [
        ([[("a", 1), ("a", 2)], [("a", 3), ("b", 1)]], True),  # a probe continues into the next shard
        ([[("a", 1), ("b", 2)], [("a", 3)]], False),  # probe a comes back after b
        ([[("a", 1), ("a", 5)], [("a", 3)]], False),  # time goes back across the shard boundary
        ([[("a", 1)], [], [("b", 1)]], True),  # empty shards are skipped
        ([[("a", 1)], [("a", 1)]], False),  # a tie across the boundary
    ],
    ids=["continuation", "probe-returns", "time-back", "empty-between", "tie-across"],
)
def test_proof_across_shards(tmp_path, shards, proven):
    diags = [diagnose_shard(_shard(tmp_path / f"s{i}.parquet", rows)) for i, rows in enumerate(shards)]
    assert proven_ordered(diags) is proven


def test_no_shards_prove_nothing():
    assert proven_ordered([]) is False


def test_event_time_in_another_zone_is_ordered_as_instants(tmp_path):
    # Paris, 2026-10-25: 02:30 CEST (00:30 UTC) comes before 02:10 CET (01:10 UTC). As wall-clock
    # values the second looks earlier; as instants it is later, so the shard is sorted.
    utc = [dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC), dt.datetime(2026, 10, 25, 1, 10, tzinfo=dt.UTC)]
    times = pa.array(utc, pa.timestamp("ms", tz="UTC")).cast(pa.timestamp("ms", tz="Europe/Paris"))
    path = tmp_path / "paris.parquet"
    pq.write_table(pa.table({"src_addr": ["a", "a"], "event_time": times}), path)
    d = diagnose_shard(path)
    assert (d.event_time_violations, d.sorted_within) == (0, True)
    assert d.last_event_time == dt.datetime(2026, 10, 25, 1, 10, tzinfo=dt.UTC)


def test_naive_event_time_is_read_as_utc(tmp_path):
    path = tmp_path / "naive.parquet"
    pq.write_table(
        pa.table({"src_addr": ["a"], "event_time": pa.array([dt.datetime(2026, 1, 1, 12)], pa.timestamp("ns"))}), path
    )
    assert diagnose_shard(path).first_event_time == dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
