"""The grouping: exact order, identical output whatever the input order, split, bad input."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from memsafe.budget import Budget
from probe_rows import grouping, output
from probe_rows.grouping import GroupConfig, group_probes
from probe_rows.ordering import diagnose_shard, proven_ordered
from probe_rows.shards import ShardError, list_shards
from probe_rows.split import split_fraction
from tests.probe_rows.probe_rows_testdata import N_MEASUREMENTS, N_PROBES


def _budget(tmp_path: Path, mb: int = 512, batch_rows: int = 4_000) -> Budget:
    return Budget(memory_mb=mb, threads=2, batch_rows=batch_rows, spill_dir=str(tmp_path / "spill"))


def _read(out: Path, split: str | None = None) -> pl.DataFrame:
    pattern = f"{split}/*.parquet" if split else "*/*.parquet"
    return pl.read_parquet(str(out / pattern)).sort("src_addr")


def _input(folder: Path) -> pl.DataFrame:
    return pl.read_parquet(str(folder / "*.parquet"))


def _assert_exact(out: Path, source: Path) -> pl.DataFrame:
    """Every list strictly ordered by event_time and holding exactly the probe's measurements."""
    rows = _read(out)
    flat = rows.explode("measurements").unnest("measurements")
    # Every list: event_time strictly ascending (generated times are distinct within a probe).
    steps = flat.select(pl.col("event_time").diff().over("src_addr").alias("d")).drop_nulls()
    assert steps.height == N_MEASUREMENTS - rows.height
    assert steps.filter(pl.col("d") <= pl.duration(microseconds=0)).height == 0
    # ... and the lists hold exactly the input rows, nothing lost or invented.
    cols = ["src_addr", "dst_addr", "event_time", "rtt_ms", "ttl"]
    assert flat.select(cols).sort(cols).equals(_input(source).select(cols).sort(cols))
    assert rows["n_measurements"].to_list() == rows["measurements"].list.len().to_list()
    return rows


def test_shuffled_input_every_list_in_time_order(generated, tmp_path):
    stats = group_probes(generated["shuffled"], tmp_path / "out", _budget(tmp_path))
    assert stats.path == "bucketed"
    assert (stats.measurements_in, stats.measurements_out) == (N_MEASUREMENTS, N_MEASUREMENTS)
    assert stats.probes_in == N_PROBES
    rows = _assert_exact(tmp_path / "out", generated["shuffled"])
    assert rows.height == N_PROBES


def test_sorted_input_takes_streaming_path_with_identical_output(generated, tmp_path):
    shuffled = group_probes(generated["shuffled"], tmp_path / "a", _budget(tmp_path))
    ordered = group_probes(generated["sorted"], tmp_path / "b", _budget(tmp_path))
    assert (shuffled.path, ordered.path) == ("bucketed", "streaming")
    for split in ("train", "test"):
        assert _read(tmp_path / "a", split).equals(_read(tmp_path / "b", split))
    _assert_exact(tmp_path / "b", generated["sorted"])


def test_many_buckets_and_skew_resplit_give_the_same_output(generated, tmp_path, monkeypatch):
    reference = group_probes(generated["shuffled"], tmp_path / "ref", _budget(tmp_path))
    # Pretend memory is scarce: buckets of a few hundred KB, so the skewed probes force re-splits.
    monkeypatch.setattr(grouping, "BUCKET_MEMORY_FACTOR", 2_000.0)
    stats = group_probes(generated["shuffled"], tmp_path / "out", _budget(tmp_path))
    assert stats.path == "bucketed" and stats.buckets > 5 and stats.spill_bytes > 0
    assert _read(tmp_path / "out").equals(_read(tmp_path / "ref"))
    assert reference.buckets == 1
    assert not any((tmp_path / "spill").iterdir()), "spill files must be removed"


