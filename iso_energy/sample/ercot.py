"""ERCOT NP4-190-CD (DAM, hourly) / NP6-905-CD (real-time, 15-minute) sample files.

Quirks written: ``HourEnding`` ``01:00``..``24:00`` in Central prevailing time, ``DSTFlag=Y`` on
the repeated fall-back hour, prices with a leading space, and (real time) one settlement point
name published under two types. Files are monthly (ERCOT's daily reports, concatenated).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from iso_energy.sample.common import calendar, grid, months, prices, take, write_csv

TZ = "America/Chicago"
NAMED = [("HB_HOUSTON", "HU"), ("HB_NORTH", "HU"), ("LZ_HOUSTON", "LZ"), ("LZ_HOUSTON", "LZEW"), ("LZ_SOUTH", "LZ")]


def points(n: int) -> list[tuple[str, str]]:
    return [NAMED[i] if i < len(NAMED) else (f"RN_UNIT{i:04d}_ALL", "RN") for i in range(n)]


def write(raw: Path, dataset: str, start: date, end: date, n_nodes: int, seed: int = 0) -> list[Path]:
    rt = dataset == "lmp_rt"
    cal = calendar(start, end, TZ, 15 if rt else 60)
    delivery = [d.strftime("%m/%d/%Y") for d in cal.operating_date.astype(object)]
    hour = cal.wall.hour.to_numpy() + 1  # hour ending; the day's last hour ends at 24:00
    flag = np.where(cal.repeated, "Y", "N")
    pts = points(n_nodes)
    if not rt:  # day-ahead files carry no type, so one name per point
        pts = list(dict.fromkeys(name for name, _ in pts))
        pts = [(name, "") for name in pts]
    n_pts = len(pts)
    p = prices(len(cal), n_pts, seed + (5 if rt else 4))
    files = []
    for month, idx in months(cal):
        lo, hi = idx[0], idx[-1] + 1
        t_idx, n_idx = grid(hi - lo, n_pts)
        t_abs = np.asarray(t_idx) + lo
        price = pa.array(p["lmp"][lo * n_pts : hi * n_pts]).cast(pa.string())
        price = pc.binary_join_element_wise(" ", price, "")  # " 28.4": ERCOT pads prices
        date_col, flag_col = take(delivery, pa.array(t_abs)), take(list(flag), pa.array(t_abs))
        names = take([n for n, _ in pts], n_idx)
        if rt:
            table = pa.table(
                {
                    "DeliveryDate": date_col,
                    "DeliveryHour": hour[t_abs],
                    "DeliveryInterval": (cal.wall.minute.to_numpy()[t_abs] // 15) + 1,
                    "SettlementPointName": names,
                    "SettlementPointType": take([t for _, t in pts], n_idx),
                    "SettlementPointPrice": price,
                    "DSTFlag": flag_col,
                }
            )
            name = f"np6-905-cd_spp_{month}.csv"
        else:
            table = pa.table(
                {
                    "DeliveryDate": date_col,
                    "HourEnding": take([f"{h:02d}:00" for h in range(1, 25)], pa.array(hour[t_abs] - 1)),
                    "SettlementPoint": names,
                    "SettlementPointPrice": price,
                    "DSTFlag": flag_col,
                }
            )
            name = f"np4-190-cd_dam_spp_{month}.csv"
        files.append(write_csv(table, raw / "ercot" / dataset / name))
    return files
