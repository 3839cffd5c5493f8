"""NYISO: MIS LBMP CSVs (day-ahead and real-time; zonal and generator).

Source format: NYISO MIS reports ``YYYYMMDDdamlbmp_zone.csv`` / ``..._gen.csv`` (day-ahead,
hourly) and ``YYYYMMDDrealtime_zone.csv`` / ``..._gen.csv`` (real-time)::

    <blank line>
    "Time Stamp","Name","PTID","LBMP ($/MWHr)","Marginal Cost Losses ($/MWHr)","Marginal Cost Congestion ($/MWHr)"
    "02/18/2016 00:05:00","CAPITL",61757,21.53,1.69,0.00        <- no newline after the last line

``Time Stamp`` is ``MM/DD/YYYY HH:MM:SS`` in Eastern *prevailing* time. ``PTID`` (point id) is
the location id. Interval convention (gridstatus ``DATASET_INTERVAL_MAP``, PR #655, #691/#934):

* **day-ahead**: the time stamp marks the interval **beginning**; hourly.
* **real-time**: the time stamp marks the interval **end**. A daily file holds the 5-minute
  Real-Time Dispatch (RTD) intervals stamped ``00:05`` .. ``00:00`` of the next day (24:00), and,
  while the day is under way, the 15-minute Real-Time Commitment (RTC) advisory intervals that
  follow the last RTD one. Each row's start is its end minus its own length; the operating day is
  the Eastern date of the start, so ``00:00`` belongs to the day before (and 31 December's last
  interval to its year). RTC rows are the file's trailing run of time stamps 15 minutes apart on
  the quarter hour (see :func:`interval_minutes`); where an RTC interval and an RTD interval
  start together, the RTD (dispatch) price wins the key (``_version``).

**Location type**: zone and generator files share one header, so it comes from the file name as
NYISO publishes it (``*_zone*`` -> ``ZONE``, ``*_gen*`` -> ``GEN``); for a file named otherwise,
a name in NYISO's zone list (:data:`ZONES`) is ``ZONE`` and any other ``GEN`` (the documented
default); ``NYISO_LBMP_REFERENCE`` (carried in generator files) is ``REFERENCE_BUS``.

**Congestion sign.** NYISO publishes the congestion component with the opposite sign to every
other operator: ``LBMP = energy + losses - congestion`` as published. The normalised
``congestion_usd_per_mwh`` is ``-1 x`` NYISO's value, so that ``lmp = energy + congestion +
loss`` holds for every operator. NYISO's files carry no energy component; it stays null
(``lmp - congestion - loss`` gives it).

**Fall-back hour.** The files repeat ``01:xx`` on the fall-back day with nothing but row order
to tell the two hours apart (first = EDT, second = EST). The ``prepare`` step marks the second
occurrence with a ``_repeated`` flag: for day-ahead only in a file that holds such a day (other
files are read as they are); real-time files are always prepared, to add each row's
``_minutes`` (5 RTD / 15 RTC).
"""

from __future__ import annotations

import mmap
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from iso_energy.isos.base import DatasetFormat, IsoConverter
from iso_energy.isos.schema import RawFileError
from iso_energy.isos.sql import local_to_utc_sql

