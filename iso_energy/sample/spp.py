"""SPP ``DA-LMP-SL`` (hourly) / ``RTBM-LMP-SL`` (5-minute) sample files.

Quirks written: header names with leading spaces (as in SPP's real files), ``Interval`` as the
interval end in Central prevailing time (repeated on the fall-back day) beside the unambiguous
``GMTIntervalEnd`` in UTC. Monthly files (SPP's daily / 5-minute files, joined).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from iso_energy.sample.common import calendar, grid, months, prices, take
from iso_energy.sample.framing import csv_bytes, write_framed

TZ = "America/Chicago"
NAMED = [
    ("AECI", "AECI_AECI"),
    ("SPPNORTH_HUB", "SPPNORTH_HUB"),
    ("SPPSOUTH_HUB", "SPPSOUTH_HUB"),
    ("OKGE.OKGE", "OKGE_OKGE_LA"),
    ("KCPL_KCPL", "KCPL.KCPL_LA"),
]
REPORTS = {"lmp_da": ("DA-LMP-SL", 60), "lmp_rt": ("RTBM-LMP-SL", 5)}
# The leading spaces are the quirk: readers must match names after stripping them.
HEADER = "Interval,GMTIntervalEnd, Settlement Location, Pnode, LMP, MLC, MCC, MEC\n"


def locations(n: int) -> list[tuple[str, str]]:
    return [NAMED[i] if i < len(NAMED) else (f"NODE{i:04d}_RA", f"NODE{i:04d}_UNIT1") for i in range(n)]


def write(raw: Path, dataset: str, start: date, end: date, n_nodes: int, seed: int = 0) -> list[Path]:
    report, minutes = REPORTS[dataset]
    cal = calendar(start, end, TZ, minutes)
    step = timedelta(minutes=minutes)
    local_end = [t.strftime("%m/%d/%Y %H:%M:%S") for t in (cal.utc + step).tz_convert(TZ).tz_localize(None)]
    gmt_end = [t.strftime("%m/%d/%Y %H:%M:%S") for t in (cal.utc + step).tz_localize(None)]
    locs = locations(n_nodes)
    p = prices(len(cal), n_nodes, seed + (12 if dataset == "lmp_rt" else 13))
    files = []
    for month, idx in months(cal):
        lo, hi = idx[0], idx[-1] + 1
        t_idx, n_idx = grid(hi - lo, n_nodes)
        t_abs = pa.array(np.asarray(t_idx) + lo)
        rows = slice(lo * n_nodes, hi * n_nodes)
        table = pa.table(
            {
                "Interval": take(local_end, t_abs),
                "GMTIntervalEnd": take(gmt_end, t_abs),
                "Settlement Location": take([s for s, _ in locs], n_idx),
                "Pnode": take([q for _, q in locs], n_idx),
                "LMP": p["lmp"][rows],
                "MLC": p["loss"][rows],
                "MCC": p["congestion"][rows],
                "MEC": p["energy"][rows],
            }
        )
        name = f"{report}-{month.replace('-', '')}.csv"
        files.append(write_framed(raw / "spp" / dataset / name, csv_bytes(table, header=False), before=HEADER))
    return files
