"""The generator: same rows in both orders, skewed probe sizes, bounded chunks."""

from __future__ import annotations

import polars as pl
import pytest

from probe_rows.generate import _permute, generate_shards
from probe_rows.ordering import diagnose_shard, proven_ordered
from probe_rows.shards import list_shards
from tests.probe_rows.probe_rows_testdata import N_MEASUREMENTS, N_PROBES


def test_sorted_and_shuffled_hold_the_same_rows(generated):
    a = pl.read_parquet(str(generated["sorted"] / "*.parquet"))
    b = pl.read_parquet(str(generated["shuffled"] / "*.parquet"))
    assert a.height == b.height == N_MEASUREMENTS
    assert a.sort(a.columns).equals(b.sort(b.columns))
    assert not a.equals(b)


def test_orders_are_what_the_diagnostics_see(generated):
    assert proven_ordered([diagnose_shard(p) for p in list_shards(generated["sorted"])])
    shuffled = [diagnose_shard(p) for p in list_shards(generated["shuffled"])]
    assert not proven_ordered(shuffled)
    assert sum(d.src_addr_changes for d in shuffled) > N_MEASUREMENTS * 0.9


def test_probe_sizes_are_skewed(generated):
    counts = pl.read_parquet(str(generated["sorted"] / "*.parquet")).group_by("src_addr").len()["len"]
    assert counts.len() == N_PROBES
    assert counts.max() > 10 * counts.median()  # a few heavy probes, most light


@pytest.mark.parametrize("n", [1, 5, 1000, 4097], ids=["one", "tiny", "thousand", "odd"])
def test_permutation_is_a_bijection(n):
    import numpy as np

    out = _permute(np.arange(n), n, seed=3)
    assert sorted(out.tolist()) == list(range(n))


def test_zero_measurements_and_bad_order(tmp_path):
    paths = generate_shards(tmp_path, 0, probes=3, shards=2, order="sorted")
    assert [pl.read_parquet(p).height for p in paths] == [0, 0]
    with pytest.raises(ValueError, match="order must be one of"):
        generate_shards(tmp_path, 10, order="random")
