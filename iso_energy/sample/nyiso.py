"""NYISO ``damlbmp`` (hourly) / ``realtime`` (5-minute) LBMP sample files, zonal and generator.

Quirks written, as in the real MIS CSVs: a blank first line, a quoted header with ``$``, ``/``
and parentheses, quoted time stamps and names, no newline after the last line; time stamps in
Eastern prevailing time marking the interval **beginning** (day-ahead) or **end** (real time:
``00:05`` .. ``00:00`` of the next day), ``01:xx`` twice on the fall-back day (only row order
tells the hours apart); congestion published with NYISO's reversed sign
(``LBMP = energy + losses - congestion``). Monthly files (NYISO's monthly archives of daily
files, joined). :func:`write_realtime_day` writes one daily real-time file as it stands while
the day is under way: 5-minute RTD rows, then 15-minute RTC rows to the end of the day.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from iso_energy.sample.common import calendar, grid, months, prices, take
from iso_energy.sample.framing import csv_bytes, write_framed

TZ = "America/New_York"
ZONES = [
    ("CAPITL", "61757"),
    ("CENTRL", "61754"),
    ("DUNWOD", "61760"),
    ("GENESE", "61753"),
    ("H Q", "61844"),
    ("HUD VL", "61758"),
    ("LONGIL", "61762"),
    ("MHK VL", "61756"),
    ("MILLWD", "61759"),
    ("N.Y.C.", "61761"),
    ("NORTH", "61755"),
    ("WEST", "61752"),
]
REPORTS = {"lmp_da": ("damlbmp", 60), "lmp_rt": ("realtime", 5)}


def locations(n: int) -> dict[str, list[tuple[str, str]]]:
    """Zones first, then generators (their own files, as NYISO publishes them)."""
    zones = ZONES[:n]
    gens = [(f"GEN UNIT {i:04d}", str(23500 + i)) for i in range(max(0, n - len(ZONES)))]
    return {"zone": zones, "gen": gens}


def write(raw: Path, dataset: str, start: date, end: date, n_nodes: int, seed: int = 0) -> list[Path]:
    report, minutes = REPORTS[dataset]
    cal = calendar(start, end, TZ, minutes)
    wall = cal.wall
    if dataset == "lmp_rt":  # real time: stamped with the interval end
        wall = (cal.utc + pd.Timedelta(minutes=minutes)).tz_convert(TZ).tz_localize(None)
    stamps = [t.strftime("%m/%d/%Y %H:%M:%S") for t in wall]
    files = []
    for kind, locs in locations(n_nodes).items():
        if not locs:
            continue
        n = len(locs)
        p = prices(len(cal), n, seed + (8 if dataset == "lmp_rt" else 9) + (100 if kind == "gen" else 0))
        for month, idx in months(cal):
            lo, hi = idx[0], idx[-1] + 1
            t_idx, n_idx = grid(hi - lo, n)
            rows = slice(lo * n, hi * n)
            table = pa.table(
                {
                    "Time Stamp": take(stamps, pa.array(np.asarray(t_idx) + lo)),
                    "Name": take([name for name, _ in locs], n_idx),
                    "PTID": pa.array(np.asarray([int(ptid) for _, ptid in locs])[np.asarray(n_idx)]),
                    "LBMP ($/MWHr)": p["lmp"][rows],
                    "Marginal Cost Losses ($/MWHr)": p["loss"][rows],
                    "Marginal Cost Congestion ($/MWHr)": np.round(-p["congestion"][rows], 6) + 0.0,
                }
            )
            name = f"{month.replace('-', '')}01{report}_{kind}.csv"
            files.append(
                write_framed(
                    raw / "nyiso" / dataset / name,
                    csv_bytes(table, quote_strings=True),
                    before="\n",
                    final_newline=False,
                )
            )
    return files


def write_realtime_day(path: Path, day: date, last_rtd_end: str, n_nodes: int = 2, seed: int = 0) -> Path:
    """One ``realtime_zone`` daily file while ``day`` is under way: RTD rows stamped every 5
    minutes from ``00:05`` to ``last_rtd_end`` (``"HH:MM"``), then RTC rows stamped on every
    quarter hour after it up to ``24:00`` (``00:00`` of the next day), as NYISO appends them.
    """
    midnight = pd.Timestamp(day).tz_localize(TZ)
    next_midnight = (pd.Timestamp(day) + pd.Timedelta(days=1)).tz_localize(TZ)
    hh, mm = (int(x) for x in last_rtd_end.split(":"))
    last = pd.Timestamp(day).replace(hour=hh, minute=mm).tz_localize(TZ)
    rtd = pd.date_range(midnight + pd.Timedelta(minutes=5), last, freq="5min")
    rtc = pd.date_range(
        last.ceil("15min") if last.minute % 15 else last + pd.Timedelta(minutes=15), next_midnight, freq="15min"
    )
    ends = rtd.append(rtc).tz_localize(None)  # the local wall clock, as NYISO stamps it
    locs = ZONES[:n_nodes]
    p = prices(len(ends), len(locs), seed)
    t_idx, n_idx = grid(len(ends), len(locs))
    table = pa.table(
        {
            "Time Stamp": take([t.strftime("%m/%d/%Y %H:%M:%S") for t in ends], t_idx),
            "Name": take([name for name, _ in locs], n_idx),
            "PTID": pa.array(np.asarray([int(ptid) for _, ptid in locs])[np.asarray(n_idx)]),
            "LBMP ($/MWHr)": p["lmp"],
            "Marginal Cost Losses ($/MWHr)": p["loss"],
            "Marginal Cost Congestion ($/MWHr)": np.round(-p["congestion"], 6) + 0.0,
        }
    )
    return write_framed(path, csv_bytes(table, quote_strings=True), before="\n", final_newline=False)
