"""MISO: market report LMP files (day-ahead and real-time ex-post), wide by hour.

Source format: MISO market reports ``YYYYMMDD_da_expost_lmp.csv`` (day-ahead ex-post LMP) and
``YYYYMMDD_rt_lmp_final.csv`` (real-time final ex-post LMP), one file per market day::

    Day Ahead Market ExPost LMPs                       <- preamble: report title,
    01/01/2024                                         <- the market day (only here),
    ,,,,,,                                             <- separators and notes,
    "All Hours-Ending are Eastern Standard Time (EST)"
    Node,Type,Value,HE 1,HE 2,...,HE 24                <- header
    AECI,Interface,LMP,22.34,...                       <- one line per node and component
    AECI,Interface,MCC,-0.12,...
    AECI,Interface,MLC,0.41,...

``Value`` is ``LMP`` (total), ``MCC`` (congestion) or ``MLC`` (loss); the energy component
(MEC) is not in these files and stays null (``lmp - congestion - loss`` gives it). Hour endings
are **Eastern Standard Time all year** (MISO does not observe daylight saving), so every market
day has 24 hours: ``HE n`` starts at ``market day + (n - 1) h`` EST = UTC-5, and the operating
day is the market day. ``timezone`` is therefore ``Etc/GMT+5`` (POSIX sign: UTC-5), not
``America/Chicago``.

The market day lives in the preamble, which DuckDB's CSV reader cannot see, so ``prepare``
streams each file into a clean CSV with a ``MarketDay`` column; the hour columns are then
unpivoted (DuckDB ``UNPIVOT``) to one row per node, component and hour, and the components
pivoted back to one row per node and hour. A file without its ``Node,Type,Value,HE 1..`` header
line, or without a market day before it, is a :class:`~iso_energy.isos.schema.RawFileError`.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from iso_energy.isos.base import DatasetFormat, IsoConverter
from iso_energy.isos.schema import RawFileError
from memsafe.csv_source import HEADER_SCAN_LINES

TZ = "Etc/GMT+5"  # EST all year
# Published types: Hub, Interface, Gennode, Loadzone; an empty one is a node.
DEFAULT_LOCATION_TYPE = "Node"
HOURS = [f"HE {h}" for h in range(1, 25)]
HEADER_START = ("Node", "Type", "Value")
_HEADER = (*HEADER_START, *HOURS)
# Value code -> normalised column; MISO does not publish the energy component here.
COMPONENTS = {"LMP": "lmp_usd_per_mwh", "MCC": "congestion_usd_per_mwh", "MLC": "loss_usd_per_mwh"}
_DAY = re.compile(r"^\W*(\d{2}/\d{2}/\d{4})\b")

_PIVOT = ",\n".join(
    f"max(price) FILTER (WHERE upper(trim(Value)) = '{code}') AS {column}" for code, column in COMPONENTS.items()
)
_START = "timezone('" + TZ + "', MarketDay + (CAST(substr(he, 4) AS INTEGER) - 1) * INTERVAL 1 HOUR)"


def prepare(raw: Path, clean: Path) -> int:
    """Stream a MISO market report into ``MarketDay,Node,Type,Value,HE 1,...``; line by line.

    Returns the number of raw lines before the header (raw line = clean line + that number).

    Raises:
        RawFileError: no header line within the first lines, or no market day before it.
    """
    day = None
    closest: tuple[int, int, list[str]] = (0, 0, [])  # (header columns present, line, missing)
    with open(raw, encoding="utf-8-sig", errors="replace", newline="") as src:
        for n, line in enumerate(src, 1):
            if n > HEADER_SCAN_LINES:
                break
            fields = tuple(f.strip() for f in next(csv.reader(io.StringIO(line)), []))
            present = len(set(fields) & set(_HEADER))
            if present > closest[0] and fields[:3] != HEADER_START:
                closest = (present, n, [c for c in _HEADER if c not in fields])
            if fields[:3] == HEADER_START:
                if day is None:
                    raise RawFileError(
                        raw,
                        "no market day (MM/DD/YYYY) in the preamble",
                        line=n,
                        expected="the report title, then the market day, then the header",
                    )
                with open(clean, "w", encoding="utf-8", newline="") as dst:
                    dst.write("MarketDay," + line.rstrip("\r\n") + "\n")
                    for data in src:
                        if data.strip(", \r\n"):  # separator lines of commas only are dropped
                            dst.write(day + "," + data.rstrip("\r\n") + "\n")
                return n - 1
            m = _DAY.match(line)
            if m and day is None:
                day = m.group(1)
    lacks = f"; the closest, line {closest[1]}, lacks the required column(s) {closest[2]}" if closest[0] else ""
    raise RawFileError(
        raw,
        f"no MISO header line in the first {HEADER_SCAN_LINES} lines{lacks}",
        line=closest[1] or None,
        expected="a line 'Node,Type,Value,HE 1,...,HE 24' after the preamble",
    )


def _wide_lmp(market: str, report: str) -> DatasetFormat:
    return DatasetFormat(
        market=market,
        source=f"MISO {report}",
        columns={
            "MarketDay": "DATE",
            "Node": "VARCHAR",
            "Type": "VARCHAR",
            "Value": "VARCHAR",
            **{h: "DOUBLE" for h in HOURS},
        },
        required=("MarketDay", *HEADER_START, *HOURS),
        dateformat="%m/%d/%Y",
        prepare=prepare,
        from_sql="(UNPIVOT src ON COLUMNS('^HE [0-9]+$') INTO NAME he VALUE price)",
        group_by_sql="Node, Type, MarketDay, he",
        select_sql=f"""
            {_START} AS interval_start_utc,
            {_START} + INTERVAL 1 HOUR AS interval_end_utc,
            MarketDay AS operating_date,
            Node AS location_id, Node AS location_name,
            coalesce(nullif(trim(Type), ''), '{DEFAULT_LOCATION_TYPE}') AS location_type,
            'LMP' AS price_type,
            {_PIVOT},
            CAST(NULL AS DOUBLE) AS energy_usd_per_mwh,
            0 AS _version, max(_file) AS _file""",
    )


class MISO(IsoConverter):
    iso_id = "miso"
    name = "Midcontinent ISO"
    timezone = TZ
    component_tolerance = None  # no energy component (MEC) in these reports: nothing to add up
    datasets = {
        "lmp_da": _wide_lmp("DA", "day-ahead ex-post LMP (da_expost_lmp)"),
        "lmp_rt": _wide_lmp("RT", "real-time final LMP (rt_lmp_final)"),
    }