def test_split_is_stable_disjoint_and_seeded(generated, tmp_path):
    cfg = GroupConfig(test_fraction=0.3, seed=5)
    first = group_probes(generated["shuffled"], tmp_path / "one", _budget(tmp_path), cfg)
    again = group_probes(generated["shuffled"], tmp_path / "two", _budget(tmp_path), cfg)
    train = set(_read(tmp_path / "one", "train")["src_addr"])
    test = set(_read(tmp_path / "one", "test")["src_addr"])
    assert not train & test
    assert len(train | test) == N_PROBES
    assert (first.probes_train, first.probes_test) == (len(train), len(test))
    assert 0.15 < len(test) / N_PROBES < 0.45
    assert set(_read(tmp_path / "two", "test")["src_addr"]) == test and again.probes_test == first.probes_test
    # The rule itself: blake2b(seed:address) as a fraction of 2^64, below test_fraction.
    assert test == {a for a in train | test if split_fraction(a, 5) < 0.3}
    reseeded = GroupConfig(test_fraction=0.3, seed=6)
    other = group_probes(generated["shuffled"], tmp_path / "three", _budget(tmp_path), reseeded)
    assert set(_read(tmp_path / "three", "test")["src_addr"]) != test and other.probes_in == N_PROBES


def test_split_fraction_is_a_fixed_function():
    # Pinned values: a change of hash or encoding would silently move probes between splits.
    assert split_fraction("84.45.155.58", 0) == pytest.approx(0.39366261157934707)
    assert split_fraction("10.0.0.1", 7) == pytest.approx(0.9006998765329016)


def test_min_measurements_drops_small_probes(generated, tmp_path):
    counts = _input(generated["shuffled"]).group_by("src_addr").len()
    threshold = int(counts["len"].sort()[40])  # about 40 probes below it (fewer on equal counts)
    below = counts.filter(pl.col("len") < threshold)
    stats = group_probes(
        generated["shuffled"], tmp_path / "out", _budget(tmp_path), GroupConfig(min_measurements=threshold)
    )
    rows = _read(tmp_path / "out")
    assert stats.probes_below_min == below.height >= 30
    assert rows.height == N_PROBES - below.height
    assert rows["n_measurements"].min() >= threshold
    assert stats.measurements_out == N_MEASUREMENTS - below["len"].sum()


