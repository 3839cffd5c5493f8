"""NYISO: MIS LBMP CSVs (day-ahead and real-time; zonal and generator).

Source format: NYISO MIS reports ``YYYYMMDDdamlbmp_zone.csv`` / ``..._gen.csv`` (day-ahead,
hourly) and ``YYYYMMDDrealtime_zone.csv`` / ``..._gen.csv`` (real-time, 5-minute)::

    <blank line>
    "Time Stamp","Name","PTID","LBMP ($/MWHr)","Marginal Cost Losses ($/MWHr)","Marginal Cost Congestion ($/MWHr)"
    "02/18/2016 00:15:00","CAPITL",61757,21.53,1.69,0.00        <- no newline after the last line

``Time Stamp`` is ``MM/DD/YYYY HH:MM:SS`` in Eastern *prevailing* time and marks the interval
**beginning**; it is also the operating day. ``PTID`` (point id) is the location id. Zone and
generator files share one header, so the location type comes from the file name as NYISO
publishes it (``*_zone*`` -> ``ZONE``, ``*_gen*`` -> ``GEN``; otherwise null).

**Congestion sign.** NYISO publishes the congestion component with the opposite sign to every
other operator: ``LBMP = energy + losses - congestion`` as published. The normalised
``congestion_usd_per_mwh`` is ``-1 x`` NYISO's value, so that ``lmp = energy + congestion +
loss`` holds for every operator. NYISO's files carry no energy component; it stays null
(``lmp - congestion - loss`` gives it).

**Fall-back hour.** The files repeat ``01:xx`` on the fall-back day with nothing but row order
to tell the two hours apart (first = EDT, second = EST). Only for a file that holds such a day,
``prepare`` streams it into a copy with a ``_repeated`` flag (``Y`` on the second occurrence of
a location and time stamp); other files are read as they are.
"""

from __future__ import annotations

import mmap
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from iso_energy.isos.base import DatasetFormat, IsoConverter, local_to_utc_sql

TZ = "America/New_York"
PRICE = "LBMP ($/MWHr)"
LOSSES = "Marginal Cost Losses ($/MWHr)"
CONGESTION = "Marginal Cost Congestion ($/MWHr)"
# File-name marker -> location type (zone and generator files share one header).
LOCATION_TYPE_BY_FILE = {"_zone": "ZONE", "_gen": "GEN"}
# Time stamps in the hour that repeats on a fall-back day (always late Oct / early Nov, 01:xx).
_FALLBACK_CANDIDATE = re.compile(rb"((?:10/(?:2[5-9]|3[01])|11/0[1-7])/\d{4}) 01:")

_TYPE_CASE = (
    "CASE "
    + " ".join(f"WHEN contains(parse_filename(_file), '{marker}') THEN '{t}'"
               for marker, t in LOCATION_TYPE_BY_FILE.items())
    + " END"
)
_START = local_to_utc_sql('"Time Stamp"', TZ, "coalesce(_repeated = 'Y', false)")


@cache
def _is_fallback_day(mm_dd_yyyy: str) -> bool:
    d = datetime.strptime(mm_dd_yyyy, "%m/%d/%Y").date()
    first = datetime(d.year, d.month, d.day, 1, 30, tzinfo=ZoneInfo(TZ))
    return first.utcoffset() != first.replace(fold=1).utcoffset()


def fallback_days(raw: Path) -> set[str]:
    """``MM/DD/YYYY`` fall-back days with ``01:xx`` time stamps in ``raw`` (a C-speed scan)."""
    if raw.stat().st_size == 0:
        return set()
    with open(raw, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        found = {m.group(1).decode() for m in _FALLBACK_CANDIDATE.finditer(mm)}
    return {d for d in found if _is_fallback_day(d)}


def prepare(raw: Path, clean: Path) -> int | None:
    """Add a ``_repeated`` column to a file holding a fall-back day; ``None`` for other files.

    Streams line by line; remembers only the (time stamp, name, PTID) of the repeated hour.
    Returns the raw lines dropped before the header (the blank first line).
    """
    days = fallback_days(raw)
    if not days:
        return None
    prefixes = tuple(f'"{d} 01:' for d in days) + tuple(f"{d} 01:" for d in days)
    seen: set[str] = set()
    dropped = 0
    with open(raw, encoding="utf-8-sig", newline="") as src, \
            open(clean, "w", encoding="utf-8", newline="") as dst:
        for line in src:
            if line.strip():
                dst.write(line.rstrip("\r\n") + ',"_repeated"\n')
                break
            dropped += 1
        for line in src:
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            flag = "N"
            if line.startswith(prefixes):
                key = ",".join(line.split(",", 3)[:3])
                flag = "Y" if key in seen else "N"
                seen.add(key)
            dst.write(f"{line},{flag}\n")
    return dropped


def _lbmp(market: str, report: str, minutes: int) -> DatasetFormat:
    return DatasetFormat(
        market=market,
        source=f"NYISO {report} LBMP",
        columns={"Time Stamp": "TIMESTAMP", "Name": "VARCHAR", "PTID": "VARCHAR", PRICE: "DOUBLE",
                 LOSSES: "DOUBLE", CONGESTION: "DOUBLE", "_repeated": "VARCHAR"},
        required=("Time Stamp", "Name", "PTID", PRICE, LOSSES, CONGESTION),
        timestampformat="%m/%d/%Y %H:%M:%S",
        prepare=prepare,
        interval_minutes=minutes,
        select_sql=f"""
            {_START} AS interval_start_utc,
            {_START} + INTERVAL {minutes} MINUTE AS interval_end_utc,
            CAST("Time Stamp" AS DATE) AS operating_date,
            PTID AS location_id, Name AS location_name, {_TYPE_CASE} AS location_type,
            "{PRICE}" AS lmp_usd_per_mwh,
            CAST(NULL AS DOUBLE) AS energy_usd_per_mwh,
            0 - "{CONGESTION}" AS congestion_usd_per_mwh,
            "{LOSSES}" AS loss_usd_per_mwh,
            0 AS _version, _file""",
    )


class NYISO(IsoConverter):
    iso_id = "nyiso"
    name = "New York ISO"
    timezone = TZ  # Eastern prevailing time
    datasets = {
        "lmp_da": _lbmp("DA", "day-ahead (damlbmp)", 60),
        "lmp_rt": _lbmp("RT", "real-time (realtime)", 5),
    }


