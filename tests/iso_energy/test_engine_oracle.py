"""The streamed engine writes exactly the rows of the whole-year query it replaced (the oracle
in tests/iso_energy/reference.py), in the same order: on generated samples of every operator and
dataset (overlapping exports, superseded revisions, DST days) and on every real export."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from iso_energy.isos import ISOS
from iso_energy.sample import generate
from memsafe.budget import Budget
from tests.conftest import REAL
from tests.iso_energy.reference import reference_year, reference_years

REAL_FILES = {  # real export -> (operator, dataset)
    "iso/pjm/da_hrl_lmps_hubs_2025-05_2025-07.csv": ("pjm", "lmp_da"),
    "iso/pjm/rt_hrl_lmps_hubs_2025-05_2025-07.csv": ("pjm", "lmp_rt"),
    "iso/caiso/prc_lmp_AGNEW_1_N003_2022-01_subset.csv": ("caiso", "lmp_da"),
    "iso/ercot/np4-190-cd_dam_spp_excerpt.csv": ("ercot", "lmp_da"),
    "iso/nyiso/lbmp_zone_excerpt.csv": ("nyiso", "lmp_da"),
}


def assert_same_as_reference(iso: str, dataset: str, files: list[Path], tmp_path: Path) -> int:
    conv = ISOS[iso]
    budget = Budget(memory_mb=512, threads=2, spill_dir=str(tmp_path / "spill"))
    years = reference_years(conv, files, dataset, budget)
    assert years, f"{iso} {dataset}: the sample holds no row"
    for year in years:
        out = tmp_path / "out" / f"{iso}_{dataset}_{year}.parquet"
        stats = conv.convert_year(files, dataset, year, out, budget)
        new, old = pq.read_table(out), reference_year(conv, files, dataset, year, budget)
        assert new.column_names == old.column_names
        # The key is unique, so ordering by it is total: the new file is in that order, and
        # holds the same rows and values as the reference (whose DuckDB result, fetched with
        # preserve_insertion_order off, may come back in another order).
        order = ["interval_start_utc", *(k for k in conv.datasets[dataset].key if k != "interval_start_utc")]
        new_df = pl.from_arrow(new)
        assert new_df.equals(new_df.sort(order, nulls_last=True)), "not in time and key order"
        assert new_df.equals(pl.from_arrow(old.cast(new.schema)).sort(order, nulls_last=True)), (iso, dataset, year)
        assert stats.rows_out == old.num_rows
    return len(years)


def conv_pivots(iso: str, dataset: str) -> str | None:
    return ISOS[iso].datasets[dataset].group_by_sql


@pytest.mark.parametrize(
    "iso,dataset", [(iso, ds) for iso, conv in sorted(ISOS.items()) for ds in sorted(conv.datasets)]
)
def test_generated_samples_match_the_reference(tmp_path, iso, dataset):
    # Two exports overlapping a week across a year boundary, after the fall-back day: duplicates,
    # revisions and two operating years. For a long format (CAISO, MISO) the exports do not
    # overlap: the reference pivoted components across files (max of each over both exports),
    # the engine pivots per file and keeps the last file's row (docs/iso_energy.md).
    files = generate(tmp_path / "a", date(2023, 10, 30), date(2024, 1, 3), nodes=3, isos=[iso], datasets=[dataset])
    files += generate(
        tmp_path / "b",
        date(2024, 1, 3) if conv_pivots(iso, dataset) else date(2023, 12, 27),
        date(2024, 1, 10),
        nodes=4,
        isos=[iso],
        datasets=[dataset],
        seed=1,
    )
    assert assert_same_as_reference(iso, dataset, files, tmp_path) == 2


@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_real_exports_match_the_reference(tmp_path, name):
    iso, dataset = REAL_FILES[name]
    assert assert_same_as_reference(iso, dataset, [REAL / name], tmp_path) >= 1


def test_duplicates_are_counted_by_kind(tmp_path):
    """Two exports of the same day: one identical, one with a different price at the same
    version: exact duplicates and a conflicting revision (with its key) are told apart."""
    header = (
        "datetime_beginning_utc,datetime_beginning_ept,pnode_id,pnode_name,voltage,equipment,type,zone,"
        "system_energy_price_da,total_lmp_da,congestion_price_da,marginal_loss_price_da,row_is_current,"
        "version_nbr"
    )
    line = "1/2/2024 5:00:00 AM,1/2/2024 12:00:00 AM,{node},HUB {node},,,HUB,,30.5,{lmp},2.8,0.3,True,1"
    a = tmp_path / "a.csv"
    a.write_text("\n".join([header, line.format(node=1, lmp=33), line.format(node=2, lmp=34)]) + "\n")
    b = tmp_path / "b.csv"
    b.write_text("\n".join([header, line.format(node=1, lmp=33), line.format(node=2, lmp=99)]) + "\n")
    stats = ISOS["pjm"].convert_year(
        [a, b], "lmp_da", 2024, tmp_path / "out.parquet", Budget(memory_mb=512, spill_dir=str(tmp_path / "spill"))
    )
    assert (stats.rows_out, stats.exact_duplicates, stats.conflicting_revisions) == (2, 1, 1)
    assert stats.conflict_example == "location_id=2, location_type=HUB, interval_start_utc=2024-01-02 05:00:00+00:00"
    md = stats.as_metadata()
    assert md["conflicting_revisions"] == 1 and "location_id=2" in md["conflict_example"]
    # The last file in name order wins a tie.
    assert pq.read_table(tmp_path / "out.parquet").column("lmp_usd_per_mwh").to_pylist() == [33, 99]
    assert isinstance(pq.read_table(tmp_path / "out.parquet"), pa.Table)
