"""MISO, NYISO, ISO-NE and SPP: each format's rules on tiny inline files, its malformed cases,
and the real NYISO and SPP samples read in place from ../shared/data/real/iso/."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from iso_energy.convert import convert_partition, partition_path
from iso_energy.isos import ISOS
from iso_energy.isos.base import DatasetFormat
from iso_energy.isos.schema import RawFileError
from iso_energy.isos.spp import SPP
from memsafe.budget import Budget
from tests.iso_energy.helpers import no_temporaries, snapshot


def _real_samples() -> Path:
    """``<repo root>/../shared/data/real/iso`` (the nearest one upwards, so a git worktree nested
    one level deeper finds the same folder). Missing is a failure, never a skip."""
    repo = Path(__file__).resolve().parents[2]
    for parent in repo.parents:
        if (parent / "shared" / "data" / "real" / "iso").is_dir():
            return parent / "shared" / "data" / "real" / "iso"
    raise FileNotFoundError(f"no shared/data/real/iso beside {repo} or above it")


REAL = _real_samples()


@pytest.fixture
def budget(tmp_path: Path) -> Budget:
    return Budget(memory_mb=512, threads=1, spill_dir=str(tmp_path / "spill"))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def raw_file(root: Path, iso: str, dataset: str, name: str, text: str) -> Path:
    path = root / "raw" / iso / dataset / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def rows(path: Path) -> list[dict]:
    return pq.read_table(path).sort_by([("location_id", "ascending"), ("interval_start_utc", "ascending")]).to_pylist()


# -- MISO ---------------------------------------------------------------------------------------
HE = ",".join(f"HE {h}" for h in range(1, 25))
MISO_DA = (
    'Day Ahead Market ExPost LMPs\n07/01/2024\n,,,,,,\n"All Hours-Ending are Eastern Standard Time (EST)"\n'
    f"Node,Type,Value,{HE}\n"
    + "ARKANSAS.HUB,Hub,LMP,"
    + ",".join(str(30 + h) for h in range(24))
    + "\n"
    + "ARKANSAS.HUB,Hub,MCC,"
    + ",".join("-1.5" for _ in range(24))
    + "\n"
    + "ARKANSAS.HUB,Hub,MLC,"
    + ",".join("0.25" for _ in range(24))
    + "\n"
)


def test_miso_unpivots_hours_in_est_all_year(tmp_path, budget):
    # July: Eastern *daylight* time would put HE 1 at 04:00 UTC; MISO's EST puts it at 05:00.
    raw_file(tmp_path, "miso", "lmp_da", "20240701_da_expost_lmp.csv", MISO_DA)
    stats = convert_partition(ISOS["miso"], "lmp_da", 2024, tmp_path, budget)
    out = rows(stats.output)
    assert len(out) == 24
    first, last = out[0], out[-1]
    assert first["interval_start_utc"] == utc(2024, 7, 1, 5) and first["interval_end_utc"] == utc(2024, 7, 1, 6)
    assert last["interval_start_utc"] == utc(2024, 7, 2, 4)
    assert (first["lmp_usd_per_mwh"], first["congestion_usd_per_mwh"], first["loss_usd_per_mwh"]) == (30, -1.5, 0.25)
    assert last["lmp_usd_per_mwh"] == 53
    assert first["energy_usd_per_mwh"] is None  # not published in these reports
    assert (first["location_id"], first["location_type"], str(first["operating_date"])) == (
        "ARKANSAS.HUB",
        "Hub",
        "2024-07-01",
    )


def test_miso_file_without_header_line_fails_and_keeps_previous_output(tmp_path, budget):
    raw_file(tmp_path, "miso", "lmp_da", "20240701_da_expost_lmp.csv", MISO_DA)
    out = convert_partition(ISOS["miso"], "lmp_da", 2024, tmp_path, budget).output
    before = snapshot(out)
    headerless = "\n".join(ln for ln in MISO_DA.splitlines() if not ln.startswith("Node,")) + "\n"
    bad = raw_file(tmp_path, "miso", "lmp_da", "20240702_da_expost_lmp.csv", headerless.replace("07/01", "07/02"))
    with pytest.raises(RawFileError, match="no MISO header line") as err:
        convert_partition(ISOS["miso"], "lmp_da", 2024, tmp_path, budget)
    assert err.value.path == str(bad)
    assert snapshot(out) == before
    assert no_temporaries(out)


def test_miso_bad_price_names_raw_file_and_raw_line(tmp_path, budget):
    bad = raw_file(tmp_path, "miso", "lmp_rt", "20240701_rt_lmp_final.csv", MISO_DA.replace(",31,", ",n/a,"))
    with pytest.raises(RawFileError) as err:
        convert_partition(ISOS["miso"], "lmp_rt", 2024, tmp_path, budget)
    assert err.value.path == str(bad)
    assert err.value.line == 6  # the LMP line of the raw file (preamble counted)


# -- NYISO --------------------------------------------------------------------------------------
NYISO_HEADER = (
    '"Time Stamp","Name","PTID","LBMP ($/MWHr)","Marginal Cost Losses ($/MWHr)","Marginal Cost Congestion ($/MWHr)"'
)


def nyiso_text(lines: list[str]) -> str:
    return "\n" + NYISO_HEADER + "\n" + "\n".join(lines)  # blank first line, no final newline


def test_nyiso_fall_back_hour_by_row_order_and_congestion_sign(tmp_path, budget):
    raw_file(
        tmp_path,
        "nyiso",
        "lmp_da",
        "20241103damlbmp_zone.csv",
        nyiso_text(
            [
                '"11/03/2024 00:00:00","N.Y.C.",61761,40.00,1.00,-5.00',
                '"11/03/2024 01:00:00","N.Y.C.",61761,41.00,1.00,-5.00',  # EDT
                '"11/03/2024 01:00:00","N.Y.C.",61761,42.00,1.00,-5.00',  # EST, the repeated hour
                '"11/03/2024 02:00:00","N.Y.C.",61761,43.00,1.00,2.50',
            ]
        ),
    )
    out = rows(convert_partition(ISOS["nyiso"], "lmp_da", 2024, tmp_path, budget).output)
    assert [(r["interval_start_utc"], r["lmp_usd_per_mwh"]) for r in out] == [
        (utc(2024, 11, 3, 4), 40),
        (utc(2024, 11, 3, 5), 41),
        (utc(2024, 11, 3, 6), 42),
        (utc(2024, 11, 3, 7), 43),
    ]
    # Published -5.00 (NYISO: LBMP = energy + losses - congestion) is +5.00 normalised.
    assert [r["congestion_usd_per_mwh"] for r in out] == [5.0, 5.0, 5.0, -2.5]
    assert {(r["location_id"], r["location_name"], r["location_type"]) for r in out} == {("61761", "N.Y.C.", "ZONE")}


def test_nyiso_real_sample_spot_values(tmp_path, budget):
    real = REAL / "nyiso" / "lbmp_zone_excerpt.csv"
    assert real.read_bytes().startswith(b"\n") and not real.read_bytes().endswith(b"\n")  # the quirks
    out_path = tmp_path / "out.parquet"
    stats = ISOS["nyiso"].convert_year([real], "lmp_rt", 2016, out_path, budget)
    assert stats.rows_out == 45  # 15 zones x 3 time stamps
    by_key = {(r["location_name"], r["interval_start_utc"]): r for r in pq.read_table(out_path).to_pylist()}
    # "02/18/2016 00:15:00","CAPITL",61757,21.53,1.69,0.00 -- EST, the interval END; the stamps
    # 00:15, 00:30, 00:45 are 15 minutes apart on the quarter hour: RTC intervals 00:00-00:15, ...
    capitl = by_key[("CAPITL", utc(2016, 2, 18, 5, 0))]
    assert (capitl["location_id"], capitl["lmp_usd_per_mwh"], capitl["loss_usd_per_mwh"]) == ("61757", 21.53, 1.69)
    assert capitl["congestion_usd_per_mwh"] == 0 and capitl["interval_end_utc"] == utc(2016, 2, 18, 5, 15)
    assert str(capitl["operating_date"]) == "2016-02-18" and capitl["location_type"] == "ZONE"
    assert capitl["price_type"] == "LMP"
    # "02/18/2016 00:45:00","WEST",61752,20.59,0.85,0.00 (the last line, without a newline)
    west = by_key[("WEST", utc(2016, 2, 18, 5, 30))]
    assert (west["lmp_usd_per_mwh"], west["loss_usd_per_mwh"]) == (20.59, 0.85)
    assert west["interval_end_utc"] == utc(2016, 2, 18, 5, 45)
    assert by_key[("H Q", utc(2016, 2, 18, 5, 0))]["loss_usd_per_mwh"] == -0.64
    # Contiguous 15-minute intervals, none overlapping: 00:00-00:45 EST for every zone.
    spans = {(r["interval_start_utc"], r["interval_end_utc"]) for r in by_key.values()}
    assert spans == {(utc(2016, 2, 18, 5, m), utc(2016, 2, 18, 5, m + 15)) for m in (0, 15, 30)}


# -- ISO-NE -------------------------------------------------------------------------------------
ISONE_HEAD = (
    '"C","Day-Ahead Energy Market Hourly LMP Report"\n'
    '"H","Date","Hour Ending","Location ID","Location Name","Location Type","Locational Marginal Price",'
    '"Energy Component","Congestion Component","Marginal Loss Component"\n'
    '"H","","","","","","Number","Number","Number","Number"\n'
)
ISONE_DATA = [
    '"D","11/03/2024","01","4000",".H.INTERNAL_HUB","HUB",30.5,30,0.25,0.25',
    '"D","11/03/2024","02","4000",".H.INTERNAL_HUB","HUB",31.5,31,0.25,0.25',
    '"D","11/03/2024","02X","4000",".H.INTERNAL_HUB","HUB",32.5,32,0.25,0.25',
    '"D","11/03/2024","03","4000",".H.INTERNAL_HUB","HUB",33.5,33,0.25,0.25',
]


def isone_text(data: list[str], count: int | None) -> str:
    trailer = "" if count is None else f'"T","Total # of Data Records: {count}"\n'
    return ISONE_HEAD + "\n".join(data) + "\n" + trailer


def test_isone_02x_is_the_repeated_fall_back_hour(tmp_path, budget):
    raw_file(tmp_path, "isone", "lmp_da", "WW_DALMP_ISO_20241103.csv", isone_text(ISONE_DATA, 4))
    out = rows(convert_partition(ISOS["isone"], "lmp_da", 2024, tmp_path, budget).output)
    assert [(r["interval_start_utc"], r["lmp_usd_per_mwh"]) for r in out] == [
        (utc(2024, 11, 3, 4), 30.5),
        (utc(2024, 11, 3, 5), 31.5),
        (utc(2024, 11, 3, 6), 32.5),
        (utc(2024, 11, 3, 7), 33.5),
    ]
    assert (out[0]["energy_usd_per_mwh"], out[0]["location_id"], out[0]["location_type"]) == (30, "4000", "HUB")


@pytest.mark.parametrize(
    ("text", "problem", "line"),
    [
        # trailer says 5 records, the file holds 4 data lines
        (isone_text(ISONE_DATA, 5), "trailer count 5 disagrees with the 4 data lines", None),
        # no trailer at all: a truncated download
        (isone_text(ISONE_DATA, None), 'no "T" trailer', None),
        # a line with a record type ISO-NE does not use
        (isone_text([*ISONE_DATA[:2], '"X","junk"', *ISONE_DATA[2:]], 4), "unknown record type", 6),
    ],
    ids=["trailer-count", "no-trailer", "unknown-record-type"],
)
def test_isone_malformed_files(tmp_path, budget, text, problem, line):
    bad = raw_file(tmp_path, "isone", "lmp_rt", "WW_RTLMP_ISO_20241103.csv", text)
    with pytest.raises(RawFileError, match=problem) as err:
        convert_partition(ISOS["isone"], "lmp_rt", 2024, tmp_path, budget)
    assert err.value.path == str(bad) and err.value.line == line
    assert not partition_path(tmp_path, "lmp_rt", "isone", 2024).exists()


def test_isone_bad_value_reports_the_raw_line(tmp_path, budget):
    data = [*ISONE_DATA[:3], ISONE_DATA[3].replace("33.5", "n/a")]
    bad = raw_file(tmp_path, "isone", "lmp_da", "WW_DALMP_ISO_20241103.csv", isone_text(data, 4))
    with pytest.raises(RawFileError) as err:
        convert_partition(ISOS["isone"], "lmp_da", 2024, tmp_path, budget)
    assert err.value.path == str(bad) and err.value.line == 7


# -- SPP ----------------------------------------------------------------------------------------
SPP_HEADER = "Interval,GMTIntervalEnd, Settlement Location, Pnode, LMP, MLC, MCC, MEC\n"
SPP_ROWS = (
    "11/03/2024 01:00:00,11/03/2024 06:00:00,AECI,AECI_AECI,20.5,0.5,-1,21\n"
    "11/03/2024 01:00:00,11/03/2024 07:00:00,AECI,AECI_AECI,21.5,0.5,-1,22\n"
)


def test_spp_keys_on_gmt_interval_end_with_leading_space_headers(tmp_path, budget):
    # The local `Interval` repeats on the fall-back day; GMTIntervalEnd does not.
    raw_file(tmp_path, "spp", "lmp_da", "DA-LMP-SL-202411030100.csv", SPP_HEADER + SPP_ROWS)
    out = rows(convert_partition(ISOS["spp"], "lmp_da", 2024, tmp_path, budget).output)
    assert [(r["interval_start_utc"], r["interval_end_utc"], r["lmp_usd_per_mwh"]) for r in out] == [
        (utc(2024, 11, 3, 5), utc(2024, 11, 3, 6), 20.5),
        (utc(2024, 11, 3, 6), utc(2024, 11, 3, 7), 21.5),
    ]
    r = out[0]
    assert (
        r["location_id"],
        r["location_name"],
        r["energy_usd_per_mwh"],
        r["congestion_usd_per_mwh"],
        r["loss_usd_per_mwh"],
        str(r["operating_date"]),
    ) == ("AECI", "AECI_AECI", 21, -1, 0.5, "2024-11-03")


def test_spp_unknown_column_is_an_error(tmp_path, budget):
    bad = raw_file(
        tmp_path,
        "spp",
        "lmp_rt",
        "RTBM-LMP-SL-202411030105.csv",
        SPP_HEADER.replace(" MEC\n", " MEC, MGHG\n") + SPP_ROWS.replace("\n", ",0\n"),
    )
    with pytest.raises(RawFileError, match=r"unknown column\(s\) \['MGHG'\]") as err:
        convert_partition(ISOS["spp"], "lmp_rt", 2024, tmp_path, budget)
    assert err.value.path == str(bad)


def test_spp_real_sample_header_with_leading_spaces(tmp_path, budget):
    real = REAL / "spp" / "DA-MC-202601010100.csv"
    header = real.read_text().splitlines()[0].split(",")
    assert " Cleared Demand Bid" in header  # the quirk is in the real file
    # It is SPP's market-clearing report, not LMP: the LMP dataset refuses it, naming the file.
    with pytest.raises(RawFileError, match="no SPP day-ahead LMP") as err:
        ISOS["spp"].sniff(real, "lmp_da")
    assert err.value.path == str(real)

    # The same base path (header found and stripped, strict typed read) on the real file, through
    # a market-clearing format declared the way an SPP dataset is: the system marginal price.
    class SppMarketClearing(SPP):
        datasets = {
            "mc": DatasetFormat(
                market="DA",
                source="SPP DA market clearing",
                columns={
                    "Interval": "TIMESTAMP",
                    "GMTIntervalEnd": "TIMESTAMP",
                    "Cleared Demand Bid": "DOUBLE",
                    "SMP": "DOUBLE",
                },
                required=("Interval", "GMTIntervalEnd", "Cleared Demand Bid", "SMP"),
                timestampformat="%m/%d/%Y %H:%M:%S",
                select_sql="""timezone('UTC', GMTIntervalEnd) - INTERVAL 1 HOUR AS interval_start_utc,
                timezone('UTC', GMTIntervalEnd) AS interval_end_utc,
                CAST(timezone('America/Chicago', timezone('UTC', GMTIntervalEnd) - INTERVAL 1 HOUR) AS DATE)
                    AS operating_date,
                'SPP' AS location_id, 'SPP' AS location_name, 'SYSTEM' AS location_type, 'SMP' AS price_type,
                SMP AS lmp_usd_per_mwh, NULL AS energy_usd_per_mwh, NULL AS congestion_usd_per_mwh,
                NULL AS loss_usd_per_mwh, 0 AS _version, _file""",
            )
        }

    conv = SppMarketClearing()
    sniffed = conv.sniff(real, "mc")
    assert sniffed.skip == 0 and "Cleared Demand Bid" in sniffed.header and "Cleared Demand Bid" not in header
    stats = conv.convert_year([real], "mc", 2026, tmp_path / "mc.parquet", budget)
    assert stats.rows_out == 24
    first = rows(tmp_path / "mc.parquet")[0]
    # 01/01/2026 01:00:00 (CST, interval end), GMT end 07:00, SMP 28.182
    assert first["interval_start_utc"] == utc(2026, 1, 1, 6) and first["lmp_usd_per_mwh"] == 28.182
    con = duckdb.connect()
    assert con.execute(
        "SELECT min(operating_date), max(operating_date) FROM read_parquet($p)", {"p": str(tmp_path / "mc.parquet")}
    ).fetchone() == (date(2026, 1, 1), date(2026, 1, 1))


def test_prepared_copies_go_to_the_spill_folder_and_are_removed(tmp_path, budget, monkeypatch):
    # /tmp may be RAM-backed: a prepare step must write under the budget's spill folder.
    from dataclasses import replace

    from iso_energy.isos import miso

    seen: list[Path] = []

    def recording_prepare(raw: Path, clean: Path) -> int:
        seen.append(clean)
        return miso.prepare(raw, clean)

    fmt = ISOS["miso"].datasets["lmp_da"]
    monkeypatch.setitem(ISOS["miso"].datasets, "lmp_da", replace(fmt, prepare=recording_prepare))
    raw_file(tmp_path, "miso", "lmp_da", "20240701_da_expost_lmp.csv", MISO_DA)
    convert_partition(ISOS["miso"], "lmp_da", 2024, tmp_path, budget)
    assert len(seen) == 1  # read once: the conversion also fills the file index
    spill = Path(budget.spill_dir)
    assert all(spill in p.parents for p in seen), seen
    assert not any(p.exists() or p.parent.exists() for p in seen)
