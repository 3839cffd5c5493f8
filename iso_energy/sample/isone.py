"""ISO-NE ``WW_DALMP_ISO`` / ``WW_RTLMP_ISO`` hourly LMP sample files with record-type prefixes.

Quirks written: ``"C"`` comment lines, two ``"H"`` lines (names, then types), ``"D"`` data lines,
a ``"T"`` trailer with the data line count; ``Hour Ending`` ``01``..``24`` in Eastern prevailing
time, ``03`` absent on the spring-forward day and ``02X`` for the repeated fall-back hour.
Monthly files (ISO-NE's daily reports, joined under one trailer).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from iso_energy.sample.common import calendar, grid, months, prices, take
from iso_energy.sample.framing import csv_bytes, write_framed

TZ = "America/New_York"
NAMED = [
    ("4000", ".H.INTERNAL_HUB", "HUB"),
    ("4001", ".Z.MAINE", "LOAD ZONE"),
    ("4004", ".Z.CONNECTICUT", "LOAD ZONE"),
    ("4008", ".Z.NEMASSBOST", "LOAD ZONE"),
    ("4011", ".I.ROSETON 345 1", "EXT. NODE"),
]
REPORTS = {
    "lmp_da": ("WW_DALMP_ISO", "Day-Ahead Energy Market Hourly LMP Report"),
    "lmp_rt": ("WW_RTLMP_ISO", "Real-Time Energy Market Hourly LMP Report"),
}
HEADER = (
    '"H","Date","Hour Ending","Location ID","Location Name","Location Type",'
    '"Locational Marginal Price","Energy Component","Congestion Component","Marginal Loss Component"\n'
    '"H","","","","","","Number","Number","Number","Number"\n'
)


def locations(n: int) -> list[tuple[str, str, str]]:
    return [NAMED[i] if i < len(NAMED) else (str(300 + i), f"UN.NODE{i:04d} 13.8", "NETWORK NODE") for i in range(n)]


def write(raw: Path, dataset: str, start: date, end: date, n_nodes: int, seed: int = 0) -> list[Path]:
    prefix, title = REPORTS[dataset]
    cal = calendar(start, end, TZ, 60)
    dates = [d.strftime("%m/%d/%Y") for d in cal.operating_date.astype(object)]
    hour = [f"{h + 1:02d}{'X' if r else ''}" for h, r in zip(cal.wall.hour, cal.repeated, strict=True)]
    locs = locations(n_nodes)
    p = prices(len(cal), n_nodes, seed + (10 if dataset == "lmp_rt" else 11))
    files = []
    for month, idx in months(cal):
        lo, hi = idx[0], idx[-1] + 1
        t_idx, n_idx = grid(hi - lo, n_nodes)
        t_abs = pa.array(np.asarray(t_idx) + lo)
        rows = slice(lo * n_nodes, hi * n_nodes)
        n = (hi - lo) * n_nodes
        table = pa.table(
            {
                "type": ["D"] * n,
                "Date": take(dates, t_abs),
                "Hour Ending": take(hour, t_abs),
                "Location ID": take([i for i, _, _ in locs], n_idx),
                "Location Name": take([m for _, m, _ in locs], n_idx),
                "Location Type": take([t for _, _, t in locs], n_idx),
                "Locational Marginal Price": p["lmp"][rows],
                "Energy Component": p["energy"][rows],
                "Congestion Component": p["congestion"][rows],
                "Marginal Loss Component": p["loss"][rows],
            }
        )
        before = f'"C","{title}"\n"C","Report for: {month}"\n' + HEADER
        after = f'"T","Total # of Data Records: {n}"\n'
        files.append(
            write_framed(
                raw / "isone" / dataset / f"{prefix}_{month.replace('-', '')}.csv",
                csv_bytes(table, header=False, quote_strings=True),
                before=before,
                after=after,
            )
        )
    return files
