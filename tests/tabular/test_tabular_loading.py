"""Loading: shards, signature, MODS, statistics equal to pandas', schema drift, bad input."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tabular.io import TabularInputError, iter_shard_batches
from tabular.loading import LoadSpec, SchemaDriftError, load_dataset, rebatch, widen
from tabular.stats import TableStats
from tests.tabular.tabular_samples import REAL, REAL_LABELS


@pytest.mark.parametrize("name", sorted(REAL_LABELS))
def test_statistics_equal_pandas_on_real_sample(name, real_dir, tmp_path):
    # Small blocks so the statistics are merged from many parts (30,000 rows -> 30 blocks).
    result = load_dataset(real_dir(name), tmp_path / "out", LoadSpec(label=REAL_LABELS[name], batch_rows=1000))
    df = pd.read_csv(REAL / f"{name}.csv")
    stats = json.loads((tmp_path / "out" / "_metadata.json").read_text())["columns"]
    assert result.rows == len(df) == json.loads((tmp_path / "out" / "_metadata.json").read_text())["rows"]
    assert list(stats) == list(df.columns)
    for col in df.columns:
        s, got = df[col], stats[col]
        assert got["nulls"] == int(s.isna().sum()), col
        assert got["count"] == int(s.notna().sum()), col
        if got["kind"] == "numeric":
            assert got["min"] == s.min() and got["max"] == s.max(), col
            assert got["mean"] == pytest.approx(s.mean(), rel=1e-12), col
            assert got["std"] == pytest.approx(s.std(), rel=1e-12), col
        else:
            assert got["kind"] == "categorical", col
            assert got["distinct"] == s.nunique(), col
            top = s.value_counts()
            assert [t["count"] for t in got["top"]] == top.iloc[: len(got["top"])].tolist(), col


def test_wa_churn_mixed_columns_signature_and_mods(real_dir, tmp_path):
    load_dataset(real_dir("wa_churn"), tmp_path / "out", LoadSpec(label="churn"))
    header = Path(REAL / "wa_churn.csv").read_text().splitlines()[0].split(",")
    assert json.loads((tmp_path / "out" / "_signature.json").read_text())["columns"] == header
    mods = (tmp_path / "out" / "_mods.csv").read_text().splitlines()
    assert mods[0] == "varname,iscategory,datatype"
    rows = {line.split(",")[0]: line.split(",")[1:] for line in mods[1:]}
    assert len(rows) == len(header)
    assert rows["churn"] == ["true", "string"]
    assert rows["contract"] == ["true", "string"]
    assert rows["tenure"] == ["false", "int64"]
    assert rows["total_charges"] == ["false", "double"]  # 11 blank cells: nulls, not strings


def test_shards_numbered_continuously_across_files(wide_csv, tmp_path):
    result = load_dataset(wide_csv, tmp_path / "out", LoadSpec(label="label", rows_per_shard=2_500, batch_rows=700))
    names = sorted(p.name for p in (tmp_path / "out").glob("part-*"))
    assert names == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert [pq.read_metadata(tmp_path / "out" / n).num_rows for n in names] == [2_500, 2_500, 1_000]
    assert result.rows == 6_000 and len(result.files) == 3


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_text_shard_formats_read_back_typed(fmt, wide_csv, tmp_path):
    load_dataset(wide_csv, tmp_path / "pq", LoadSpec(label="label"))
    load_dataset(wide_csv, tmp_path / fmt, LoadSpec(label="label", output_format=fmt, rows_per_shard=4_000))
    assert sorted(p.name for p in (tmp_path / fmt).glob("part-*")) == [
        f"part-00000.{fmt}",
        f"part-00001.{fmt}",
    ]
    a = pa.Table.from_batches(list(iter_shard_batches(tmp_path / "pq", 10_000)))
    b = pa.Table.from_batches(list(iter_shard_batches(tmp_path / fmt, 10_000)))
    assert b.schema == a.schema
    assert b.equals(a)


def test_batch_and_streaming_identical(wide_csv, tmp_path):
    spec = dict(label="label", rows_per_shard=2_000, batch_rows=512)
    s = load_dataset(wide_csv, tmp_path / "s", LoadSpec(**spec))
    b = load_dataset(wide_csv, tmp_path / "b", LoadSpec(**spec, processing="batch"))
    assert s.stats == b.stats  # bit for bit, floating moments included
    assert [p.name for p in s.shards] == [p.name for p in b.shards]
    assert all(filecmp.cmp(x, y, shallow=False) for x, y in zip(s.shards, b.shards, strict=True))


def test_rebatch_cuts_exact_blocks_across_inputs():
    batches = [pa.record_batch({"x": list(range(a, b))}) for a, b in [(0, 3), (3, 10), (10, 11)]]
    out = list(rebatch(iter(batches), 4))
    assert [b.num_rows for b in out] == [4, 4, 3]
    assert sum((b.column(0).to_pylist() for b in out), []) == list(range(11))


def test_merged_statistics_match_one_pass():
    rng = np.random.default_rng(1)
    table = pa.table({"x": rng.normal(5, 3, 10_000), "c": rng.choice(["a", "b", "c"], 10_000)})
    whole = TableStats(table.schema)
    whole.update(table.combine_chunks())
    parts = TableStats(table.schema)
    for chunk in table.to_batches(max_chunksize=777):
        part = TableStats(table.schema)
        part.update(chunk)
        parts.merge(part)
    w, p = whole.as_dict()["columns"], parts.as_dict()["columns"]
    assert p["c"] == w["c"]
    assert p["x"]["mean"] == pytest.approx(w["x"]["mean"], rel=1e-13)
    assert p["x"]["std"] == pytest.approx(table["x"].to_numpy().std(ddof=1), rel=1e-12)


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (pa.int32(), pa.int64(), pa.int64()),  # integer widening
        (pa.int64(), pa.float64(), pa.float64()),  # integers meet floats
        (pa.null(), pa.string(), pa.string()),  # an all-empty column in one file
        (pa.date32(), pa.timestamp("s"), pa.timestamp("s")),
        (pa.timestamp("s"), pa.timestamp("ns"), pa.timestamp("ns")),
        (pa.int64(), pa.string(), None),  # number vs text: incompatible
        (pa.bool_(), pa.int64(), None),
        (pa.timestamp("s", "UTC"), pa.timestamp("s"), None),  # time zones differ
    ],
    ids=["int32-int64", "int-float", "null-string", "date-ts", "ts-units", "int-string", "bool-int", "tz"],
)
def test_widen_rule(a, b, expected):
    got = widen(a, b)
    assert (got is None) if expected is None else got.equals(expected)


def _write_csv(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_schema_drift_unified_and_missing_columns_null(tmp_path):
    raw = tmp_path / "raw"
    _write_csv(raw / "a.csv", "id,x,y\n1,1,a\n2,2,b\n")
    _write_csv(raw / "b.csv", "id,x,z\n3,2.5,True\n")  # x widens to double, y missing, z new
    result = load_dataset(raw, tmp_path / "out", LoadSpec(label="id"))
    assert result.schema.names == ["id", "x", "y", "z"]
    assert result.schema.field("x").type == pa.float64()
    table = pq.read_table(tmp_path / "out")
    assert table.column("x").to_pylist() == [1.0, 2.0, 2.5]
    assert table.column("y").to_pylist() == ["a", "b", None]
    assert table.column("z").to_pylist() == [None, None, True]


def test_incompatible_drift_names_both_files_and_leaves_nothing(tmp_path):
    raw = tmp_path / "raw"
    _write_csv(raw / "a.csv", "id,x\n1,1\n")
    _write_csv(raw / "b.csv", "id,x\n2,hello\n")
    with pytest.raises(SchemaDriftError, match=r"'x'.*a\.csv.*b\.csv"):
        load_dataset(raw, tmp_path / "out", LoadSpec(label="id"))
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]  # no staging folder left


def test_unreadable_file_named_and_previous_output_kept(tmp_path):
    raw = tmp_path / "raw"
    _write_csv(raw / "a.csv", "id,x\n1,1\n")
    load_dataset(raw, tmp_path / "out", LoadSpec(label="id"))
    before = sorted(p.name for p in (tmp_path / "out").iterdir())
    (raw / "b.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(TabularInputError, match=r"b\.parquet"):
        load_dataset(raw, tmp_path / "out", LoadSpec(label="id"))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_missing_label_column_names_file_and_column(real_dir, tmp_path):
    with pytest.raises(SchemaDriftError, match=r"caravan\.csv: column 'purchase'"):
        load_dataset(real_dir("caravan"), tmp_path / "out", LoadSpec(label="purchase"))
    assert not (tmp_path / "out").exists()


def test_bad_settings_named(wide_csv, tmp_path):
    with pytest.raises(ValueError, match="output_format"):
        load_dataset(wide_csv, tmp_path / "out", LoadSpec(output_format="xlsx"))
    with pytest.raises(ValueError, match="rows_per_shard"):
        load_dataset(wide_csv, tmp_path / "out", LoadSpec(rows_per_shard=0))
    with pytest.raises(TabularInputError, match="does not exist"):
        load_dataset(tmp_path / "nowhere", tmp_path / "out", LoadSpec())


def test_stale_staging_of_same_output_removed_but_siblings_kept(wide_csv, tmp_path):
    stale = tmp_path / ".out.deadbeef0000.tmp"  # a killed writer of "out"
    sibling = tmp_path / ".splits.cafe00000000.tmp"  # another output being written right now
    stale.mkdir()
    sibling.mkdir()
    load_dataset(wide_csv, tmp_path / "out", LoadSpec(label="label"))
    assert not stale.exists() and sibling.exists()
