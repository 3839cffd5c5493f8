"""PJM Data Miner 2 ``da_hrl_lmps`` / ``rt_hrl_lmps`` sample files (CRLF, 12-hour clock).

Quirks written: monthly (or, with ``daily``, daily) exports that overlap by ``overlap_days``
(exact duplicate rows across files); a superseded revision (``row_is_current=False``,
``version_nbr=1``) for the first hour of each file's first node, with the current row at
``version_nbr=2``; empty voltage/equipment/zone for hubs; ``True``/``False`` booleans.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from iso_energy.sample.common import calendar, days, grid, months, prices, take, write_csv

TZ = "America/New_York"
HUBS = ["WESTERN HUB", "EASTERN HUB", "AEP GEN HUB", "CHICAGO HUB", "DOMINION HUB", "OHIO HUB"]


def _clock(ts) -> list[str]:
    # M/D/YYYY h:mm:ss AM, not zero-padded, as Data Miner writes it
    return [
        f"{t.month}/{t.day}/{t.year} {(t.hour % 12) or 12}:{t.minute:02d}:00 {'AM' if t.hour < 12 else 'PM'}"
        for t in ts
    ]


def nodes(n: int) -> tuple[list[str], list[str], list[str]]:
    names = [HUBS[i] if i < len(HUBS) else f"PNODE {i:05d}" for i in range(n)]
    types = ["HUB" if i < len(HUBS) else "GEN" for i in range(n)]
    ids = [str(51200 + i * 7) for i in range(n)]
    return ids, names, types


def write(
    raw: Path,
    dataset: str,
    start: date,
    end: date,
    n_nodes: int,
    seed: int = 0,
    overlap_days: int = 1,
    daily: bool = False,
) -> list[Path]:
    suffix = "da" if dataset == "lmp_da" else "rt"
    cal = calendar(start, end, TZ, 60)
    utc_s, ept_s = _clock(cal.utc.tz_localize(None)), _clock(cal.wall)
    ids, names, types = nodes(n_nodes)
    p = prices(len(cal), n_nodes, seed + (0 if suffix == "da" else 1))
    files = []
    for month, idx in days(cal) if daily else months(cal):
        lo, hi = idx[0], min(len(cal), idx[-1] + 1 + overlap_days * 24)
        t_idx, n_idx = grid(hi - lo, n_nodes)
        t_abs = pa.array(np.asarray(t_idx) + lo)
        rows = slice(lo * n_nodes, hi * n_nodes)
        n = (hi - lo) * n_nodes
        cols = {
            "datetime_beginning_utc": take(utc_s, t_abs),
            "datetime_beginning_ept": take(ept_s, t_abs),
            "pnode_id": take(ids, n_idx),
            "pnode_name": take(names, n_idx),
            "voltage": pa.nulls(n, pa.string()),
            "equipment": pa.nulls(n, pa.string()),
            "type": take(types, n_idx),
            "zone": pa.nulls(n, pa.string()),
            f"system_energy_price_{suffix}": p["energy"][rows],
            f"total_lmp_{suffix}": p["lmp"][rows],
            f"congestion_price_{suffix}": p["congestion"][rows],
            f"marginal_loss_price_{suffix}": p["loss"][rows],
            "row_is_current": ["True"] * n,
            "version_nbr": np.ones(n, dtype=np.int64),
        }
        table = pa.table(cols)
        # A superseded revision of the first row, then the current row at version 2.
        first = table.slice(0, 1)
        stale = first.set_column(
            table.schema.get_field_index(f"total_lmp_{suffix}"), f"total_lmp_{suffix}", pa.array([999.0])
        ).set_column(table.schema.get_field_index("row_is_current"), "row_is_current", pa.array(["False"]))
        current = first.set_column(
            table.schema.get_field_index("version_nbr"), "version_nbr", pa.array([2], pa.int64())
        )
        table = pa.concat_tables([stale, current, table.slice(1)])
        files.append(write_csv(table, raw / "pjm" / dataset / f"{suffix}_hrl_lmps_{month}.csv", eol="\r\n"))
    return files