def _write(path: Path, table: pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def _rows(rows: list[tuple]) -> pa.Table:
    src, dst, secs, rtt = zip(*rows, strict=True)
    return pa.table(
        {
            "src_addr": pa.array(src, pa.string()),
            "dst_addr": pa.array(dst, pa.string()),
            "event_time": pa.array([T0 + dt.timedelta(seconds=s) for s in secs], pa.timestamp("us", tz="UTC")),
            "rtt_ms": pa.array(rtt, pa.float64()),
        }
    )


TIES = [
    ("p1", "b", 5, 2.0),
    ("p1", "a", 5, None),
    ("p1", "a", 5, 1.0),
    ("p1", "c", 1, 3.0),
    ("p2", "z", 9, 4.0),
    ("p2", "y", 9, 4.0),
]


def test_ties_are_broken_by_value_not_by_input_order(tmp_path):
    firsts = []
    for name, rows in (("fwd", TIES), ("rev", TIES[::-1])):
        _write(tmp_path / name / "s.parquet", _rows(rows))
        stats = group_probes(
            tmp_path / name, tmp_path / f"out-{name}", _budget(tmp_path), GroupConfig(test_fraction=0.0)
        )
        assert stats.path == "bucketed"  # ties are never "proven ordered"
        firsts.append(_read(tmp_path / f"out-{name}"))
    assert firsts[0].equals(firsts[1])
    p1 = firsts[0].filter(pl.col("src_addr") == "p1")["measurements"].to_list()[0]
    # event_time first, then dst_addr, then rtt_ms with nulls last.
    assert [(m["dst_addr"], m["rtt_ms"]) for m in p1] == [("c", 3.0), ("a", 1.0), ("a", None), ("b", 2.0)]


# Probes in file order with their sizes: "b" and "d" are longer than the batches below, "b" spans
# the two shards' boundary (row 1,500).
LONG_PROBES = {"a": 7, "b": 2_500, "c": 3, "d": 1_200, "e": 1}


@pytest.mark.parametrize(
    "batch_rows",
    [
        pytest.param(100, id="long-probes-over-many-batches"),
        pytest.param(500, id="long-probes-over-a-few-batches"),
        pytest.param(5_000, id="one-batch-a-shard"),  # b continues into the second shard's batch
    ],
)
def test_long_probe_over_several_streaming_batches(tmp_path, monkeypatch, batch_rows):
    # A probe held back over whole streaming batches is grouped alone and, being at least half an
    # output file, written as a file of its own: the rows must be exactly those of the bucketed
    # path (which never cuts a probe), the long probes' files holding nothing else.
    rows = [(p, f"d{i % 7}", i, float(i % 11)) for p, n in LONG_PROBES.items() for i in range(n)]
    _write(tmp_path / "sorted" / "s0.parquet", _rows(rows[:1_500]))
    _write(tmp_path / "sorted" / "s1.parquet", _rows(rows[1_500:]))
    _write(tmp_path / "reversed" / "s0.parquet", _rows(rows[::-1]))
    monkeypatch.setattr(output, "STREAM_FILE_MEASUREMENTS", 2_000)  # half a file: 1,000
    config = GroupConfig(test_fraction=0.5)
    budget = _budget(tmp_path, batch_rows=batch_rows)
    reference = group_probes(tmp_path / "reversed", tmp_path / "ref", budget, config)
    stats = group_probes(tmp_path / "sorted", tmp_path / "out", budget, config)
    assert (reference.path, stats.path) == ("bucketed", "streaming")
    for split in ("train", "test"):
        assert _read(tmp_path / "out", split).equals(_read(tmp_path / "ref", split))
    assert _read(tmp_path / "out")["n_measurements"].to_list() == list(LONG_PROBES.values())
    if batch_rows < 1_000:
        files = [pl.read_parquet(f)["src_addr"].to_list() for f in sorted((tmp_path / "out").glob("*/*.parquet"))]
        assert sorted(f for f in files if {"b", "d"} & set(f)) == [["b"], ["d"]]


def test_shards_with_different_extra_columns_group_together(tmp_path):
    # An imported RIPE Atlas shard carries columns a generated one does not (prb_id): the null
    # count and the grouping read each shard on its own, and only the shared extras are carried.
    one = _rows([("p1", "a", 1, 1.0), ("p2", "a", 2, 2.0)])
    two = _rows([("p1", "b", 3, 3.0)]).append_column("prb_id", pa.array([7], pa.int64()))
    two = two.set_column(0, "src_addr", pa.array([None], pa.string())).append_column("x", pa.array(["s"]))
    _write(tmp_path / "in" / "a.parquet", one)
    _write(tmp_path / "in" / "b.parquet", pa.concat_tables([two, two]))
    stats = group_probes(tmp_path / "in", tmp_path / "out", _budget(tmp_path), GroupConfig(test_fraction=0.0))
    assert (stats.null_src_addr, stats.measurements_in, stats.measurements_out) == (2, 4, 2)
    assert "prb_id" not in str(_read(tmp_path / "out").schema)


def test_null_src_addr_rows_are_counted_and_dropped(tmp_path):
    table = _rows([("p1", "a", 1, 1.0), ("p1", "a", 2, 1.0), ("p2", "a", 3, 1.0)])
    table = table.set_column(0, "src_addr", pa.array(["p1", None, "p2"], pa.string()))
    _write(tmp_path / "in" / "s.parquet", table)
    stats = group_probes(tmp_path / "in", tmp_path / "out", _budget(tmp_path), GroupConfig(test_fraction=0.0))
    assert (stats.null_src_addr, stats.measurements_in, stats.measurements_out) == (1, 3, 2)
    assert _read(tmp_path / "out")["src_addr"].to_list() == ["p1", "p2"]


def test_stale_ordering_proof_falls_back_to_exact_path(generated, tmp_path, caplog):
    # Diagnostics of the sorted shards, applied to the shuffled ones (as if the files changed).
    stale = [diagnose_shard(p) for p in list_shards(generated["sorted"])]
    assert proven_ordered(stale)
    with caplog.at_level("WARNING", logger="probe_rows.grouping"):
        stats = group_probes(
            None, tmp_path / "out", _budget(tmp_path), files=list_shards(generated["shuffled"]), diagnostics=stale
        )
    assert (stats.path, stats.fell_back) == ("bucketed", True)
    assert ["recorded shard order did not hold" in r.getMessage() for r in caplog.records] == [True]
    _assert_exact(tmp_path / "out", generated["shuffled"])


GOOD = _rows([("p1", "a", 1, 1.0)])


@pytest.mark.parametrize(
    ("table_or_bytes", "column", "problem"),
    [
        (GOOD.drop_columns(["rtt_ms"]), "rtt_ms", "required column missing"),
        # event_time written as text: a common export mistake.
        (GOOD.set_column(2, "event_time", pa.array(["2026-03-01T00:00:01Z"])), "event_time", "not a timestamp"),
        (GOOD.set_column(0, "src_addr", pa.array([17], pa.int64())), "src_addr", "not a string"),
        (b"PAR1 this is not parquet", None, "unreadable as parquet"),
    ],
    ids=["missing-rtt", "text-event-time", "numeric-src-addr", "unreadable"],
)
def test_bad_shard_fails_naming_shard_and_column_and_leaves_output_alone(tmp_path, table_or_bytes, column, problem):
    good_dir = tmp_path / "in"
    _write(good_dir / "a-good.parquet", GOOD)
    previous = group_probes(good_dir, tmp_path / "out", _budget(tmp_path), GroupConfig(test_fraction=0.0))
    before = sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*"))
    bad = good_dir / "b-bad.parquet"
    if isinstance(table_or_bytes, bytes):
        bad.write_bytes(table_or_bytes)
    else:
        _write(bad, table_or_bytes)
    with pytest.raises(ShardError) as err:
        group_probes(good_dir, tmp_path / "out", _budget(tmp_path))
    assert err.value.shard == str(bad) and err.value.column == column
    assert "b-bad.parquet" in str(err.value) and problem in str(err.value)
    assert sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*")) == before
    assert previous.probes_train == 1


def test_failure_while_writing_leaves_no_partial_output(generated, tmp_path, monkeypatch):
    out = tmp_path / "out"
    group_probes(generated["sorted"], out, _budget(tmp_path))
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}
    calls = []
    real_emit = output.SplitWriter.emit

    def failing_emit(self, grouped, part=None):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return real_emit(self, grouped, part)

    monkeypatch.setattr(output.SplitWriter, "emit", failing_emit)
    with pytest.raises(OSError, match="disk full"):  # streaming: one emit per 4,000-row batch
        group_probes(generated["sorted"], out, _budget(tmp_path))
    assert len(calls) == 3
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")} == before
    assert sorted(p.name for p in out.iterdir()) == ["test", "train"]  # no staging folders left


