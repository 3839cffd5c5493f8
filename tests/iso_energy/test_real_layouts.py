"""Layouts real users have: CAISO OASIS subsets saved by downloaders, header errors that name
the missing columns, and key columns that are never null (``location_type``, ``price_type``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from iso_energy.convert import convert_partition
from iso_energy.isos import ISOS
from iso_energy.isos.schema import PRICE_TYPES, RawFileError
from iso_energy.sample import generate
from memsafe.budget import Budget
from tests.conftest import REAL

CAISO_REAL = REAL / "iso" / "caiso" / "prc_lmp_AGNEW_1_N003_2022-01_subset.csv"
# The common pycaiso survivor of OASIS PRC_LMP: no LMP_TYPE, only the LMP rows kept.
PYCAISO = (
    "INTERVALSTARTTIME_GMT,INTERVALENDTIME_GMT,OPR_DT,OPR_HR,NODE_ID,MW,GROUP\n"
    "2022-01-01T08:00:00-00:00,2022-01-01T09:00:00-00:00,2022-01-01,1,DLAP_PGAE-APND,62.03274,1\n"
    "2022-01-01T09:00:00-00:00,2022-01-01T10:00:00-00:00,2022-01-01,2,DLAP_PGAE-APND,64.1449,1\n"
    "2022-01-01T08:00:00-00:00,2022-01-01T09:00:00-00:00,2022-01-01,1,AGNEW_1_N003,61.5,1\n"
)


@pytest.fixture
def budget(tmp_path: Path) -> Budget:
    return Budget(memory_mb=512, threads=1, spill_dir=str(tmp_path / "spill"))


def raw_file(root: Path, iso: str, dataset: str, name: str, text: str) -> Path:
    path = root / "raw" / iso / dataset / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_caiso_pycaiso_subset_without_lmp_type_is_total_lmp(tmp_path, budget):
    raw_file(tmp_path, "caiso", "lmp_da", "AGNEW.csv", PYCAISO)
    out = pq.read_table(convert_partition(ISOS["caiso"], "lmp_da", 2022, tmp_path, budget).output).to_pylist()
    first = {(r["location_id"], r["interval_start_utc"]): r for r in out}[
        ("DLAP_PGAE-APND", datetime(2022, 1, 1, 8, tzinfo=UTC))
    ]
    assert first["lmp_usd_per_mwh"] == 62.03274 and first["location_type"] == "DLAP"
    assert all(
        r["energy_usd_per_mwh"] is None and r["congestion_usd_per_mwh"] is None and r["loss_usd_per_mwh"] is None
        for r in out
    )
    assert {r["location_id"]: r["location_type"] for r in out} == {"DLAP_PGAE-APND": "DLAP", "AGNEW_1_N003": "NODE"}


@pytest.mark.parametrize("drop", ["OPR_HR", "GROUP", "LMP_TYPE", "OPR_HR,GROUP,LMP_TYPE"])
def test_caiso_any_optional_column_may_be_missing(tmp_path, budget, drop):
    lines = CAISO_REAL.read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, c in enumerate(header) if c not in drop.split(",")]
    rows = [ln for ln in lines if ln.split(",")[5] == "LMP"] if "LMP_TYPE" in drop else lines[1:]
    text = "\n".join(",".join(ln.split(",")[i] for i in keep) for ln in [lines[0], *rows]) + "\n"
    raw_file(tmp_path, "caiso", "lmp_da", "subset.csv", text)
    stats = convert_partition(ISOS["caiso"], "lmp_da", 2022, tmp_path, budget)
    assert stats.rows_out == 696  # as the real file with every column it kept
    lmp_total = round(sum(float(ln.split(",")[6]) for ln in lines[1:] if ln.split(",")[5] == "LMP"), 4)
    con = duckdb.connect()
    assert con.execute(
        "SELECT round(sum(lmp_usd_per_mwh), 4), list(DISTINCT location_type) FROM read_parquet($p)",
        {"p": str(stats.output)},
    ).fetchone() == (lmp_total, ["NODE"])


def test_caiso_untyped_rows_that_repeat_are_an_error(tmp_path, budget):
    # Without LMP_TYPE or XML_DATA_ITEM, two MW rows for one node and hour cannot be told apart.
    bad = raw_file(
        tmp_path, "caiso", "lmp_da", "mixed.csv", PYCAISO + PYCAISO.splitlines()[1].replace("62.03274", "1.5") + "\n"
    )
    with pytest.raises(RawFileError, match="DLAP_PGAE-APND has several MW rows") as err:
        convert_partition(ISOS["caiso"], "lmp_da", 2022, tmp_path, budget)
    assert err.value.path == str(bad)


@pytest.mark.parametrize(
    ("iso", "dataset", "text", "missing"),
    [
        # pycaiso subset that also lost NODE_ID (kept NODE instead)
        ("caiso", "lmp_da", PYCAISO.replace("NODE_ID", "NODE"), "['NODE_ID']"),
        # ERCOT DAM file without its DSTFlag column
        (
            "ercot",
            "lmp_da",
            "DeliveryDate,HourEnding,SettlementPoint,SettlementPointPrice\n12/31/2024,24:00,HB_NORTH,1\n",
            "['DSTFlag']",
        ),
        # PJM export without version columns
        (
            "pjm",
            "lmp_da",
            "datetime_beginning_utc,datetime_beginning_ept,pnode_id,pnode_name,type,total_lmp_da\n",
            "['row_is_current', 'version_nbr']",
        ),
    ],
    ids=["caiso-node-id", "ercot-dstflag", "pjm-versions"],
)
def test_header_not_found_names_the_missing_columns(tmp_path, iso, dataset, text, missing):
    path = raw_file(tmp_path, iso, dataset, "x.csv", text)
    with pytest.raises(RawFileError) as err:
        ISOS[iso].sniff(path, dataset)
    assert f"the closest, line 1, lacks the required column(s) {missing}" in str(err.value)
    assert err.value.path == str(path) and err.value.line == 1


def test_header_error_without_any_known_column_names_what_is_required(tmp_path):
    path = raw_file(tmp_path, "caiso", "lmp_da", "x.csv", "File does not exist\n")
    with pytest.raises(
        RawFileError,
        match=r"required column\(s\) \[.*'NODE_ID'.*\] missing\); first line is "
        r"'File does not exist'",
    ):
        ISOS["caiso"].sniff(path, "lmp_da")


@pytest.fixture(scope="module")
def every_sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    generate(root, date(2024, 7, 1), date(2024, 7, 3), nodes=14)
    return root


@pytest.mark.parametrize("iso", list(ISOS))
@pytest.mark.parametrize("dataset", ["lmp_da", "lmp_rt"])
def test_no_null_key_column_and_price_type_per_operator(every_sample, tmp_path, iso, dataset):
    budget = Budget(memory_mb=512, threads=1, spill_dir=str(tmp_path / "spill"))
    out = convert_partition(ISOS[iso], dataset, 2024, every_sample, budget, output=tmp_path / "o.parquet").output
    con = duckdb.connect()
    nulls, types, prices = con.execute(
        "SELECT count(*) FILTER (WHERE location_id IS NULL OR location_type IS NULL OR interval_start_utc IS NULL "
        "OR price_type IS NULL), list(DISTINCT location_type ORDER BY location_type), "
        "list(DISTINCT price_type) FROM read_parquet($p)",
        {"p": str(out)},
    ).fetchone()
    assert nulls == 0 and "" not in types
    assert prices == ["SPP" if iso == "ercot" else "LMP"] and set(prices) <= set(PRICE_TYPES)
    if iso == "nyiso":  # 14 locations: 12 zones, then generators in their own files
        assert types == ["GEN", "ZONE"]


# -- lmp_equals_components ----------------------------------------------------------------------
ISONE = (
    '"C","Real-Time Energy Market Hourly LMP Report"\n'
    '"H","Date","Hour Ending","Location ID","Location Name","Location Type","Locational Marginal Price",'
    '"Energy Component","Congestion Component","Marginal Loss Component"\n'
    '"D","07/01/2024","01","4000",".H.INTERNAL_HUB","HUB",30.51,30.00,0.25,0.25\n'  # 0.01 off: rounding
    '"D","07/01/2024","02","4000",".H.INTERNAL_HUB","HUB",{lmp},31.00,0.25,0.25\n'
    '"T","Total # of Data Records: 2"\n'
)


@pytest.mark.parametrize(("lmp", "passed"), [("31.50", True), ("31.90", False)], ids=["rounding", "bad-row"])
def test_lmp_equals_components_within_the_operators_rounding(tmp_path, budget, lmp, passed):
    from iso_energy.checks import lmp_component_check

    raw_file(tmp_path, "isone", "lmp_rt", "WW_RTLMP_ISO_20240701.csv", ISONE.format(lmp=lmp))
    out = convert_partition(ISOS["isone"], "lmp_rt", 2024, tmp_path, budget).output
    outcome = lmp_component_check(out, ISOS["isone"].component_tolerance, budget)
    assert (outcome.name, outcome.passed, outcome.warn) == ("lmp_equals_components", passed, True)
    assert outcome.metadata["rows_checked"] == 2 and outcome.metadata["rows_off"] == (0 if passed else 1)
    if not passed:
        assert outcome.metadata["max_difference_usd_per_mwh"] == 0.4
        assert outcome.metadata["examples"] == ["4000 2024-07-01 05:00:00+00 0.4"]


def test_lmp_equals_components_on_the_real_pjm_day_ahead_export(tmp_path, budget):
    from iso_energy.checks import lmp_component_check

    out = tmp_path / "pjm.parquet"
    ISOS["pjm"].convert_year(
        [REAL / "iso" / "pjm" / "da_hrl_lmps_hubs_2025-05_2025-07.csv"], "lmp_da", 2025, out, budget
    )
    good = lmp_component_check(out, ISOS["pjm"].component_tolerance, budget)
    assert good.passed and good.metadata["rows_checked"] == 26_508
    assert good.metadata["max_difference_usd_per_mwh"] < 1e-6  # day-ahead: exact to 6 decimals
    # The same real rows with one generated bad LMP: caught and named.
    con = duckdb.connect()
    bad = tmp_path / "bad.parquet"
    con.execute(
        "COPY (SELECT * REPLACE (CASE WHEN location_id = '51288' AND interval_start_utc = "
        "TIMESTAMPTZ '2025-05-01 04:00:00+00' THEN lmp_usd_per_mwh + 1 ELSE lmp_usd_per_mwh END "
        "AS lmp_usd_per_mwh) FROM read_parquet($i)) TO $o (FORMAT parquet)",
        {"i": str(out), "o": str(bad)},
    )
    outcome = lmp_component_check(bad, ISOS["pjm"].component_tolerance, budget)
    assert not outcome.passed and outcome.metadata["rows_off"] == 1
    assert outcome.metadata["examples"][0].startswith("51288 2025-05-01 04:00:00")


@pytest.mark.parametrize("iso", ["miso", "nyiso", "ercot"])
def test_operators_without_all_components_are_not_checked(tmp_path, budget, iso):
    from iso_energy.checks import lmp_component_check

    assert ISOS[iso].component_tolerance is None
    outcome = lmp_component_check(tmp_path / "never-read.parquet", None, budget)
    assert outcome.passed and outcome.metadata["rows_checked"] == 0


def test_miso_header_not_found_names_the_missing_columns(tmp_path, budget):
    # "Kind" instead of "Type": the header line is the closest candidate, and the error says so.
    hours = ",".join(f"HE {h}" for h in range(1, 25))
    text = f"Day Ahead Market ExPost LMPs\n07/01/2024\nNode,Kind,Value,{hours}\nA,Hub,LMP," + ",".join("1" * 24) + "\n"
    bad = raw_file(tmp_path, "miso", "lmp_da", "20240701_da_expost_lmp.csv", text)
    with pytest.raises(RawFileError, match=r"the closest, line 3, lacks the required column\(s\) \['Type'\]") as err:
        convert_partition(ISOS["miso"], "lmp_da", 2024, tmp_path, budget)
    assert err.value.path == str(bad) and err.value.line == 3
