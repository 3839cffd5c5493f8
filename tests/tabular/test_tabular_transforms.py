"""Fitted transforms: fitted on train only, exactly; unseen categories get the unseen code."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tabular.loading import LoadSpec, load_dataset
from tabular.splits import SplitSpec, split_dataset
from tabular.transforms import TransformSpec, transform_splits


def _write(folder, table):
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "part-00000.parquet")


def test_fit_on_train_only_and_unseen_code(tmp_path):
    splits = tmp_path / "splits"
    _write(
        splits / "train",
        pa.table({"x": [1.0, 2.0, 3.0, None], "c": ["b", "a", "b", None], "y": [0, 1, 0, 1]}),
    )
    _write(splits / "test", pa.table({"x": [100.0, 2.0], "c": ["z", "a"], "y": [1, 0]}))
    summary = transform_splits(splits, tmp_path / "out", TransformSpec(exclude=("y",)))
    assert summary["standardise"]["x"] == {"mean": 2.0, "std": pytest.approx((2 / 3) ** 0.5)}
    assert summary["encode"]["c"] == {"vocabulary": ["a", "b"], "size": 2}  # test's "z" not learnt
    train = pq.read_table(tmp_path / "out" / "train")
    test = pq.read_table(tmp_path / "out" / "test")
    assert train.column("c").to_pylist() == [1, 0, 1, None]
    assert test.column("c").to_pylist() == [-1, 0]  # unseen -> -1
    assert test.column("x").to_pylist() == pytest.approx([98 / (2 / 3) ** 0.5, 0.0])
    assert train.column("y").to_pylist() == [0, 1, 0, 1]  # excluded: untouched
    assert json.loads((tmp_path / "out" / "_transforms.json").read_text())["rows"] == {"test": 2, "train": 4}


def test_standardisation_exact_over_all_train_rows(real_dir, tmp_path):
    load_dataset(real_dir("wa_churn"), tmp_path / "shards", LoadSpec(label="churn"))
    split_dataset(tmp_path / "shards", tmp_path / "splits", SplitSpec(label="churn"))
    spec = TransformSpec(exclude=("churn", "rownames"), batch_rows=500)  # 5,634 train rows in 12 batches
    summary = transform_splits(tmp_path / "splits", tmp_path / "out", spec)
    train = pd.read_parquet(tmp_path / "splits" / "train")
    for col in ("tenure", "monthly_charges", "total_charges"):
        assert summary["standardise"][col]["mean"] == pytest.approx(train[col].mean(), rel=1e-12)
        assert summary["standardise"][col]["std"] == pytest.approx(train[col].std(ddof=0), rel=1e-12)
    assert summary["encode"]["contract"]["vocabulary"] == sorted(train["contract"].unique())
    out = pd.read_parquet(tmp_path / "out" / "train")
    assert out["tenure"].mean() == pytest.approx(0, abs=1e-12)
    assert out["tenure"].std(ddof=0) == pytest.approx(1, rel=1e-12)