def test_extra_column_types_unified_across_shards_and_empty_first_shard(tmp_path, monkeypatch):
    # An empty first shard, then `hops` as int32 in one shard and int64 in the next: every spill
    # file must still share one schema, and the size estimate must not read the empty shard as 0.
    empty = _rows([("p0", "a", 0, 1.0)]).slice(0, 0).append_column("hops", pa.array([], pa.int32()))
    _write(tmp_path / "in" / "a.parquet", empty)
    hops32, hops64 = pa.array([1, 2, 3], pa.int32()), pa.array([4, 5, 6], pa.int64())
    _write(tmp_path / "in" / "b.parquet", _rows(TIES[:3]).append_column("hops", hops32))
    _write(tmp_path / "in" / "c.parquet", _rows(TIES[3:]).append_column("hops", hops64))
    monkeypatch.setattr(grouping, "BUCKET_MEMORY_FACTOR", 1e9)  # one probe per bucket, or near it
    stats = group_probes(tmp_path / "in", tmp_path / "out", _budget(tmp_path), GroupConfig(test_fraction=0.0))
    assert stats.path == "bucketed" and stats.buckets >= 2 and stats.measurements_out == 6
    rows = _read(tmp_path / "out")
    assert rows.schema["measurements"] == pl.List(
        pl.Struct(
            {"dst_addr": pl.String, "event_time": pl.Datetime("us", "UTC"), "rtt_ms": pl.Float64, "hops": pl.Int64}
        )
    )
    p2 = rows.filter(pl.col("src_addr") == "p2")["measurements"].to_list()[0]
    assert [(m["dst_addr"], m["hops"]) for m in p2] == [("y", 6), ("z", 5)]


