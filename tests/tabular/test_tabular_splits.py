"""Splits: exact stratification on the real samples, labels, temporal customer allocation, bad input."""

from __future__ import annotations

import functools
import json
import logging
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tabular import splits
from tabular.assign import apportion, random_assign, stratified_blocks
from tabular.io import TabularInputError
from tabular.loading import LoadSpec, load_dataset
from tabular.splits import SplitConfigError, SplitSpec, split_dataset
from tests.tabular.tabular_samples import REAL, REAL_LABELS


def _loaded(real_dir, tmp_path, name, **kw):
    out = tmp_path / "shards"
    load_dataset(real_dir(name), out, LoadSpec(label=REAL_LABELS[name], rows_per_shard=2_000, **kw))
    return out


def _table(folder):
    return pq.read_table(folder)


@pytest.mark.parametrize("name", sorted(REAL_LABELS))
@pytest.mark.parametrize(
    "ratios",
    [{"train": 0.8, "test": 0.1, "val": 0.1}, {"train": 0.7, "test": 0.2, "val": 0.1}],
    ids=["80-10-10", "70-20-10"],
)
def test_stratified_exact_per_class_on_real_samples(name, ratios, real_dir, tmp_path):
    label = REAL_LABELS[name]
    shards = _loaded(real_dir, tmp_path, name)
    res = split_dataset(shards, tmp_path / "splits", SplitSpec(label=label, ratios=ratios, batch_rows=997))
    whole = _table(shards)
    classes = sorted(set(whole.column(label).to_pylist()))
    n_c = {c: whole.column(label).to_pylist().count(c) for c in classes}
    for split, ratio in ratios.items():
        codes = _table(tmp_path / "splits" / split).column(label).to_pylist()
        for code, c in enumerate(classes):  # codes are the classes in sorted order
            got = codes.count(code)
            assert abs(got - n_c[c] * ratio) < 1, (split, c, got, n_c[c] * ratio)
    assert sum(res.rows.values()) == whole.num_rows
    summary = json.loads((tmp_path / "splits" / "_splits.json").read_text())
    assert summary["label"]["codes"] == {str(c): i for i, c in enumerate(classes)}


def test_caravan_rare_class_split_exactly(real_dir, tmp_path):
    # 348 "Yes" of 5,822: 278.4 / 34.8 / 34.8 -> 278 / 35 / 35 (largest remainder, ties to the earlier split).
    shards = _loaded(real_dir, tmp_path, "caravan")
    res = split_dataset(shards, tmp_path / "splits", SplitSpec(label="Purchase"))
    assert res.summary["class_counts_by_split"] == {
        "train": {"No": 4379, "Yes": 278},
        "test": {"No": 548, "Yes": 35},
        "val": {"No": 547, "Yes": 35},
    }


def test_every_row_lands_in_exactly_one_split(real_dir, tmp_path):
    shards = _loaded(real_dir, tmp_path, "wa_churn")
    split_dataset(shards, tmp_path / "splits", SplitSpec(label="churn", batch_rows=500))
    ids = [i for s in ("train", "test", "val") for i in _table(tmp_path / "splits" / s).column("rownames").to_pylist()]
    assert sorted(ids) == list(range(1, 7_044))


def test_split_logs_its_progress_in_rows(real_dir, tmp_path, monkeypatch, caplog):
    # Every progress line due at once (a real run logs one every 10 s), ending at the label
    # pass's row count.
    monkeypatch.setattr(splits, "Progress", functools.partial(splits.Progress, every=0.0))
    caplog.set_level(logging.INFO, logger="tabular")
    shards = _loaded(real_dir, tmp_path, "wa_churn")
    split_dataset(shards, tmp_path / "splits", SplitSpec(label="churn", batch_rows=500))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("tabular split (stratified)")]
    assert len(lines) > 2 and lines[-1].startswith("tabular split (stratified): 7,043/7,043 rows")


