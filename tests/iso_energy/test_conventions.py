"""One test per row of the interval-convention table in docs/iso_energy.md: each operator and
dataset's last interval of 2024 (31 December, local) in the operator's real layout, converted.

Every case is a tiny inline file around the new year. The last interval of 31 December must
start and end at the right UTC instants (the table's start/end rule and interval length), be
in operating day 2024-12-31 and so in the 2024 partition, and the first interval of 2025 must
start where it ends, in the 2025 partition. The NYISO real-time cases also cover the daily file
stamped 00:05 .. 24:00 and its 15-minute RTC rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from iso_energy.convert import convert_partition
from iso_energy.isos import ISOS
from iso_energy.isos.schema import RawFileError
from iso_energy.sample.nyiso import write_realtime_day
from memsafe.budget import Budget


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    iso: str
    dataset: str
    files: dict[str, str]  # raw file name -> content
    last_2024: tuple[datetime, datetime]  # (start, end) UTC of 31 December's last interval
    location_type: str | None = None  # expected for LMP datasets
    price_type: str = "LMP"


PJM_HEAD = (
    "datetime_beginning_utc,datetime_beginning_ept,pnode_id,pnode_name,voltage,equipment,type,zone,"
    "system_energy_price_{s},total_lmp_{s},congestion_price_{s},marginal_loss_price_{s},row_is_current,"
    "version_nbr\r\n"
)
PJM_ROWS = (
    "1/1/2025 4:00:00 AM,12/31/2024 11:00:00 PM,51288,WESTERN HUB,,,HUB,,30,31,0.5,0.5,True,1\r\n"
    "1/1/2025 5:00:00 AM,1/1/2025 12:00:00 AM,51288,WESTERN HUB,,,HUB,,30,32,1.5,0.5,True,1\r\n"
)
PJM_AS = (
    "datetime_beginning_utc,datetime_beginning_ept,ancillary_service,unit,value,row_is_current,version_nbr\n"
    "1/1/2025 4:00:00 AM,12/31/2024 11:00:00 PM,PJM RTO Synchronized Reserve,Price,3.5,True,1\n"
    "1/1/2025 5:00:00 AM,1/1/2025 12:00:00 AM,PJM RTO Synchronized Reserve,Price,2.5,True,1\n"
)
# The pycaiso survivor: no LMP_TYPE, total LMP rows only.
CAISO_DA = (
    "INTERVALSTARTTIME_GMT,INTERVALENDTIME_GMT,OPR_DT,OPR_HR,NODE_ID,MW,GROUP\n"
    "2025-01-01T07:00:00-00:00,2025-01-01T08:00:00-00:00,2024-12-31,24,TH_NP15_GEN-APND,45.1,1\n"
    "2025-01-01T08:00:00-00:00,2025-01-01T09:00:00-00:00,2025-01-01,1,TH_NP15_GEN-APND,44.2,1\n"
)
CAISO_FULL = (
    "INTERVALSTARTTIME_GMT,INTERVALENDTIME_GMT,OPR_DT,OPR_HR,OPR_INTERVAL,NODE_ID_XML,NODE_ID,NODE,"
    "MARKET_RUN_ID,LMP_TYPE,XML_DATA_ITEM,PNODE_RESMRID,GRP_TYPE,POS,MW,GROUP\n"
)
CAISO_RT = CAISO_FULL + "".join(
    f"{s},{e},{d},{h},{i},AGNEW_1_N003,AGNEW_1_N003,AGNEW_1_N003,RTM,{t},{item},AGNEW_1_N003,ALL,0,{mw},1\n"
    for s, e, d, h, i in (
        ("2025-01-01T07:55:00-00:00", "2025-01-01T08:00:00-00:00", "2024-12-31", 24, 12),
        ("2025-01-01T08:00:00-00:00", "2025-01-01T08:05:00-00:00", "2025-01-01", 1, 1),
    )
    for t, item, mw in (
        ("LMP", "LMP_PRC", 40.5),
        ("MCE", "LMP_ENE_PRC", 39),
        ("MCC", "LMP_CONG_PRC", 1),
        ("MCL", "LMP_LOSS_PRC", 0.5),
    )
)
CAISO_AS = (
    "INTERVALSTARTTIME_GMT,INTERVALENDTIME_GMT,OPR_DT,OPR_HR,OPR_INTERVAL,ANC_REGION,MARKET_RUN_ID,"
    "ANC_TYPE,XML_DATA_ITEM,MW,GROUP\n"
    "2025-01-01T07:00:00-00:00,2025-01-01T08:00:00-00:00,2024-12-31,24,0,AS_CAISO_EXP,DAM,RU,RU_CLR_PRC,6,1\n"
    "2025-01-01T08:00:00-00:00,2025-01-01T09:00:00-00:00,2025-01-01,1,0,AS_CAISO_EXP,DAM,RU,RU_CLR_PRC,5,1\n"
)
ERCOT_DA = (
    "DeliveryDate,HourEnding,SettlementPoint,SettlementPointPrice,DSTFlag\n"
    "12/31/2024,24:00,HB_NORTH, 25.1,N\n01/01/2025,01:00,HB_NORTH, 24.3,N\n"
)
ERCOT_RT = (
    "DeliveryDate,DeliveryHour,DeliveryInterval,SettlementPointName,SettlementPointType,"
    "SettlementPointPrice,DSTFlag\n"
    "12/31/2024,24,4,LZ_HOUSTON,LZ, 22.5,N\n01/01/2025,1,1,LZ_HOUSTON,LZ, 21.5,N\n"
)
ERCOT_AS = (
    "DeliveryDate,HourEnding,AncillaryType,MCPC,DSTFlag\n12/31/2024,24:00,REGUP,4.5,N\n01/01/2025,01:00,REGUP,4.25,N\n"
)
HE = ",".join(f"HE {h}" for h in range(1, 25))


def miso(day: str) -> str:
    return (
        f'Day Ahead Market ExPost LMPs\n{day}\n,,,,,,\n"All Hours-Ending are Eastern Standard Time (EST)"\n'
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


NYISO_HEAD = (
    '\n"Time Stamp","Name","PTID","LBMP ($/MWHr)","Marginal Cost Losses ($/MWHr)","Marginal Cost Congestion ($/MWHr)"\n'
)
NYISO_DA = NYISO_HEAD + (
    '"12/31/2024 23:00:00","N.Y.C.",61761,40.00,1.00,-5.00\n"01/01/2025 00:00:00","N.Y.C.",61761,41.00,1.00,-5.00'
)
ISONE_HEAD = (
    '"C","Real-Time Energy Market Hourly LMP Report"\n'
    '"H","Date","Hour Ending","Location ID","Location Name","Location Type","Locational Marginal Price",'
    '"Energy Component","Congestion Component","Marginal Loss Component"\n'
)
ISONE = ISONE_HEAD + (
    '"D","12/31/2024","24","4000",".H.INTERNAL_HUB","HUB",30.5,30,0.25,0.25\n'
    '"D","01/01/2025","01","4000",".H.INTERNAL_HUB","HUB",31.5,31,0.25,0.25\n'
    '"T","Total # of Data Records: 2"\n'
)
SPP_HEAD = "Interval,GMTIntervalEnd, Settlement Location, Pnode, LMP, MLC, MCC, MEC\n"
SPP_DA = SPP_HEAD + (
    "01/01/2025 00:00:00,01/01/2025 06:00:00,SPPNORTH_HUB,SPPNORTH_HUB,20.5,0.5,-1,21\n"
    "01/01/2025 01:00:00,01/01/2025 07:00:00,SPPNORTH_HUB,SPPNORTH_HUB,21.5,0.5,-1,22\n"
)
SPP_RT = SPP_HEAD + (
    "01/01/2025 00:00:00,01/01/2025 06:00:00,KCPL_KCPL,KCPL_PNODE,20.5,0.5,-1,21\n"
    "01/01/2025 00:05:00,01/01/2025 06:05:00,KCPL_KCPL,KCPL_PNODE,21.5,0.5,-1,22\n"
)
# NYISO real time: two daily files, each stamped 00:05 .. 24:00 (00:00 of the next day), named
# without "zone"/"gen" (the type then follows NYISO's zone list).
NYISO_RT = {
    "nyiso_rt_20241231.csv": NYISO_HEAD
    + "\n".join(
        f'"12/31/2024 {h:02d}:{m:02d}:00","N.Y.C.",61761,40.00,1.00,-5.00'
        for h in range(24)
        for m in range(0, 60, 5)
        if (h, m) != (0, 0)
    )
    + '\n"01/01/2025 00:00:00","N.Y.C.",61761,41.00,1.00,-5.00',
    "nyiso_rt_20250101.csv": NYISO_HEAD + '"01/01/2025 00:05:00","N.Y.C.",61761,42.00,1.00,-5.00\n'
    '"01/01/2025 00:10:00","N.Y.C.",61761,42.00,1.00,-5.00',
}

CASES = {
    "pjm-lmp_da": Case(
        "pjm",
        "lmp_da",
        {"da_hrl_lmps.csv": PJM_HEAD.format(s="da") + PJM_ROWS},
        (utc(2025, 1, 1, 4), utc(2025, 1, 1, 5)),
        "HUB",
    ),
    "pjm-lmp_rt": Case(
        "pjm",
        "lmp_rt",
        {"rt_hrl_lmps.csv": PJM_HEAD.format(s="rt") + PJM_ROWS},
        (utc(2025, 1, 1, 4), utc(2025, 1, 1, 5)),
        "HUB",
    ),
    "pjm-as": Case("pjm", "as", {"da_ancillary_services.csv": PJM_AS}, (utc(2025, 1, 1, 4), utc(2025, 1, 1, 5))),
    "caiso-lmp_da": Case(
        "caiso", "lmp_da", {"PRC_LMP.csv": CAISO_DA}, (utc(2025, 1, 1, 7), utc(2025, 1, 1, 8)), "TRADING_HUB"
    ),
    "caiso-lmp_rt": Case(
        "caiso", "lmp_rt", {"PRC_INTVL_LMP.csv": CAISO_RT}, (utc(2025, 1, 1, 7, 55), utc(2025, 1, 1, 8)), "NODE"
    ),
    "caiso-as": Case("caiso", "as", {"PRC_AS.csv": CAISO_AS}, (utc(2025, 1, 1, 7), utc(2025, 1, 1, 8))),
    "ercot-lmp_da": Case(
        "ercot", "lmp_da", {"np4-190-cd.csv": ERCOT_DA}, (utc(2025, 1, 1, 5), utc(2025, 1, 1, 6)), "HU", "SPP"
    ),
    "ercot-lmp_rt": Case(
        "ercot", "lmp_rt", {"np6-905-cd.csv": ERCOT_RT}, (utc(2025, 1, 1, 5, 45), utc(2025, 1, 1, 6)), "LZ", "SPP"
    ),
    "ercot-as": Case("ercot", "as", {"np4-188-cd.csv": ERCOT_AS}, (utc(2025, 1, 1, 5), utc(2025, 1, 1, 6))),
    "miso-lmp_da": Case(
        "miso",
        "lmp_da",
        {"20241231_da_expost_lmp.csv": miso("12/31/2024"), "20250101_da_expost_lmp.csv": miso("01/01/2025")},
        (utc(2025, 1, 1, 4), utc(2025, 1, 1, 5)),
        "Hub",
    ),
    "miso-lmp_rt": Case(
        "miso",
        "lmp_rt",
        {"20241231_rt_lmp_final.csv": miso("12/31/2024"), "20250101_rt_lmp_final.csv": miso("01/01/2025")},
        (utc(2025, 1, 1, 4), utc(2025, 1, 1, 5)),
        "Hub",
    ),
    "nyiso-lmp_da": Case(
        "nyiso", "lmp_da", {"20241231damlbmp_zone.csv": NYISO_DA}, (utc(2025, 1, 1, 4), utc(2025, 1, 1, 5)), "ZONE"
    ),
    "nyiso-lmp_rt": Case("nyiso", "lmp_rt", NYISO_RT, (utc(2025, 1, 1, 4, 55), utc(2025, 1, 1, 5)), "ZONE"),
    "isone-lmp_da": Case(
        "isone", "lmp_da", {"WW_DALMP_ISO_20241231.csv": ISONE}, (utc(2025, 1, 1, 4), utc(2025, 1, 1, 5)), "HUB"
    ),
    "isone-lmp_rt": Case(
        "isone", "lmp_rt", {"WW_RTLMP_ISO_20241231.csv": ISONE}, (utc(2025, 1, 1, 4), utc(2025, 1, 1, 5)), "HUB"
    ),
    "spp-lmp_da": Case(
        "spp", "lmp_da", {"DA-LMP-SL-202501010100.csv": SPP_DA}, (utc(2025, 1, 1, 5), utc(2025, 1, 1, 6)), "HUB"
    ),
    "spp-lmp_rt": Case(
        "spp",
        "lmp_rt",
        {"RTBM-LMP-SL-202501010005.csv": SPP_RT},
        (utc(2025, 1, 1, 5, 55), utc(2025, 1, 1, 6)),
        "SETTLEMENT_LOCATION",
    ),
}


@pytest.fixture
def budget(tmp_path: Path) -> Budget:
    return Budget(memory_mb=512, threads=1, spill_dir=str(tmp_path / "spill"))


def write_raw(root: Path, iso: str, dataset: str, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / "raw" / iso / dataset / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def by_start(path: Path) -> list[dict]:
    return pq.read_table(path).sort_by("interval_start_utc").to_pylist()


def test_every_operator_dataset_has_a_convention_case():
    assert set(CASES) == {f"{iso}-{ds}" for iso, conv in ISOS.items() for ds in conv.datasets}


@pytest.mark.parametrize("name", list(CASES))
def test_last_interval_of_the_year_stays_in_its_year(tmp_path: Path, budget: Budget, name: str):
    case = CASES[name]
    write_raw(tmp_path, case.iso, case.dataset, case.files)
    rows24 = by_start(convert_partition(ISOS[case.iso], case.dataset, 2024, tmp_path, budget).output)
    rows25 = by_start(convert_partition(ISOS[case.iso], case.dataset, 2025, tmp_path, budget).output)
    last = rows24[-1]
    assert (last["interval_start_utc"], last["interval_end_utc"]) == case.last_2024
    assert last["operating_date"] == date(2024, 12, 31)
    assert {r["operating_date"] for r in rows24} == {date(2024, 12, 31)}
    # The new year starts where the old one ends: no gap, no overlap, no row in both partitions.
    first = rows25[0]
    assert first["interval_start_utc"] == case.last_2024[1] and first["operating_date"] == date(2025, 1, 1)
    if case.dataset.startswith("lmp"):
        assert {(r["location_type"], r["price_type"]) for r in rows24 + rows25} == {
            (case.location_type, case.price_type)
        }


def test_nyiso_real_time_daily_file_is_one_operating_day(tmp_path: Path, budget: Budget):
    # 20241231's file is stamped 00:05 .. 01/01/2025 00:00: 288 five-minute intervals of 31 December.
    write_raw(tmp_path, "nyiso", "lmp_rt", {k: v for k, v in NYISO_RT.items() if "2024" in k})
    out = by_start(convert_partition(ISOS["nyiso"], "lmp_rt", 2024, tmp_path, budget).output)
    assert len(out) == 288 and {r["operating_date"] for r in out} == {date(2024, 12, 31)}
    assert (out[0]["interval_start_utc"], out[0]["interval_end_utc"]) == (utc(2024, 12, 31, 5), utc(2024, 12, 31, 5, 5))
    assert all(b["interval_start_utc"] == a["interval_end_utc"] for a, b in zip(out, out[1:], strict=False))
    assert out[-1]["lmp_usd_per_mwh"] == 41  # the 00:00 row: 23:55-24:00 of 31 December


@pytest.mark.parametrize(
    ("last_rtd", "rtc_first_start"),
    [
        ("10:30", utc(2024, 7, 1, 14, 30)),  # RTD ends 10:30 EDT; RTC 10:45 covers 10:30-10:45
        ("10:40", utc(2024, 7, 1, 14, 45)),  # 10:45 follows 10:40 by 5 min: read as RTD; RTC from 11:00
    ],
    ids=["rtc-after-quarter-hour", "ambiguous-5-min-step-is-rtd"],
)
def test_nyiso_real_time_rtd_then_rtc_rows(tmp_path: Path, budget: Budget, last_rtd, rtc_first_start):
    path = tmp_path / "raw" / "nyiso" / "lmp_rt" / "20240701realtime_zone.csv"
    write_realtime_day(path, date(2024, 7, 1), last_rtd, n_nodes=2)
    out = [
        r
        for r in by_start(convert_partition(ISOS["nyiso"], "lmp_rt", 2024, tmp_path, budget).output)
        if r["location_name"] == "CAPITL"
    ]
    lengths = [(r["interval_end_utc"] - r["interval_start_utc"]).seconds // 60 for r in out]
    rtc = next(i for i, n in enumerate(lengths) if n == 15)
    assert set(lengths[:rtc]) == {5} and set(lengths[rtc:]) == {15}  # RTD rows, then RTC rows
    assert out[rtc]["interval_start_utc"] == rtc_first_start
    # Each RTC row: its own 15 minutes, contiguous to the end of the day (00:00 EDT = 04:00 UTC).
    assert all(b["interval_start_utc"] == a["interval_end_utc"] for a, b in zip(out, out[1:], strict=False))
    assert out[0]["interval_start_utc"] == utc(2024, 7, 1, 4) and out[-1]["interval_end_utc"] == utc(2024, 7, 2, 4)
    assert {r["operating_date"] for r in out} == {date(2024, 7, 1)} and {r["location_type"] for r in out} == {"ZONE"}


def test_nyiso_rtc_row_starting_with_an_rtd_row_loses_the_key(tmp_path: Path, budget: Budget):
    # RTD ends 10:35; the first RTC stamp 10:45 (10 minutes later) is 10:30-10:45 and starts with
    # the RTD interval 10:30-10:35: the dispatch (RTD) price keeps the key.
    path = tmp_path / "raw" / "nyiso" / "lmp_rt" / "20240701realtime_zone.csv"
    write_realtime_day(path, date(2024, 7, 1), "10:35", n_nodes=1)
    out = by_start(convert_partition(ISOS["nyiso"], "lmp_rt", 2024, tmp_path, budget).output)
    at = [r for r in out if r["interval_start_utc"] == utc(2024, 7, 1, 14, 30)]
    assert len(at) == 1 and at[0]["interval_end_utc"] == utc(2024, 7, 1, 14, 35)
    assert next(r for r in out if r["interval_end_utc"] == utc(2024, 7, 1, 15))["interval_start_utc"] == utc(
        2024, 7, 1, 14, 45
    )


def test_nyiso_real_time_rows_out_of_time_order_are_an_error(tmp_path: Path, budget: Budget):
    text = NYISO_HEAD + (
        '"07/01/2024 00:10:00","N.Y.C.",61761,40.00,1.00,-5.00\n"07/01/2024 00:05:00","N.Y.C.",61761,40.00,1.00,-5.00'
    )
    write_raw(tmp_path, "nyiso", "lmp_rt", {"20240701realtime_zone.csv": text})
    with pytest.raises(RawFileError, match="out of time order") as err:
        convert_partition(ISOS["nyiso"], "lmp_rt", 2024, tmp_path, budget)
    assert err.value.line == 4 and err.value.path.endswith("20240701realtime_zone.csv")


def test_nyiso_fall_back_day_real_time_end_stamps(tmp_path: Path, budget: Budget):
    # End stamps on 3 November 2024: 01:55 EDT, then 01:00 again (= 01:00 EST, the end of
    # 01:55-02:00 EDT), ..., 02:00 EST: 25 hours, contiguous in UTC.
    from iso_energy.sample import nyiso as sample

    sample.write(tmp_path / "raw", "lmp_rt", date(2024, 11, 3), date(2024, 11, 4), 1)
    out = by_start(convert_partition(ISOS["nyiso"], "lmp_rt", 2024, tmp_path, budget).output)
    assert len(out) == 25 * 12 and {r["operating_date"] for r in out} == {date(2024, 11, 3)}
    assert all(b["interval_start_utc"] == a["interval_end_utc"] for a, b in zip(out, out[1:], strict=False))
    assert (out[0]["interval_start_utc"], out[-1]["interval_end_utc"]) == (utc(2024, 11, 3, 4), utc(2024, 11, 4, 5))