def test_failed_write_fails_the_run_and_leaves_no_partial_output(generated, tmp_path, monkeypatch):
    out = tmp_path / "out"
    group_probes(generated["sorted"], out, _budget(tmp_path))
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}
    real_write = pl.DataFrame.write_parquet
    calls = []

    def failing_write(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("no space left on device")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", failing_write)
    monkeypatch.setattr(grouping, "BUCKET_MEMORY_FACTOR", 2_000.0)  # many buckets, many writes
    with pytest.raises(OSError, match="no space left"):
        group_probes(generated["shuffled"], out, _budget(tmp_path))
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")} == before
    assert sorted(p.name for p in out.iterdir()) == ["test", "train"]


def test_reread_buckets_give_exactly_the_in_memory_output(generated, tmp_path, monkeypatch):
    # The same input grouped in one piece and, with a budget share too small for that, in a few
    # buckets read again from the shards: identical rows, lists, order and tie-break, no spill.
    reference = group_probes(generated["shuffled"], tmp_path / "ref", _budget(tmp_path))
    assert reference.buckets == 1
    factor = grouping.BUCKET_MEMORY_FACTOR
    monkeypatch.setattr(grouping, "BUCKET_MEMORY_FACTOR", factor * 512 / 2)  # a few MB per bucket
    monkeypatch.setattr(grouping, "MAX_REREAD_BUCKETS", 6)  # re-read that many rather than spill
    stats = group_probes(generated["shuffled"], tmp_path / "out", _budget(tmp_path))
    assert stats.path == "bucketed" and 2 <= stats.buckets <= 6
    assert stats.spill_bytes == 0
    for split in ("train", "test"):
        assert _read(tmp_path / "out", split).equals(_read(tmp_path / "ref", split))
    _assert_exact(tmp_path / "out", generated["shuffled"])


def test_long_runs_log_progress_on_both_paths(generated, tmp_path, monkeypatch, caplog):
    # Every progress line due at once (a real run logs one every 10 s): the streaming pass counts
    # measurements, the spilled path its file groups and buckets, each ending at its total.
    monkeypatch.setattr(grouping, "Progress", functools.partial(grouping.Progress, every=0.0))
    caplog.set_level(logging.INFO, logger="probe_rows")
    group_probes(generated["sorted"], tmp_path / "sorted", _budget(tmp_path))
    assert f"probe_rows streaming: {N_MEASUREMENTS:,}/{N_MEASUREMENTS:,} measurements" in caplog.text
    monkeypatch.setattr(grouping, "BUCKET_MEMORY_FACTOR", 2_000.0)  # spilled buckets
    stats = group_probes(generated["shuffled"], tmp_path / "shuffled", _budget(tmp_path))
    assert stats.spill_bytes > 0
    spilled = [r.getMessage() for r in caplog.records if "probe_rows spill to" in r.getMessage()]
    grouped = [r.getMessage() for r in caplog.records if "grouping spilled buckets (level 0)" in r.getMessage()]
    assert spilled and grouped
    n = grouped[-1].split(": ", 1)[1].split("/", 1)[1].split(" ", 1)[0]
    assert grouped[-1].split(": ", 1)[1].startswith(f"{n}/{n} buckets")


def test_spill_fanout_is_capped_and_buckets_kept_small_with_the_same_output(generated, tmp_path, monkeypatch, caplog):
    # Buckets of about 0.2 MB (the CPU rule, not the budget) need more than the fan-out of 3 that
    # one spill pass may write: the input is spilled to 3 buckets, each split again, and the rows
    # equal the one-piece grouping's.
    reference = group_probes(generated["shuffled"], tmp_path / "ref", _budget(tmp_path))
    monkeypatch.setattr(grouping, "Progress", functools.partial(grouping.Progress, every=0.0))
    monkeypatch.setattr(grouping, "BUCKET_MEMORY_FACTOR", 384.0)  # budget share 1 MB: 2-3 buckets by memory
    monkeypatch.setattr(grouping, "MAX_REREAD_BUCKETS", 0)
    monkeypatch.setattr(grouping, "SPILL_BUCKET_MB", 0.2)
    monkeypatch.setattr(grouping, "RESPLIT_SHARE", 0.3)  # re-split what is over 0.3 MB
    monkeypatch.setattr(grouping, "MAX_SPILL_FANOUT", 3)
    caplog.set_level(logging.INFO, logger="probe_rows")
    stats = group_probes(generated["shuffled"], tmp_path / "out", _budget(tmp_path))
    fanouts = [
        int(r.getMessage().split("spill to ")[1].split(" ")[0]) for r in caplog.records if "spill to" in r.getMessage()
    ]
    levels = {r.getMessage().split("(level ")[1][0] for r in caplog.records if "spill to" in r.getMessage()}
    assert fanouts and max(fanouts) == 3 and levels >= {"0", "1"}, caplog.text
    assert stats.buckets > 3
    for split in ("train", "test"):
        assert _read(tmp_path / "out", split).equals(_read(tmp_path / "ref", split))
    assert reference.buckets == 1
    assert not any((tmp_path / "spill").iterdir()), "spill files must be removed"


def test_streaming_reads_each_shard_in_bounded_in_memory_slices(generated, tmp_path, monkeypatch):
    # The streaming path decodes a shard at most READ_ROWS rows at a time with polars' in-memory
    # engine, never through its streaming engine's batches (``collect_batches``), whose memory rose
    # shard after shard (docs/probe_rows.md, "Sorted input at seed size"). Counted: every read
    # holds at most READ_ROWS rows, there are ceil(rows / READ_ROWS) reads a shard, the batches are
    # at most batch_rows and together the shards' non-null rows in file order; and a whole run gives
    # the bucketed path's output.
    files = list_shards(generated["sorted"])
    file_rows = [pl.scan_parquet(f).select(pl.len()).collect().item() for f in files]
    with_nulls = _write(tmp_path / "nulls" / "s0.parquet", _rows([("a", "x", 0, 1.0), (None, "x", 1, 2.0)] * 1_250))
    extras = {"ttl": pl.Int32}
    not_null = pl.col("src_addr").is_not_null()
    expected = pl.concat([grouping._scan([f], extras).filter(not_null).collect() for f in files])
    monkeypatch.setattr(grouping, "READ_ROWS", 3_000)

    def no_streaming_batches(*args, **kwargs):
        raise AssertionError("polars' collect_batches on the streaming path")

    monkeypatch.setattr(pl.LazyFrame, "collect_batches", no_streaming_batches)
    reads: list[int] = []
    collect = pl.LazyFrame.collect

    def counted(self, *args, **kwargs):
        frame = collect(self, *args, **kwargs)
        reads.append(frame.height)
        return frame

    monkeypatch.setattr(pl.LazyFrame, "collect", counted)
    batches = list(grouping._batches(files, file_rows, extras, 700))
    assert len(reads) == sum(-(-n // 3_000) for n in file_rows)
    assert max(reads) <= 3_000
    assert max(b.height for b in batches) <= 700
    assert pl.concat(batches).equals(expected)
    nulls_dropped = list(grouping._batches([with_nulls], [2_500], {}, 700))
    assert sum(b.height for b in nulls_dropped) == 1_250

    monkeypatch.setattr(pl.LazyFrame, "collect", collect)
    reference = group_probes(generated["shuffled"], tmp_path / "ref", _budget(tmp_path))
    stats = group_probes(generated["sorted"], tmp_path / "out", _budget(tmp_path, batch_rows=700))
    assert (reference.path, stats.path) == ("bucketed", "streaming")
    for split in ("train", "test"):
        assert _read(tmp_path / "out", split).equals(_read(tmp_path / "ref", split))