def test_credit_cards_true_false_labels_become_0_1(real_dir, tmp_path):
    shards = _loaded(real_dir, tmp_path, "credit_cards")
    assert pq.read_schema(shards / "part-00000.parquet").field("LateSept").type == pa.bool_()
    res = split_dataset(shards, tmp_path / "splits", SplitSpec(label="LateSept"))
    assert res.summary["label"]["codes"] == {"False": 0, "True": 1}
    train = _table(tmp_path / "splits" / "train")
    assert train.schema.field("LateSept").type == pa.int64()
    assert pc.value_counts(train.column("LateSept")).to_pylist() in (
        [{"values": 0, "counts": 18_546}, {"values": 1, "counts": 5_454}],
        [{"values": 1, "counts": 5_454}, {"values": 0, "counts": 18_546}],
    )


@pytest.mark.parametrize("mode", ["stratified", "random", "temporal"])
def test_batch_and_streaming_splits_identical(mode, wide_csv, tmp_path):
    shards = tmp_path / "shards"
    load_dataset(wide_csv, shards, LoadSpec(label="label", rows_per_shard=1_000))
    extra = {"customer_column": "customer_id", "date_column": "event_time", "cutoffs": ("2024-07-01",)}
    spec = dict(label="label", mode=mode, seed=7, rows_per_shard=1_500, **(extra if mode == "temporal" else {}))
    s = split_dataset(shards, tmp_path / "s", SplitSpec(**spec, batch_rows=333))
    b = split_dataset(shards, tmp_path / "b", SplitSpec(**spec, processing="batch"))
    assert s.rows == b.rows and s.summary == b.summary
    for name in s.rows:
        assert [p.name for p in s.shards[name]] == [p.name for p in b.shards[name]]
        assert _table(tmp_path / "s" / name).equals(_table(tmp_path / "b" / name))


def test_stratified_does_not_depend_on_batch_size_but_on_seed(real_dir, tmp_path):
    shards = _loaded(real_dir, tmp_path, "caravan")
    runs = {}
    for key, batch, seed in [("a", 100, 0), ("b", 4_000, 0), ("c", 100, 1)]:
        split_dataset(shards, tmp_path / key, SplitSpec(label="Purchase", batch_rows=batch, seed=seed))
        runs[key] = _table(tmp_path / key / "test")
    assert runs["a"].equals(runs["b"])
    assert not runs["a"].equals(runs["c"])


def test_temporal_no_customer_in_two_splits(wide_csv, tmp_path):
    shards = tmp_path / "shards"
    load_dataset(wide_csv, shards, LoadSpec(label="label", customer_column="customer_id", date_column="event_time"))
    spec = SplitSpec(
        label="label",
        mode="temporal",
        customer_column="customer_id",
        date_column="event_time",
        cutoffs=("2024-06-01", "2024-09-01"),
        batch_rows=400,
    )
    res = split_dataset(shards, tmp_path / "splits", spec)
    seen = {}
    for split in ("train", "val", "test"):
        t = _table(tmp_path / "splits" / split)
        assert t.num_rows > 0
        for cust in set(t.column("customer_id").to_pylist()):
            assert cust not in seen, f"customer {cust} in {seen.get(cust)} and {split}"
            seen[cust] = split
    assert sum(res.rows.values()) == 6_000
    # Each customer's first-seen date decides: every train customer started before the first cutoff.
    whole = _table(shards).group_by("customer_id").aggregate([("event_time", "min")])
    first = dict(zip(whole.column(0).to_pylist(), whole.column(1).to_pylist(), strict=True))
    for cust, split in seen.items():
        month = first[cust].strftime("%Y-%m-%d")
        assert (month < "2024-06-01") == (split == "train")
        assert (month >= "2024-09-01") == (split == "test")