TZ = "America/New_York"
PRICE = "LBMP ($/MWHr)"
LOSSES = "Marginal Cost Losses ($/MWHr)"
CONGESTION = "Marginal Cost Congestion ($/MWHr)"
STAMP_FORMAT = "%m/%d/%Y %H:%M:%S"
# File-name marker -> location type (zone and generator files share one header).
LOCATION_TYPE_BY_FILE = {"_zone": "ZONE", "_gen": "GEN"}
# NYISO's load zones and external proxy zones, as named in the zonal LBMP files.
ZONES = (
    "CAPITL",
    "CENTRL",
    "DUNWOD",
    "GENESE",
    "H Q",
    "HUD VL",
    "LONGIL",
    "MHK VL",
    "MILLWD",
    "N.Y.C.",
    "NORTH",
    "NPX",
    "O H",
    "PJM",
    "WEST",
)
REFERENCE_BUS = "NYISO_LBMP_REFERENCE"  # the LBMP reference bus, listed in generator files
DEFAULT_LOCATION_TYPE = "GEN"  # a file named neither *_zone* nor *_gen*, a name not in ZONES
RTD_MINUTES, RTC_MINUTES = 5, 15  # real-time dispatch / real-time commitment interval lengths
# Time stamps in the hour that repeats on a fall-back day (always late Oct / early Nov, 01:xx).
_FALLBACK_CANDIDATE = re.compile(rb"((?:10/(?:2[5-9]|3[01])|11/0[1-7])/\d{4}) 01:")
# The first field of every line: the time stamp of a data line (quoted or not).
_FIRST_FIELD = re.compile(rb'^[ \t]*(?:"([^"\r\n]*)"|([^,\r\n]*)),', re.M)


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_TYPE_CASE = (
    f"CASE WHEN Name = {_lit(REFERENCE_BUS)} THEN 'REFERENCE_BUS' "
    + " ".join(
        f"WHEN contains(parse_filename(_file), {_lit(marker)}) THEN {_lit(t)}"
        for marker, t in LOCATION_TYPE_BY_FILE.items()
    )
    + f" WHEN Name IN ({', '.join(_lit(z) for z in ZONES)}) THEN 'ZONE'"
    + f" ELSE {_lit(DEFAULT_LOCATION_TYPE)} END"
)
_REPEATED = "coalesce(_repeated = 'Y', false)"
_STAMP_UTC = local_to_utc_sql('"Time Stamp"', TZ, _REPEATED)
_RT_MINUTES = f"coalesce(_minutes, {RTD_MINUTES})"


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
    """Day-ahead: add a ``_repeated`` column to a file holding a fall-back day; ``None`` for
    other files (read as they are).

    Streams line by line; remembers only the (time stamp, name, PTID) of the repeated hour.
    Returns the raw lines dropped before the header (the blank first line).
    """
    days = fallback_days(raw)
    if not days:
        return None
    prefixes = tuple(f'"{d} 01:' for d in days) + tuple(f"{d} 01:" for d in days)
    seen: set[str] = set()
    dropped = 0
    with open(raw, encoding="utf-8-sig", newline="") as src, open(clean, "w", encoding="utf-8", newline="") as dst:
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


def interval_minutes(ends_utc: list[float]) -> list[int]:
    """Interval length of each time stamp of a real-time file, given the distinct interval ends
    in file order (epoch seconds, strictly increasing): 15 (RTC) for the trailing run of stamps
    15 minutes apart on the quarter hour, 5 (RTD) for the others.

    The run's first stamp is RTC when the file starts with it or when it follows the previous
    stamp by 10 minutes (RTD intervals are contiguous, so a 10-minute step is not RTD); after a
    5-minute step it is the last RTD interval. A run of one stamp is RTD (a complete day ends
    ``23:55``, ``24:00``; NYISO's latest-interval file holds one RTD stamp).
    """
    n = len(ends_utc)
    minutes = [RTD_MINUTES] * n
    quarter = [int(t) % 900 == 0 for t in ends_utc]
    k = n - 1
    while k >= 1 and quarter[k] and quarter[k - 1] and ends_utc[k] - ends_utc[k - 1] == 900:
        k -= 1
    if k < n - 1:
        for i in range(k + 1, n):
            minutes[i] = RTC_MINUTES
        if k == 0 or ends_utc[k] - ends_utc[k - 1] == 600:
            minutes[k] = RTC_MINUTES
    return minutes


