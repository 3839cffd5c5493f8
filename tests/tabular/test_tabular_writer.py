"""Shard writer: row groups per shard stay bounded (issue 15), rows and their order unchanged."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from tabular import io as tio
from tabular.io import ShardWriter
from tabular.splits import SMALL_WRITES_PER_BATCH, SplitSpec, split_dataset


def _batches(n: int, rows: int) -> list[pa.RecordBatch]:
    return [pa.record_batch({"i": list(range(k * rows, (k + 1) * rows)), "s": ["x"] * rows}) for k in range(n)]


def _row_groups(path) -> list[int]:
    meta = pq.ParquetFile(path).metadata
    return [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]


def test_small_writes_are_joined_into_row_groups(tmp_path):
    # Ten writes of 30 rows with a 100-row minimum: held 30, 60, 90, then 120 go out together;
    # the last 60 at close. Before: one row group per write (ten).
    batches = _batches(10, 30)
    w = ShardWriter(tmp_path / "out", batches[0].schema, min_row_group_rows=100)
    for b in batches:
        w.write(b)
    (shard,) = w.close()
    assert _row_groups(shard) == [120, 120, 60]
    assert pq.read_table(shard).column("i").to_pylist() == list(range(300))


def test_a_write_of_the_minimum_passes_alone(tmp_path):
    # A held write joins the next one; writes at the minimum are not held.
    batches = [*_batches(1, 20), *_batches(2, 100)]
    w = ShardWriter(tmp_path / "out", batches[0].schema, min_row_group_rows=100)
    for b in batches:
        w.write(b)
    assert _row_groups(w.close()[0]) == [120, 100]


def test_a_shard_closes_after_its_column_chunk_bound(tmp_path, monkeypatch):
    # 2 columns and 8 column chunks a shard: 4 row groups, then the next shard, although
    # rows_per_shard (1,000) is far. Before: one shard of ten row groups.
    monkeypatch.setattr(tio, "MAX_COLUMN_CHUNKS", 8)
    batches = _batches(10, 10)
    w = ShardWriter(tmp_path / "out", batches[0].schema, rows_per_shard=1_000)
    for b in batches:
        w.write(b)
    shards = w.close()
    assert [len(_row_groups(s)) for s in shards] == [4, 4, 2]
    assert pq.read_table(tmp_path / "out").column("i").to_pylist() == list(range(100))


def test_split_row_groups_hold_at_least_a_quarter_batch(wide_csv, tmp_path):
    # 6,000 rows in 400-row batches: the test and val splits get about 40 rows of each batch,
    # each one row group before; now joined up to 100 rows (400 // 4).
    from tabular.loading import LoadSpec, load_dataset

    shards = tmp_path / "shards"
    load_dataset(wide_csv, shards, LoadSpec(label="label"))
    res = split_dataset(shards, tmp_path / "s", SplitSpec(label="label", batch_rows=400))
    for name in ("test", "val", "train"):
        groups = [n for shard in res.shards[name] for n in _row_groups(shard)]
        assert min(groups[:-1]) >= 400 // SMALL_WRITES_PER_BATCH, (name, groups)
        assert sum(groups) == res.rows[name]