def test_temporal_on_real_file_with_generated_customer_id(tmp_path):
    # credit_cards has no customer or date: derive both from the row number (5 rows per customer).

    table = pacsv.read_csv(REAL / "credit_cards.csv")
    n = table.num_rows
    cust = pa.array(np.arange(n) // 5)
    day = pa.array(
        (
            np.datetime64("2024-01-01")
            + (np.arange(n) // 5 % 300).astype("timedelta64[D]")
            + (np.arange(n) % 5).astype("timedelta64[D]")
        ).astype("datetime64[us]")
    )
    raw = tmp_path / "raw"
    raw.mkdir()
    pq.write_table(table.append_column("customer", cust).append_column("day", day), raw / "cc.parquet")
    load_dataset(raw, tmp_path / "shards", LoadSpec(label="LateSept"))
    res = split_dataset(
        tmp_path / "shards",
        tmp_path / "splits",
        SplitSpec(
            label="LateSept",
            mode="temporal",
            customer_column="customer",
            date_column="day",
            cutoffs=("2024-09-01",),
        ),
    )
    train = set(_table(tmp_path / "splits" / "train").column("customer").to_pylist())
    test = set(_table(tmp_path / "splits" / "test").column("customer").to_pylist())
    assert train and test and not train & test
    assert res.rows["train"] + res.rows["test"] == n


def test_missing_labels_dropped_and_counted(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.csv").write_text("id,y\n" + "".join(f"{i},{'' if i % 10 == 0 else 'ab'[i % 2]}\n" for i in range(100)))
    load_dataset(raw, tmp_path / "shards", LoadSpec(label="y"))
    for mode in ("stratified", "random"):
        res = split_dataset(tmp_path / "shards", tmp_path / mode, SplitSpec(label="y", mode=mode))
        assert res.summary["dropped"]["missing_label"] == 10, mode
        assert res.summary["label"]["missing_dropped"] == 10
        assert sum(res.rows.values()) == 90


def test_single_mode_without_label(wide_csv, tmp_path):
    load_dataset(wide_csv, tmp_path / "shards", LoadSpec())
    res = split_dataset(tmp_path / "shards", tmp_path / "splits", SplitSpec(mode="single", single_split="val"))
    assert res.rows == {"val": 6_000}
    assert sorted(p.name for p in (tmp_path / "splits").iterdir()) == ["_splits.json", "val"]


def test_random_split_seeded_and_stable():
    a = random_assign(0, 10_000, 3, [0.8, 0.1, 0.1])
    assert np.array_equal(a, random_assign(0, 10_000, 3, [0.8, 0.1, 0.1]))
    assert np.array_equal(a[5_000:], random_assign(5_000, 5_000, 3, [0.8, 0.1, 0.1]))  # no state
    assert not np.array_equal(a, random_assign(0, 10_000, 4, [0.8, 0.1, 0.1]))
    assert abs((a == 0).mean() - 0.8) < 0.02


@pytest.mark.parametrize(
    "n, ratios, expected",
    [
        (10, [0.8, 0.1, 0.1], [8, 1, 1]),  # exact
        (348, [0.8, 0.1, 0.1], [278, 35, 35]),  # remainders .4/.8/.8: two extra rows to test and val
        (7, [0.5, 0.5], [4, 3]),  # tie goes to the earlier split
        (0, [0.8, 0.2], [0, 0]),
        (1, [0.1, 0.9], [0, 1]),
    ],
    ids=["exact", "caravan-yes", "tie", "empty", "one-row"],
)
def test_apportion_within_one_row(n, ratios, expected):
    got = apportion(n, ratios)
    assert got == expected and sum(got) == n
    assert all(abs(g - n * r) < 1 for g, r in zip(got, ratios, strict=True))


def test_stratified_blocks_meet_quotas_and_shuffle_within_class():
    codes = np.array([0] * 90_000 + [1] * 10_000 + [-1] * 50)  # sorted input: the worst case for a prefix split
    quotas = np.array([apportion(90_000, [0.8, 0.2]), apportion(10_000, [0.8, 0.2])])
    assign = np.concatenate(list(stratified_blocks([codes[:12_345], codes[12_345:]], quotas, seed=0)))
    assert (assign[-50:] == -1).all()
    assert [int((assign[codes == c] == s).sum()) for c in (0, 1) for s in (0, 1)] == [
        72_000,
        18_000,
        8_000,
        2_000,
    ]
    first_half = assign[:45_000]
    assert math.isclose((first_half == 1).mean(), 0.2, abs_tol=0.01)  # not the first 80 % to train


def test_ratios_not_summing_to_one(wide_csv, tmp_path):
    load_dataset(wide_csv, tmp_path / "shards", LoadSpec(label="label"))
    with pytest.raises(SplitConfigError, match=r"ratios .* sum to 0\.9"):
        split_dataset(
            tmp_path / "shards",
            tmp_path / "splits",
            SplitSpec(label="label", ratios={"train": 0.8, "test": 0.1}),
        )
    assert not (tmp_path / "splits").exists()


def test_missing_label_column(wide_csv, tmp_path):
    load_dataset(wide_csv, tmp_path / "shards", LoadSpec())
    with pytest.raises(SplitConfigError, match=r"label: column 'target' does not exist"):
        split_dataset(tmp_path / "shards", tmp_path / "splits", SplitSpec(label="target"))


def test_cutoff_outside_data_range_leaves_previous_output(wide_csv, tmp_path):
    load_dataset(wide_csv, tmp_path / "shards", LoadSpec(label="label"))
    good = SplitSpec(
        label="label",
        mode="temporal",
        customer_column="customer_id",
        date_column="event_time",
        cutoffs=("2024-06-01",),
    )
    split_dataset(tmp_path / "shards", tmp_path / "splits", good)
    before = {p.relative_to(tmp_path).as_posix(): p.stat().st_mtime_ns for p in (tmp_path / "splits").rglob("*")}
    bad = SplitSpec(**{**good.__dict__, "cutoffs": ("2031-01-01",)})
    with pytest.raises(SplitConfigError, match=r"cutoffs: 2031-01-01 is outside"):
        split_dataset(tmp_path / "shards", tmp_path / "splits", bad)
    after = {p.relative_to(tmp_path).as_posix(): p.stat().st_mtime_ns for p in (tmp_path / "splits").rglob("*")}
    assert after == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    "spec, match",
    [
        (dict(mode="kfold"), "mode must be one of"),
        (dict(mode="temporal", customer_column="customer_id", date_column="event_time"), "cutoffs must hold"),
        (
            dict(
                mode="temporal",
                customer_column="customer_id",
                date_column="event_time",
                cutoffs=("2024-09-01", "2024-03-01"),
            ),
            "strictly increasing",
        ),
        (
            dict(mode="temporal", customer_column="customer_id", date_column="event_time", cutoffs=("soon",)),
            "not an ISO date",
        ),
        (dict(ratios={"train": 1.2, "test": -0.2}), "non-negative"),
    ],
    ids=["mode", "no-cutoff", "decreasing", "not-a-date", "negative"],
)
def test_bad_split_settings(spec, match, wide_csv, tmp_path):
    load_dataset(wide_csv, tmp_path / "shards", LoadSpec(label="label"))
    with pytest.raises(SplitConfigError, match=match):
        split_dataset(tmp_path / "shards", tmp_path / "splits", SplitSpec(label="label", **spec))


def test_missing_shard_folder(tmp_path):
    with pytest.raises(TabularInputError, match="does not exist"):
        split_dataset(tmp_path / "none", tmp_path / "splits", SplitSpec(label="y"))


def test_numeric_regression_label_random_vs_stratified(tmp_path, monkeypatch):
    # A continuous target: fine for random/temporal (never counted by value), refused for stratified.
    raw = tmp_path / "raw"
    raw.mkdir()
    values = np.random.default_rng(0).normal(size=300)
    values[::50] = np.nan  # 6 missing labels
    pq.write_table(pa.table({"i": np.arange(300), "y": values}), raw / "a.parquet")
    load_dataset(raw, tmp_path / "shards", LoadSpec(label="y"))
    res = split_dataset(tmp_path / "shards", tmp_path / "r", SplitSpec(label="y", mode="random"))
    assert sum(res.rows.values()) == 294 and res.summary["dropped"]["missing_label"] == 6
    assert res.summary["label"]["codes"] is None
    assert pq.read_table(tmp_path / "r" / "train").schema.field("y").type == pa.float64()  # kept as is
    monkeypatch.setattr("tabular.splits.MAX_CLASSES", 100)
    with pytest.raises(SplitConfigError, match="more than 100 distinct values"):
        split_dataset(tmp_path / "shards", tmp_path / "s", SplitSpec(label="y"))


def test_temporal_with_string_ids_date_column_and_missing_customers(tmp_path):
    # Text customer ids, a date32 column (ISO dates in CSV) and two rows without a customer id.
    raw = tmp_path / "raw"
    raw.mkdir()
    lines = ["cust,day,y"] + [f"c{i % 7},2024-{1 + i % 12:02d}-15,{i % 2}" for i in range(84)] + [",2024-03-01,1"] * 2
    (raw / "a.csv").write_text("\n".join(lines) + "\n")
    load_dataset(raw, tmp_path / "shards", LoadSpec(label="y"))
    assert pq.read_schema(tmp_path / "shards" / "part-00000.parquet").field("day").type == pa.date32()
    spec = SplitSpec(label="y", mode="temporal", customer_column="cust", date_column="day", cutoffs=("2024-02-01",))
    # Every customer is first seen in January (i % 12 == 0 for i = 0..6 -> c0..c6 all seen 2024-01-15).
    with pytest.raises(SplitConfigError, match="outside the customers' first-seen range"):
        split_dataset(tmp_path / "shards", tmp_path / "splits", spec)
    lines = ["cust,day,y"] + [f"c{i},2024-{1 + i % 12:02d}-15,{i % 2}" for i in range(24)] + [",2024-03-01,1"] * 2
    (raw / "a.csv").write_text("\n".join(lines) + "\n")
    load_dataset(raw, tmp_path / "shards", LoadSpec(label="y"))
    res = split_dataset(tmp_path / "shards", tmp_path / "splits", spec)
    assert res.rows == {"train": 2, "test": 22}  # c0 and c12 start in January
    assert res.summary["dropped"]["no_customer_or_date"] == 2
    assert set(pq.read_table(tmp_path / "splits" / "train").column("cust").to_pylist()) == {"c0", "c12"}


def test_temporal_first_seen_merged_across_many_batches(tmp_path, monkeypatch):
    # Force the periodic merge of per-batch minima (normally every 100,000 waiting customers).
    monkeypatch.setattr("tabular.splits.MERGE_MIN_ROWS", 50)
    rng = np.random.default_rng(0)
    n = 20_000
    cust = rng.integers(0, 3_000, n)
    start = np.datetime64("2024-01-01") + (cust % 300).astype("timedelta64[D]")
    day = (start + rng.integers(0, 30, n).astype("timedelta64[D]")).astype("datetime64[us]")
    (tmp_path / "s").mkdir()
    table = pa.table({"cust": cust, "day": day, "y": rng.integers(0, 2, n)})
    pq.write_table(table, tmp_path / "s" / "part-00000.parquet", row_group_size=1_000)
    spec = SplitSpec(
        label="y",
        mode="temporal",
        customer_column="cust",
        date_column="day",
        cutoffs=("2024-08-01",),
        batch_rows=1_000,
    )
    split_dataset(tmp_path / "s", tmp_path / "o", spec)
    first = table.group_by("cust").aggregate([("day", "min")])
    cut = np.datetime64("2024-08-01")
    expected = {c for c, d in zip(first["cust"].to_pylist(), first["day_min"].to_numpy(), strict=True) if d < cut}
    assert set(pq.read_table(tmp_path / "o" / "train")["cust"].to_pylist()) == expected
    assert not expected & set(pq.read_table(tmp_path / "o" / "test")["cust"].to_pylist())
