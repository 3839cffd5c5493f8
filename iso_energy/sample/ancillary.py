"""Ancillary-service price sample files (the ``as`` dataset) for PJM, CAISO and ERCOT.

Native layouts as the operator modules (:mod:`iso_energy.isos.pjm`, ``caiso``, ``ercot``)
document them, quirks included: PJM's 12-hour clock, CRLF, DA and RT feeds side by side (market
told by the file name), a superseded revision and a non-price ``Ratio`` row; CAISO's long OASIS
rows with DAM (hourly), RTM (15-minute) and HASP runs and GMT ``-00:00`` times; ERCOT's
``HourEnding`` ``24:00`` and ``DSTFlag``. ``n_regions`` is ignored where the operator has one region.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from iso_energy.sample.common import calendar, grid, months, take, write_csv
from iso_energy.sample.pjm import _clock

PJM_SERVICES = {
    "da_ancillary_services": [
        "PJM RTO Synchronized Reserve",
        "PJM RTO Non-Synchronized Reserve",
        "PJM RTO Thirty Minutes Reserve",
        "Mid-Atlantic/Dominion Synchronized Reserve",
    ],
    "ancillary_services": [
        "RTO Regulation Capability",
        "RTO Regulation Performance",
        "RTO Synchronized Reserve",
        "RTO Non-Synchronized Reserve",
        "RTO Mileage Ratio",
    ],
}
CAISO_REGIONS = ["AS_CAISO_EXP", "AS_SP26_EXP", "AS_NP26_EXP"]
CAISO_TYPES = ["RU", "RD", "SR", "NR"]
ERCOT_TYPES = ["REGDN", "REGUP", "RRS", "NSPIN", "ECRS"]


def _price(n: int, seed: int) -> np.ndarray:
    return np.round(np.random.default_rng(seed).gamma(2.0, 4.0, n), 2)


def write_pjm(raw: Path, start: date, end: date, seed: int = 0) -> list[Path]:
    cal = calendar(start, end, "America/New_York", 60)
    utc_s, ept_s = _clock(cal.utc.tz_localize(None)), _clock(cal.wall)
    files = []
    for k, (feed, services) in enumerate(PJM_SERVICES.items()):
        for month, idx in months(cal):
            t_idx, s_idx = grid(len(idx), len(services))
            t_abs = pa.array(np.asarray(t_idx) + idx[0])
            n = len(t_idx)
            names = take(services, s_idx)
            table = pa.table(
                {
                    "datetime_beginning_utc": take(utc_s, t_abs),
                    "datetime_beginning_ept": take(ept_s, t_abs),
                    "ancillary_service": names,
                    "unit": take(["Ratio" if s.endswith("Ratio") else "Price" for s in services], s_idx),
                    "value": _price(n, seed + 20 + k),
                    "row_is_current": ["True"] * n,
                    "version_nbr": np.ones(n, dtype=np.int64),
                }
            )
            # A superseded revision of the first row, as Data Miner keeps them.
            stale = (
                table.slice(0, 1)
                .set_column(5, "row_is_current", pa.array(["False"]))
                .set_column(4, "value", pa.array([999.0]))
            )
            files.append(
                write_csv(pa.concat_tables([stale, table]), raw / "pjm" / "as" / f"{feed}_{month}.csv", eol="\r\n")
            )
    return files


def write_caiso(raw: Path, start: date, end: date, n_regions: int, seed: int = 0) -> list[Path]:
    regions = CAISO_REGIONS[: max(1, min(n_regions, len(CAISO_REGIONS)))]
    files = []
    for run, minutes in (("DAM", 60), ("RTM", 15), ("HASP", 15)):
        cal = calendar(start, end, "America/Los_Angeles", minutes)
        gmt = [t.strftime("%Y-%m-%dT%H:%M:%S-00:00") for t in cal.utc.tz_localize(None)]
        gmt_end = [
            t.strftime("%Y-%m-%dT%H:%M:%S-00:00") for t in (cal.utc + np.timedelta64(minutes, "m")).tz_localize(None)
        ]
        opr_dt = [str(d) for d in cal.operating_date]
        series = [(r, t) for r in regions for t in CAISO_TYPES]
        for month, idx in months(cal):
            t_idx, s_idx = grid(len(idx), len(series))
            t_abs = pa.array(np.asarray(t_idx) + idx[0])
            n = len(t_idx)
            table = pa.table(
                {
                    "INTERVALSTARTTIME_GMT": take(gmt, t_abs),
                    "INTERVALENDTIME_GMT": take(gmt_end, t_abs),
                    "OPR_DT": take(opr_dt, t_abs),
                    "OPR_HR": np.asarray(cal.wall.hour)[np.asarray(t_abs)] + 1,
                    "OPR_INTERVAL": np.asarray(cal.wall.minute)[np.asarray(t_abs)] // minutes + 1,
                    "ANC_REGION": take([r for r, _ in series], s_idx),
                    "MARKET_RUN_ID": [run] * n,
                    "ANC_TYPE": take([t for _, t in series], s_idx),
                    "XML_DATA_ITEM": ["SP_CLR_PRC"] * n,
                    "MW": _price(n, seed + 30 + len(run)),
                    "GROUP": np.ones(n, dtype=np.int64),
                }
            )
            files.append(write_csv(table, raw / "caiso" / "as" / f"PRC_AS_{run}_{month}.csv"))
    return files


def write_ercot(raw: Path, start: date, end: date, seed: int = 0) -> list[Path]:
    cal = calendar(start, end, "America/Chicago", 60)
    delivery = [d.strftime("%m/%d/%Y") for d in cal.operating_date.astype(object)]
    hour_ending = [f"{h + 1:02d}:00" for h in cal.wall.hour]
    flag = ["Y" if r else "N" for r in cal.repeated]
    files = []
    for month, idx in months(cal):
        t_idx, s_idx = grid(len(idx), len(ERCOT_TYPES))
        t_abs = pa.array(np.asarray(t_idx) + idx[0])
        table = pa.table(
            {
                "DeliveryDate": take(delivery, t_abs),
                "HourEnding": take(hour_ending, t_abs),
                "AncillaryType": take(ERCOT_TYPES, s_idx),
                "MCPC": _price(len(t_idx), seed + 40),
                "DSTFlag": take(flag, t_abs),
            }
        )
        files.append(write_csv(table, raw / "ercot" / "as" / f"np4-188-cd_dam_as_mcpc_{month}.csv"))
    return files


def write(iso: str, raw: Path, start: date, end: date, n_regions: int, seed: int = 0) -> list[Path]:
    """Write ``iso``'s AS sample files under ``raw/<iso>/as/``."""
    if iso == "pjm":
        return write_pjm(raw, start, end, seed)
    if iso == "caiso":
        return write_caiso(raw, start, end, n_regions, seed)
    if iso == "ercot":
        return write_ercot(raw, start, end, seed)
    raise KeyError(f"no ancillary-service sample writer for {iso!r}")


AS_ISOS = ("pjm", "caiso", "ercot")
