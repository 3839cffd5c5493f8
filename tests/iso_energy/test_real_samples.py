"""The real exports in ../shared/data/real/iso, converted through Dagster, spot-checked."""

from __future__ import annotations

from datetime import UTC, date, datetime

import dagster as dg
import pyarrow.parquet as pq
import pytest

from iso_energy.convert import partition_path
from iso_energy.isos.schema import LMP_SCHEMA
from tests.conftest import REAL, place
from tests.iso_energy.helpers import checks, materialize_lmp, metadata, query, step_error

PJM_DA = REAL / "iso/pjm/da_hrl_lmps_hubs_2025-05_2025-07.csv"
PJM_RT = REAL / "iso/pjm/rt_hrl_lmps_hubs_2025-05_2025-07.csv"
CAISO_DA = REAL / "iso/caiso/prc_lmp_AGNEW_1_N003_2022-01_subset.csv"
ERCOT_DA = REAL / "iso/ercot/np4-190-cd_dam_spp_excerpt.csv"


def test_pjm_day_ahead_real_export(data_root):
    place(data_root, PJM_DA, "pjm", "lmp_da")
    result = materialize_lmp(data_root, "lmp_da", "pjm|2025")
    md = metadata(result)
    # 12 hubs x (92 days x 24 h + the first hour of 2025-08-01 EPT): every row current, no duplicates.
    assert md["rows_out"] == 26_508 == md["rows_in_year"] == md["rows_read"]
    assert md["files_read"] == 1
    assert md["path"] == str(partition_path(data_root, "lmp_da", "pjm", 2025))
    assert [(f.name, f.type) for f in pq.read_table(md["path"]).schema] == [(f.name, f.type) for f in LMP_SCHEMA]
    # Hour beginning 2025-05-01 00:00 EPT = 04:00 UTC, as the export's first line gives it.
    row = query(
        data_root,
        "lmp_da",
        "pjm",
        2025,
        "SELECT lmp_usd_per_mwh, energy_usd_per_mwh, congestion_usd_per_mwh, loss_usd_per_mwh, "
        "location_id, location_type, interval_end_utc, operating_date FROM p "
        "WHERE location_name = 'WESTERN HUB' AND interval_start_utc = $t",
        {"t": datetime(2025, 5, 1, 4, tzinfo=UTC)},
    )
    assert row == [
        (25.504584, 30.98, -5.394061, -0.081355, "51288", "HUB", datetime(2025, 5, 1, 5, tzinfo=UTC), date(2025, 5, 1))
    ]
    # Every full operating day has 24 hours; 2025-08-01 holds only its first hour (a partial edge).
    assert checks(result) == {
        "unique_key": True,
        "no_null_lmp": True,
        "hours_per_operating_day": True,
        "lmp_equals_components": True,
        "peak_within_budget": True,
        "no_conflicting_revisions": True,
    }
    hours = result.get_asset_check_evaluations()
    hourly = next(e for e in hours if e.check_name == "hours_per_operating_day").metadata
    assert hourly["partial_edge_days"].value == 12  # 12 hubs on 2025-08-01
    assert hourly["wrong_hour_count_days"].value == 0


def test_pjm_real_time_real_export(data_root):
    place(data_root, PJM_RT, "pjm", "lmp_rt")
    result = materialize_lmp(data_root, "lmp_rt", "pjm|2025")
    # The real-time energy price is published to the cent: the sum misses LMP by up to 0.005001,
    # inside PJM's declared tolerance; every row has all four prices.
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == "lmp_equals_components")
    assert evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["rows_checked"].value == 26_508
    assert 0.005 < evaluation.metadata["max_difference_usd_per_mwh"].value <= 0.006
    rows = query(
        data_root,
        "lmp_rt",
        "pjm",
        2025,
        "SELECT market, lmp_usd_per_mwh FROM p WHERE location_name = 'EASTERN HUB' AND interval_start_utc = $t",
        {"t": datetime(2025, 5, 1, 4, tzinfo=UTC)},
    )
    assert rows == [("RT", 24.065135)]


def test_caiso_oasis_export_with_dropped_columns(data_root):
    place(data_root, CAISO_DA, "caiso", "lmp_da")
    result = materialize_lmp(data_root, "lmp_da", "caiso|2022")
    assert metadata(result)["rows_out"] == 696  # 29 operating days x 24 hours, one node
    rows = query(
        data_root,
        "lmp_da",
        "caiso",
        2022,
        "SELECT interval_start_utc, operating_date, lmp_usd_per_mwh, energy_usd_per_mwh FROM p "
        "ORDER BY interval_start_utc LIMIT 1",
    )
    # OPR_DT 2022-01-01 hour ending 1 = 00:00-01:00 PST = 08:00 UTC; only LMP is in the file.
    assert rows == [(datetime(2022, 1, 1, 8, tzinfo=UTC), date(2022, 1, 1), 62.03274, None)]
    # The last row: operating day 2022-01-29 hour ending 24 starts 2022-01-30 07:00 UTC.
    last = query(data_root, "lmp_da", "caiso", 2022, "SELECT max(interval_start_utc), max(operating_date) FROM p")
    assert last == [(datetime(2022, 1, 30, 7, tzinfo=UTC), date(2022, 1, 29))]
    # OASIS has no node type: a plain node by CAISO's naming; never null (it is in the key).
    assert query(data_root, "lmp_da", "caiso", 2022, "SELECT DISTINCT location_type, price_type FROM p") == [
        ("NODE", "LMP")
    ]
    assert all(checks(result).values())


def test_ercot_dam_excerpt(data_root):
    place(data_root, ERCOT_DA, "ercot", "lmp_da")
    result = materialize_lmp(data_root, "lmp_da", "ercot|2026")
    assert metadata(result)["rows_out"] == 40
    # HourEnding 01:00 on 09/29/2026 CDT = 00:00-01:00 CDT = 05:00-06:00 UTC; price " 28.4" padded.
    rows = query(
        data_root,
        "lmp_da",
        "ercot",
        2026,
        "SELECT interval_start_utc, interval_end_utc, lmp_usd_per_mwh, location_type FROM p "
        "WHERE location_id = '7RNCHSLR_ALL' ORDER BY interval_start_utc",
    )
    assert rows[0] == (datetime(2026, 9, 29, 5, tzinfo=UTC), datetime(2026, 9, 29, 6, tzinfo=UTC), 28.4, "RN")
    lz = query(
        data_root,
        "lmp_da",
        "ercot",
        2026,
        "SELECT DISTINCT location_type FROM p WHERE location_id LIKE 'LZ\\_%' ESCAPE '\\'",
    )
    assert lz == [("LZ",)]
    # Settlement point prices, not nodal LMPs: said so in every row.
    assert query(data_root, "lmp_da", "ercot", 2026, "SELECT DISTINCT price_type FROM p") == [("SPP",)]


@pytest.mark.parametrize(
    ("iso", "sample", "year"), [("pjm", PJM_DA, 2024), ("caiso", CAISO_DA, 2023)], ids=["pjm-no-2024", "caiso-no-2023"]
)
def test_a_year_the_files_do_not_hold_is_a_clear_error(data_root, iso, sample, year):
    place(data_root, sample, iso, "lmp_da")
    result = materialize_lmp(data_root, "lmp_da", f"{iso}|{year}", raise_on_error=False)
    assert not result.success
    err = step_error(result)
    assert f"holds operating year {year}" in err and "the files hold" in err
    assert not partition_path(data_root, "lmp_da", iso, year).exists()
