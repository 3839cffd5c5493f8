"""At most two conversions at once, enforced by Dagster on a real (SQLite) instance.

Every operator's partitions for two years are launched as separate runs from four worker
processes, the way a backfill launches them; the overlap of conversion steps is computed from
the materialisation records the instance stored. The maximum must be exactly 2: never more,
and not less (parallelism must actually happen).
"""

from __future__ import annotations

from datetime import date

import dagster as dg

from iso_energy.definitions import CONVERSION
from iso_energy.demo import run_partitions
from iso_energy.instance import apply_pool_limit
from iso_energy.resources import POOL, pool_limit
from iso_energy.sample import WRITERS
from tests.overlap import max_overlap

# Nodes per (iso, dataset): sized so each conversion step lasts about a second on 2 cores.
NODES = {
    ("pjm", "lmp_da"): 250,
    ("pjm", "lmp_rt"): 250,
    ("caiso", "lmp_da"): 60,
    ("caiso", "lmp_rt"): 5,
    ("ercot", "lmp_da"): 250,
    ("ercot", "lmp_rt"): 60,
}


def test_max_overlap_helper():
    assert max_overlap([(0, 2), (1, 3), (2.5, 4)]) == 2  # touching ends do not overlap
    assert max_overlap([(0, 5), (1, 2), (1.5, 3)]) == 3


def test_pool_holds_conversions_to_two(data_root):
    for (iso, dataset), nodes in NODES.items():
        WRITERS[iso](data_root / "raw", dataset, date(2023, 12, 1), date(2024, 1, 31), nodes)
    keys = [f"{iso}|{year}" for iso in ("pjm", "caiso", "ercot") for year in (2023, 2024)]
    with dg.instance_for_test() as instance:
        assert apply_pool_limit(instance, CONVERSION) == 2 == pool_limit(instance)
        rows = run_partitions(instance, keys, workers=4)
        assert not [r for r in rows if r.get("error")]
        windows = []
        for asset in ("lmp_da", "lmp_rt"):
            records = instance.fetch_materializations(dg.AssetKey(asset), limit=100).records
            for rec in records:
                md = rec.asset_materialization.metadata
                windows.append((md["started_at"].value, md["finished_at"].value))
            assert sorted(rec.partition_key for rec in records) == sorted(keys)
    assert len(windows) == 12
    overlap = max_overlap(windows)
    print(f"{POOL}: {len(windows)} conversions, max overlap {overlap}")
    assert overlap == 2
