"""Ancillary-service prices (the ``as`` dataset): PJM, CAISO and ERCOT through the base pipeline,
the ``as_prices`` asset with its checks, and the catalog's ``ancillary_services`` view."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from iso_energy.assets import as_prices, price_catalog
from iso_energy.checks import as_checks
from iso_energy.convert import convert_partition, partition_path
from iso_energy.isos import ISOS, isos_with
from iso_energy.isos.schema import AS_KEY, AS_PRODUCTS, AS_SCHEMA, RawFileError
from iso_energy.resources import CatalogDuckDBResource, ConversionBudgetResource
from iso_energy.sample import ancillary
from memsafe.budget import Budget
from memsafe.resources import DataDirResource

WINDOWS = [(date(2024, 3, 9), date(2024, 3, 12)), (date(2024, 11, 2), date(2024, 11, 5))]
# What each operator's sample publishes, normalised: (market, product) pairs.
EXPECTED = {
    "pjm": {
        ("DA", "SPIN"),
        ("DA", "NON_SPIN"),
        ("DA", "SUPPLEMENTAL"),
        ("RT", "REG"),
        ("RT", "REG_MILEAGE"),
        ("RT", "SPIN"),
        ("RT", "NON_SPIN"),
    },
    "caiso": {(m, p) for m in ("DA", "RT") for p in ("REG_UP", "REG_DOWN", "SPIN", "NON_SPIN")},
    "ercot": {("DA", p) for p in ("REG_UP", "REG_DOWN", "RRS", "NON_SPIN", "ECRS")},
}


@pytest.fixture
def budget(tmp_path: Path) -> Budget:
    return Budget(memory_mb=512, threads=1, spill_dir=str(tmp_path / "spill"))


def test_as_is_published_by_pjm_caiso_ercot():
    assert isos_with("as") == ["pjm", "caiso", "ercot"]
    assert set(ancillary.AS_ISOS) == set(isos_with("as"))


@pytest.mark.parametrize("iso", ["pjm", "caiso", "ercot"])
def test_as_contract_around_dst(tmp_path: Path, budget: Budget, iso: str):
    for start, end in WINDOWS:
        ancillary.write(iso, tmp_path / "raw", start, end, 2)
    stats = convert_partition(ISOS[iso], "as", 2024, tmp_path, budget)
    assert stats.output == partition_path(tmp_path, "as", iso, 2024)
    assert [(f.name, f.type) for f in pq.read_table(stats.output).schema] == [(f.name, f.type) for f in AS_SCHEMA]
    con = duckdb.connect()
    p = {"p": str(stats.output)}
    rows, distinct = con.execute(
        f"SELECT count(*), count(DISTINCT ({', '.join(AS_KEY)})) FROM read_parquet($p)", p
    ).fetchone()
    assert rows == distinct == stats.rows_out
    assert set(con.execute("SELECT DISTINCT market, product FROM read_parquet($p)", p).fetchall()) == EXPECTED[iso]
    assert {r[0] for r in con.execute("SELECT DISTINCT product FROM read_parquet($p)", p).fetchall()} <= set(
        AS_PRODUCTS
    )
    hours = con.execute(
        "SELECT operating_date, min(h), max(h) FROM (SELECT market, region, product, operating_date, "
        "sum(epoch(interval_end_utc - interval_start_utc)) / 3600 AS h FROM read_parquet($p) GROUP BY ALL) "
        "GROUP BY 1",
        p,
    ).fetchall()
    assert {d: (lo, hi) for d, lo, hi in hours} == {
        date(2024, 3, 9): (24, 24),
        date(2024, 3, 10): (23, 23),
        date(2024, 3, 11): (24, 24),
        date(2024, 11, 2): (24, 24),
        date(2024, 11, 3): (25, 25),
        date(2024, 11, 4): (24, 24),
    }
    # No superseded PJM revision (999), no non-price ratio, no CAISO HASP run
    assert con.execute("SELECT max(price_usd_per_mw) FROM read_parquet($p)", p).fetchone()[0] < 999
    for outcome in as_checks(stats.output, ISOS[iso].timezone, budget):
        assert outcome.passed, (outcome.name, outcome.metadata)


def raw_file(root: Path, iso: str, name: str, text: str) -> Path:
    path = root / "raw" / iso / "as" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_ercot_mcpc_hour_ending_24_and_repeated_hour(tmp_path: Path, budget: Budget):
    raw_file(
        tmp_path,
        "ercot",
        "np4-188-cd.csv",
        "DeliveryDate,HourEnding,AncillaryType,MCPC,DSTFlag\n"
        "11/03/2024,02:00,REGUP,4.50,N\n"  # 01:00 CDT -> 06:00 UTC
        "11/03/2024,02:00,REGUP,5.50,Y\n"  # 01:00 CST (repeated) -> 07:00 UTC
        "11/03/2024,24:00,REGDN,1.25,N\n",
    )  # 23:00 CST -> 05:00 UTC next day
    out = pq.read_table(convert_partition(ISOS["ercot"], "as", 2024, tmp_path, budget).output).to_pylist()
    got = sorted((r["interval_start_utc"], r["product"], r["price_usd_per_mw"], r["region"], r["market"]) for r in out)
    assert got == [
        (datetime(2024, 11, 3, 6, tzinfo=UTC), "REG_UP", 4.5, "ERCOT", "DA"),
        (datetime(2024, 11, 3, 7, tzinfo=UTC), "REG_UP", 5.5, "ERCOT", "DA"),
        (datetime(2024, 11, 4, 5, tzinfo=UTC), "REG_DOWN", 1.25, "ERCOT", "DA"),
    ]
    assert {r["product_name"] for r in out} == {"REGUP", "REGDN"}


def test_pjm_market_from_feed_name_and_region_from_service(tmp_path: Path, budget: Budget):
    header = "datetime_beginning_utc,datetime_beginning_ept,ancillary_service,unit,value,row_is_current,version_nbr\n"
    raw_file(
        tmp_path,
        "pjm",
        "da_ancillary_services_x.csv",
        header
        + "7/1/2024 4:00:00 AM,7/1/2024 12:00:00 AM,Mid-Atlantic/Dominion Synchronized Reserve,Price,3.5,True,1\n",
    )
    raw_file(
        tmp_path,
        "pjm",
        "ancillary_services_x.csv",
        header + "7/1/2024 4:00:00 AM,7/1/2024 12:00:00 AM,RTO Non-Synchronized Reserve,Price,1.5,True,1\n"
        "7/1/2024 4:00:00 AM,7/1/2024 12:00:00 AM,RTO Non-Synchronized Reserve,Price,2.5,True,2\n"
        "7/1/2024 4:00:00 AM,7/1/2024 12:00:00 AM,RTO Mileage Ratio,Ratio,3.1,True,1\n",
    )
    out = pq.read_table(convert_partition(ISOS["pjm"], "as", 2024, tmp_path, budget).output).to_pylist()
    assert sorted((r["market"], r["region"], r["product"], r["price_usd_per_mw"]) for r in out) == [
        ("DA", "MAD", "SPIN", 3.5),
        ("RT", "RTO", "NON_SPIN", 2.5),
    ]  # version 2 wins; the ratio is not a price


def test_unknown_product_code_names_the_file(tmp_path: Path, budget: Budget):
    bad = raw_file(
        tmp_path,
        "ercot",
        "np4-188-cd.csv",
        "DeliveryDate,HourEnding,AncillaryType,MCPC,DSTFlag\n"
        "07/01/2024,01:00,REGUP,4.50,N\n07/01/2024,02:00,FFR,9.00,N\n",
    )
    with pytest.raises(RawFileError, match="unknown ERCOT AncillaryType FFR") as err:
        convert_partition(ISOS["ercot"], "as", 2024, tmp_path, budget)
    assert err.value.path == str(bad)


def test_as_prices_asset_and_catalog_view(tmp_path: Path):
    for iso in ancillary.AS_ISOS:
        ancillary.write(iso, tmp_path / "raw", date(2023, 12, 31), date(2024, 1, 2), 1)
    resources = {
        "data": DataDirResource(data_dir=str(tmp_path)),
        "conversion": ConversionBudgetResource(memory_mb=512, threads=1, max_concurrent=2),
        "catalog_db": CatalogDuckDBResource(),
    }
    with dg.instance_for_test() as instance:
        for iso in ancillary.AS_ISOS:
            result = dg.materialize([as_prices], partition_key=f"{iso}|2024", resources=resources, instance=instance)
            assert result.success
            evals = result.get_asset_check_evaluations()
            assert {e.check_name for e in evals} == {
                "unique_key",
                "no_null_price",
                "hours_per_operating_day",
                "peak_within_budget",
                "no_conflicting_revisions",
            }
            assert all(e.passed for e in evals if e.check_name != "peak_within_budget")
            md = result.get_asset_materialization_events()[0].materialization.metadata
            assert md["path"].value == str(partition_path(tmp_path, "as", iso, 2024))
        assert dg.materialize([price_catalog], resources=resources, instance=instance).success
    con = duckdb.connect(str(tmp_path / "catalog.duckdb"), read_only=True)
    try:
        per_iso = dict(
            con.execute(
                "SELECT iso, count(DISTINCT product) FROM ancillary_services WHERE year = 2024 GROUP BY iso"
            ).fetchall()
        )
        assert per_iso == {"pjm": 5, "caiso": 4, "ercot": 5}
        plan = "\n".join(
            r[1]
            for r in con.execute(
                "EXPLAIN SELECT * FROM ancillary_services WHERE iso = 'caiso' AND year = 2024"
            ).fetchall()
        )
        assert re.search(r"Scanning Files:\s*1/3\b", plan), plan
    finally:
        con.close()
