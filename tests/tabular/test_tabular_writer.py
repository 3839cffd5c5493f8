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


def test_a_row_group_of_up_to_two_batches_is_read_in_equal_batches(tmp_path):
    # 150 rows in one row group, 100-row batches: two of 75, not 100 and a 50-row tail; a row
    # group over two batches (250 rows) is streamed in batches of 100.
    from tabular.io import iter_file_batches

    path = tmp_path / "f.parquet"
    pq.write_table(pa.Table.from_batches(_batches(1, 150)), path)
    assert [b.num_rows for b in iter_file_batches(path, 100)] == [75, 75]
    pq.write_table(pa.Table.from_batches(_batches(1, 250)), path)
    assert [b.num_rows for b in iter_file_batches(path, 100)] == [100, 100, 50]


def test_coalesce_passes_batches_on_before_reading_the_next(tmp_path):
    # 60-row batches into 100-row tables: another 60 would overflow, so each goes on before the
    # next is read (the held one would keep its row group alive). Smaller ones are still joined.
    from tabular.io import coalesce_batches

    pulled = []

    def source(sizes):
        for k, n in enumerate(sizes):
            pulled.append(k)
            yield _batches(1, n)[0]

    seen = []
    for out in coalesce_batches(source([60, 60, 60]), 100):
        seen.append((out.num_rows, len(pulled)))
    assert seen == [(60, 1), (60, 2), (60, 3)]
    pulled.clear()
    assert [t.num_rows for t in coalesce_batches(source([30, 30, 30, 30]), 100)] == [90, 30]
