"""MISO ``YYYYMMDD_da_expost_lmp.csv`` / ``YYYYMMDD_rt_lmp_final.csv`` sample files.

One file per market day, as MISO publishes them: a preamble (report title, the market day,
a separator line of commas, the EST note), then ``Node,Type,Value,HE 1..HE 24`` with three
lines per node (LMP, MCC, MLC). Hours are EST all year, so every day has 24 hour columns.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from iso_energy.sample.common import calendar, prices
from iso_energy.sample.framing import csv_bytes, write_framed

TZ = "Etc/GMT+5"
NAMED = [
    ("AECI", "Interface"),
    ("ARKANSAS.HUB", "Hub"),
    ("ILLINOIS.HUB", "Hub"),
    ("INDIANA.HUB", "Hub"),
    ("MICHIGAN.HUB", "Hub"),
    ("MINN.HUB", "Hub"),
    ("AMIL.BGS6", "Loadzone"),
]
TITLES = {
    "lmp_da": ("Day Ahead Market ExPost LMPs", "da_expost_lmp"),
    "lmp_rt": ("Real-Time Market LMPs (Final)", "rt_lmp_final"),
}
VALUES = (("LMP", "lmp"), ("MCC", "congestion"), ("MLC", "loss"))


def nodes(n: int) -> list[tuple[str, str]]:
    return [NAMED[i] if i < len(NAMED) else (f"GEN{i:05d}.UNIT1", "Gennode") for i in range(n)]


def write(raw: Path, dataset: str, start: date, end: date, n_nodes: int, seed: int = 0) -> list[Path]:
    title, report = TITLES[dataset]
    cal = calendar(start, end, TZ, 60)
    days = len(cal) // 24
    p = prices(len(cal), n_nodes, seed + (6 if dataset == "lmp_rt" else 7))
    # (day, hour, node) -> per node and component, a row of 24 hours
    cube = {key: p[key].reshape(days, 24, n_nodes) for _, key in VALUES}
    pts = nodes(n_nodes)
    names = np.repeat([n for n, _ in pts], len(VALUES))
    types = np.repeat([t for _, t in pts], len(VALUES))
    codes = np.tile([c for c, _ in VALUES], n_nodes)
    files = []
    for d in range(days):
        day = cal.operating_date[d * 24].astype(object)
        # rows: node-major, then component; columns: HE 1..24
        block = np.stack([cube[key][d].T for _, key in VALUES], axis=1).reshape(n_nodes * len(VALUES), 24)
        table = pa.table(
            {"Node": names, "Type": types, "Value": codes, **{f"HE {h + 1}": block[:, h] for h in range(24)}}
        )
        preamble = f'{title}\n{day:%m/%d/%Y}\n{"," * 26}\n"All Hours-Ending are Eastern Standard Time (EST)"\n'
        files.append(
            write_framed(raw / "miso" / dataset / f"{day:%Y%m%d}_{report}.csv", csv_bytes(table), before=preamble)
        )
    return files