def _stamps(raw: Path) -> tuple[list[str], list[int]]:
    """The consecutive distinct time stamps of ``raw``'s data lines (the header skipped) and the
    byte offset where each first appears. A C-speed scan over the mapped file."""
    stamps: list[str] = []
    offsets: list[int] = []
    if raw.stat().st_size == 0:
        return stamps, offsets
    with open(raw, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        header = True
        for m in _FIRST_FIELD.finditer(mm):
            if header:  # the first non-blank line
                header = False
                continue
            value = (m.group(1) if m.group(1) is not None else m.group(2)).decode("utf-8", "replace").strip()
            if not stamps or value != stamps[-1]:
                stamps.append(value)
                offsets.append(m.start())
    return stamps, offsets


def _line_at(raw: Path, offset: int) -> int:
    with open(raw, "rb") as fh:
        return fh.read(offset).count(b"\n") + 1


def prepare_real_time(raw: Path, clean: Path) -> int | None:
    """Real-time: copy ``raw`` with ``_repeated`` (``Y`` on the second occurrence of a fall-back
    ``01:xx`` stamp) and ``_minutes`` (5 RTD / 15 RTC, :func:`interval_minutes`) per row.

    Two streaming passes: a C-speed scan for the distinct time stamps (one entry per interval,
    not per row), then the copy line by line. Returns the raw lines before the header; ``None``
    (read as it is, so the base reports it) when the first line is not a ``Time Stamp`` header.

    Raises:
        RawFileError: a time stamp that is not ``MM/DD/YYYY HH:MM:SS``, or stamps out of time
            order (NYISO writes each interval's rows together, in time order).
    """
    with open(raw, encoding="utf-8-sig", errors="replace", newline="") as src:
        first = next((ln for ln in src if ln.strip()), "")
    if "Time Stamp" not in first:
        return None
    stamps, offsets = _stamps(raw)
    zone = ZoneInfo(TZ)
    seen: set[str] = set()
    repeated: list[bool] = []
    ends: list[float] = []
    for i, stamp in enumerate(stamps):
        try:
            local = datetime.strptime(stamp, STAMP_FORMAT)
        except ValueError:
            raise RawFileError(
                raw, f"time stamp {stamp[:40]!r} is not {STAMP_FORMAT}", line=_line_at(raw, offsets[i])
            ) from None
        again = stamp in seen and local.hour == 1 and _is_fallback_day(stamp[:10])
        seen.add(stamp)
        repeated.append(again)
        ends.append(local.replace(tzinfo=zone, fold=int(again)).timestamp())
        if i and ends[i] <= ends[i - 1]:
            raise RawFileError(
                raw,
                f"time stamp {stamp!r} follows {stamps[i - 1]!r}: rows out of time order",
                line=_line_at(raw, offsets[i]),
                expected="each interval's rows together, in time order, as NYISO writes them",
            )
    minutes = interval_minutes(ends)
    dropped = 0
    with open(raw, encoding="utf-8-sig", newline="") as src, open(clean, "w", encoding="utf-8", newline="") as dst:
        for line in src:
            if line.strip():
                dst.write(line.rstrip("\r\n") + ',"_repeated","_minutes"\n')
                break
            dropped += 1
        g, current, suffix = -1, None, ""
        for n, line in enumerate(src, dropped + 2):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            stamp = line.split(",", 1)[0].strip()
            if len(stamp) > 1 and stamp[0] == stamp[-1] == '"':
                stamp = stamp[1:-1].strip()
            if stamp != current:
                g, current = g + 1, stamp
                if g >= len(stamps) or stamps[g] != stamp:
                    raise RawFileError(raw, f"line {line[:60]!r} does not start with a time stamp", line=n)
                suffix = f",{'Y' if repeated[g] else 'N'},{minutes[g]}\n"
            dst.write(line + suffix)
    return dropped


def _lbmp(market: str, report: str) -> DatasetFormat:
    real_time = market == "RT"
    if real_time:  # the time stamp ends the interval; each row has its own length
        start = f"({_STAMP_UTC} - {_RT_MINUTES} * INTERVAL 1 MINUTE)"
        end = _STAMP_UTC
        day = f'CAST("Time Stamp" - {_RT_MINUTES} * INTERVAL 1 MINUTE AS DATE)'
        version = f"CASE WHEN {_RT_MINUTES} = {RTD_MINUTES} THEN 1 ELSE 0 END"
    else:  # day-ahead: the time stamp begins the hour
        start, end = _STAMP_UTC, f"{_STAMP_UTC} + INTERVAL 1 HOUR"
        day, version = 'CAST("Time Stamp" AS DATE)', "0"
    return DatasetFormat(
        market=market,
        source=f"NYISO {report} LBMP",
        columns={
            "Time Stamp": "TIMESTAMP",
            "Name": "VARCHAR",
            "PTID": "VARCHAR",
            PRICE: "DOUBLE",
            LOSSES: "DOUBLE",
            CONGESTION: "DOUBLE",
            "_repeated": "VARCHAR",
            "_minutes": "INTEGER",
        },
        required=("Time Stamp", "Name", "PTID", PRICE, LOSSES, CONGESTION),
        timestampformat=STAMP_FORMAT,
        prepare=prepare_real_time if real_time else prepare,
        interval_minutes=RTD_MINUTES if real_time else 60,
        select_sql=f"""
            {start} AS interval_start_utc,
            {end} AS interval_end_utc,
            {day} AS operating_date,
            PTID AS location_id, Name AS location_name, {_TYPE_CASE} AS location_type,
            'LMP' AS price_type,
            "{PRICE}" AS lmp_usd_per_mwh,
            CAST(NULL AS DOUBLE) AS energy_usd_per_mwh,
            0 - "{CONGESTION}" AS congestion_usd_per_mwh,
            "{LOSSES}" AS loss_usd_per_mwh,
            {version} AS _version, _file""",
    )


class NYISO(IsoConverter):
    iso_id = "nyiso"
    name = "New York ISO"
    timezone = TZ  # Eastern prevailing time
    component_tolerance = None  # no energy component published: nothing to add up
    datasets = {
        "lmp_da": _lbmp("DA", "day-ahead (damlbmp)"),
        "lmp_rt": _lbmp("RT", "real-time (realtime)"),
    }
