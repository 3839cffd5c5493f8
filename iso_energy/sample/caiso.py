"""CAISO OASIS ``PRC_LMP`` (DAM, hourly) / ``PRC_INTVL_LMP`` (RTM, 5-minute) sample files.

Long format with all 16 OASIS columns, one block per price component (LMP, MCE, MCC, MCL) as
OASIS orders them; ISO 8601 GMT times with the literal ``-00:00`` offset; ``OPR_HR`` runs to 23
or 25 on DST days.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from iso_energy.sample.common import calendar, grid, months, prices, take, write_csv

TZ = "America/Los_Angeles"
COMPONENTS = [
    ("LMP", "LMP_PRC", "lmp"),
    ("MCE", "LMP_ENE_PRC", "energy"),
    ("MCC", "LMP_CONG_PRC", "congestion"),
    ("MCL", "LMP_LOSS_PRC", "loss"),
]


def write(raw: Path, dataset: str, start: date, end: date, n_nodes: int, seed: int = 0) -> list[Path]:
    rt = dataset == "lmp_rt"
    minutes = 5 if rt else 60
    cal = calendar(start, end, TZ, minutes)
    iso = [t.strftime("%Y-%m-%dT%H:%M:%S-00:00") for t in cal.utc.tz_localize(None)]
    iso_end = iso[1:] + [(cal.utc[-1] + np.timedelta64(minutes, "m")).strftime("%Y-%m-%dT%H:%M:%S-00:00")]
    opr_dt = [str(d) for d in cal.operating_date]
    day_start = np.asarray(cal.utc) - np.asarray(
        cal.wall.normalize().tz_localize(TZ, ambiguous="NaT").tz_convert("UTC")
    )
    elapsed_min = (day_start / np.timedelta64(1, "m")).astype(np.int64)
    opr_hr = elapsed_min // 60 + 1
    opr_interval = (elapsed_min % 60) // 5 + 1 if rt else np.zeros(len(cal), dtype=np.int64)
    node_ids = [f"NODE{i:03d}_7_N{i:03d}" for i in range(n_nodes)]
    p = prices(len(cal), n_nodes, seed + (3 if rt else 2))
    files = []
    for month, idx in months(cal):
        lo, hi = idx[0], idx[-1] + 1
        t_idx, n_idx = grid(hi - lo, n_nodes)
        t_abs = pa.array(np.asarray(t_idx) + lo)
        n = (hi - lo) * n_nodes
        blocks = []
        for code, item, key in COMPONENTS:
            blocks.append(
                pa.table(
                    {
                        "INTERVALSTARTTIME_GMT": take(iso, t_abs),
                        "INTERVALENDTIME_GMT": take(iso_end, t_abs),
                        "OPR_DT": take(opr_dt, t_abs),
                        "OPR_HR": opr_hr[np.asarray(t_abs)],
                        "OPR_INTERVAL": opr_interval[np.asarray(t_abs)],
                        "NODE_ID_XML": take(node_ids, n_idx),
                        "NODE_ID": take(node_ids, n_idx),
                        "NODE": take(node_ids, n_idx),
                        "MARKET_RUN_ID": ["RTM" if rt else "DAM"] * n,
                        "LMP_TYPE": [code] * n,
                        "XML_DATA_ITEM": [item] * n,
                        "PNODE_RESMRID": take(node_ids, n_idx),
                        "GRP_TYPE": ["ALL_APNODES"] * n,
                        "POS": np.zeros(n, dtype=np.int64),
                        "MW": p[key][lo * n_nodes : hi * n_nodes],
                        "GROUP": np.asarray(t_idx, dtype=np.int64) // 24 + 1,
                    }
                )
            )
        report = "PRC_INTVL_LMP" if rt else "PRC_LMP"
        files.append(write_csv(pa.concat_tables(blocks), raw / "caiso" / dataset / f"{report}_{month}.csv"))
    return files
