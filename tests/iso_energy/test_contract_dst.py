"""The operator contract and daylight-saving days: rows keyed on UTC, 25-hour fall-back and
23-hour spring-forward days, and the year partition following the operator's local operating day.
Parametrised over every registered operator (iso_energy.isos.ISOS)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import duckdb
import pyarrow.parquet as pq
import pytest

from iso_energy.convert import partition_path
from iso_energy.isos import ISOS
from iso_energy.isos.schema import LMP_SCHEMA
from iso_energy.isos.sql import local_to_utc_sql
from iso_energy.sample import generate
from tests.iso_energy.helpers import checks, materialize_lmp, query


@pytest.mark.parametrize(
    ("local", "repeated", "expected_utc"),
    [
        ("2024-11-03 00:00:00", False, datetime(2024, 11, 3, 5, tzinfo=UTC)),  # CDT, before the change
        ("2024-11-03 01:00:00", False, datetime(2024, 11, 3, 6, tzinfo=UTC)),  # first 1 AM (CDT)
        ("2024-11-03 01:00:00", True, datetime(2024, 11, 3, 7, tzinfo=UTC)),  # repeated 1 AM (CST)
        ("2024-11-03 01:45:00", False, datetime(2024, 11, 3, 6, 45, tzinfo=UTC)),  # 15-min interval, CDT
        ("2024-11-03 02:00:00", False, datetime(2024, 11, 3, 8, tzinfo=UTC)),  # CST, after the change
        ("2024-03-10 01:00:00", False, datetime(2024, 3, 10, 7, tzinfo=UTC)),  # CST, before spring-forward
        ("2024-03-10 03:00:00", False, datetime(2024, 3, 10, 8, tzinfo=UTC)),  # CDT, 2 AM never existed
        ("2024-07-01 12:00:00", True, datetime(2024, 7, 1, 17, tzinfo=UTC)),  # a wrong flag off-DST is inert
    ],
    ids=[
        "before-fall",
        "first-1am",
        "repeated-1am",
        "quarter-hour",
        "after-fall",
        "before-spring",
        "after-spring",
        "flag-ignored-in-summer",
    ],
)
def test_local_to_utc_with_repeated_hour_flag(local, repeated, expected_utc):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    sql = local_to_utc_sql("CAST($local AS TIMESTAMP)", "America/Chicago", "$repeated")
    assert con.execute(f"SELECT {sql}", {"local": local, "repeated": repeated}).fetchone()[0] == expected_utc


@pytest.fixture(scope="module")
def dst_root(tmp_path_factory):
    """Sample files of every operator around both 2023-24 transitions and the new year."""
    root = tmp_path_factory.mktemp("dst")
    generate(root, date(2023, 11, 3), date(2023, 11, 8), nodes=2)
    generate(root, date(2023, 12, 30), date(2024, 1, 2), nodes=2)
    generate(root, date(2024, 3, 8), date(2024, 3, 12), nodes=2)
    return root


HOURS_PER_DAY = "SELECT operating_date, count(*) FROM p WHERE location_id = $loc GROUP BY 1 ORDER BY 1"


CONTRACT = [(iso, ds) for iso, conv in ISOS.items() for ds in conv.datasets if ds in ("lmp_da", "lmp_rt")]


@pytest.mark.parametrize(("iso", "dataset"), CONTRACT, ids=[f"{i}-{d}" for i, d in CONTRACT])
def test_operator_contract_across_dst_and_new_year(dst_root, iso, dataset):
    """The contract every registered operator meets: its sample files convert to exactly the LMP
    schema, with unique UTC keys, 25/23-hour DST days, and the local operating year."""
    assert ZoneInfo(ISOS[iso].timezone)  # a valid IANA zone
    r23 = materialize_lmp(dst_root, dataset, f"{iso}|2023")
    r24 = materialize_lmp(dst_root, dataset, f"{iso}|2024")
    assert all(checks(r23).values()) and all(checks(r24).values())
    for year in (2023, 2024):
        schema = pq.read_table(partition_path(dst_root, dataset, iso, year)).schema
        assert [(f.name, f.type) for f in schema] == [(f.name, f.type) for f in LMP_SCHEMA]
    per_hour = 60 // ISOS[iso].datasets[dataset].interval_minutes
    loc = query(dst_root, dataset, iso, 2023, "SELECT min(location_id) FROM p")[0][0]
    days23 = dict(query(dst_root, dataset, iso, 2023, HOURS_PER_DAY, {"loc": loc}))
    days24 = dict(query(dst_root, dataset, iso, 2024, HOURS_PER_DAY, {"loc": loc}))
    # An operator on a fixed-offset zone (MISO: EST all year, Etc/GMT+5) has 24-hour days throughout.
    observes_dst = not ISOS[iso].timezone.startswith("Etc/")
    assert days23[date(2023, 11, 5)] == (25 if observes_dst else 24) * per_hour  # fall-back: 25 UTC hours
    assert days23[date(2023, 11, 4)] == days23[date(2023, 11, 6)] == 24 * per_hour
    assert days24[date(2024, 3, 10)] == (23 if observes_dst else 24) * per_hour  # spring-forward: 23
    # The operating year follows the local day: 2023-12-31's last hour starts in 2024 in UTC.
    assert days23[date(2023, 12, 31)] == 24 * per_hour
    assert date(2024, 1, 1) not in days23 and days24[date(2024, 1, 1)] == 24 * per_hour


def test_pjm_repeated_ept_hour_is_two_utc_rows(dst_root):
    materialize_lmp(dst_root, "lmp_da", "pjm|2023")
    rows = query(
        dst_root,
        "lmp_da",
        "pjm",
        2023,
        "SELECT interval_start_utc FROM p WHERE location_name = 'WESTERN HUB' "
        "AND operating_date = DATE '2023-11-05' ORDER BY 1 LIMIT 3",
    )
    # 00:00 EDT, 01:00 EDT, 01:00 EST (the EPT clock shows 1:00 AM twice)
    assert [r[0] for r in rows] == [datetime(2023, 11, 5, h, tzinfo=UTC) for h in (4, 5, 6)]


def test_ercot_dstflag_and_hour_24(dst_root):
    materialize_lmp(dst_root, "lmp_da", "ercot|2023")
    rows = query(
        dst_root,
        "lmp_da",
        "ercot",
        2023,
        "SELECT interval_start_utc FROM p WHERE location_id = 'HB_HOUSTON' "
        "AND operating_date = DATE '2023-11-05' ORDER BY 1",
    )
    starts = [r[0] for r in rows]
    assert starts[:4] == [datetime(2023, 11, 5, h, tzinfo=UTC) for h in (5, 6, 7, 8)]  # HE 01, 02, 02(Y), 03
    assert starts[-1] == datetime(2023, 11, 6, 5, tzinfo=UTC)  # HE 24:00 = 23:00-24:00 CST
    assert len(set(starts)) == 25
