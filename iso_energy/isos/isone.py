"""ISO New England: hourly LMP reports with record-type prefixes (day-ahead and real-time).

Source format: ISO-NE ``WW_DALMP_ISO_YYYYMMDD.csv`` (day-ahead hourly LMP) and
``WW_RTLMP_ISO_YYYYMMDD.csv`` (real-time hourly LMP). Every line starts with a record type::

    "C","Day-Ahead Energy Market Hourly LMP Report"                 <- comment lines
    "H","Date","Hour Ending","Location ID","Location Name","Location Type",
        "Locational Marginal Price","Energy Component","Congestion Component",
        "Marginal Loss Component"                                   <- the header
    "H","","","","","","Number","Number","Number","Number"          <- a second H line (types)
    "D","03/10/2024","01","4000",".H.INTERNAL_HUB","HUB",43.57,43.36,0.00,0.21   <- data
    "T","Total # of Data Records: 9"                                <- trailer: data line count

``Date`` is the operating day in Eastern prevailing time; ``Hour Ending`` runs ``01``..``24``
and is the wall-clock start hour + 1, so the spring-forward day has no ``03`` (23 hours). On the
fall-back day the repeated hour is ``02X``: ``02`` is 01:00-02:00 EDT, ``02X`` 01:00-02:00 EST.
Components are published in full (``lmp = energy + congestion + loss``).

``prepare`` streams each file into a plain CSV (first ``H`` line as header, ``D`` lines without
their prefix) and checks the trailer: a file whose trailer count disagrees with its data lines,
without a trailer (truncated), without an ``H`` header or with an unknown record type is a
:class:`~iso_energy.isos.schema.RawFileError` naming the file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

from iso_energy.isos.base import DatasetFormat, IsoConverter
from iso_energy.isos.schema import RawFileError
from iso_energy.isos.sql import local_to_utc_sql

TZ = "America/New_York"
# Record type -> what the line is. Data, not code: the prepare loop dispatches on it.
RECORD_TYPES = {"C": "comment", "H": "header", "D": "data", "T": "trailer"}
# Published types: HUB, LOAD ZONE, NETWORK NODE, EXTERNAL NODE; an empty one is a network node.
DEFAULT_LOCATION_TYPE = "NETWORK NODE"
REPEATED_SUFFIX = "X"  # "02X": the second (standard-time) 01:00-02:00 hour
PRICES = {
    "Locational Marginal Price": "lmp_usd_per_mwh",
    "Energy Component": "energy_usd_per_mwh",
    "Congestion Component": "congestion_usd_per_mwh",
    "Marginal Loss Component": "loss_usd_per_mwh",
}
_COUNT = re.compile(r"(\d+)\D*$")
_HOUR = f"CAST(rtrim(upper(trim(\"Hour Ending\")), '{REPEATED_SUFFIX}') AS INTEGER)"
_LOCAL = f'("Date" + ({_HOUR} - 1) * INTERVAL 1 HOUR)'
_START = local_to_utc_sql(_LOCAL, TZ, f"ends_with(upper(trim(\"Hour Ending\")), '{REPEATED_SUFFIX}')")


def _split_record(line: str) -> tuple[str, str]:
    """``'"D","x",1'`` -> ``("D", '"x",1')``; also accepts an unquoted type (``D,...``)."""
    if line.startswith('"') and line[2:4] == '",':
        return line[1], line[4:]
    if line[1:2] == ",":
        return line[0], line[2:]
    return "", line


def prepare(raw: Path, clean: Path) -> int:
    """Stream an ISO-NE report into header + data lines; check the trailer count.

    Returns raw lines before the first data line minus one (raw line = clean line + offset).

    Raises:
        RawFileError: unknown record type, no ``H`` line, data before the header or after the
            trailer, no trailer, or a trailer count that disagrees with the data lines.
    """
    header_seen, data, trailer, offset = False, 0, None, None
    with (
        open(raw, encoding="utf-8-sig", errors="replace", newline="") as src,
        open(clean, "w", encoding="utf-8", newline="") as dst,
    ):
        for n, line in enumerate(src, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            kind, rest = _split_record(line)
            what = RECORD_TYPES.get(kind.upper())
            if what is None:
                raise RawFileError(
                    raw,
                    f"unknown record type in {line[:40]!r}",
                    line=n,
                    expected='lines starting with "C", "H", "D" or "T"',
                )
            if trailer is not None and what != "comment":
                raise RawFileError(raw, f"{what} line after the trailer", line=n)
            if what == "header" and not header_seen:
                dst.write(rest + "\n")
                header_seen = True
            elif what == "data":
                if not header_seen:
                    raise RawFileError(raw, 'data line before the "H" header line', line=n)
                if offset is None:
                    offset = n - 2
                dst.write(rest + "\n")
                data += 1
            elif what == "trailer":
                m = _COUNT.search(rest)
                if not m:
                    raise RawFileError(raw, f"trailer without a record count: {line[:60]!r}", line=n)
                trailer = int(m.group(1))
    if not header_seen:
        raise RawFileError(raw, 'no "H" header line', expected="an ISO-NE report with record-type prefixes")
    if trailer is None:
        raise RawFileError(raw, f'no "T" trailer line after {data} data lines (truncated file?)')
    if trailer != data:
        raise RawFileError(raw, f"trailer count {trailer} disagrees with the {data} data lines in the file")
    return offset or 0


def _hourly_lmp(market: str, report: str) -> DatasetFormat:
    return DatasetFormat(
        market=market,
        source=f"ISO-NE {report}",
        columns={
            "Date": "DATE",
            "Hour Ending": "VARCHAR",
            "Location ID": "VARCHAR",
            "Location Name": "VARCHAR",
            "Location Type": "VARCHAR",
            **{c: "DOUBLE" for c in PRICES},
        },
        required=("Date", "Hour Ending", "Location ID", "Location Name", "Location Type", "Locational Marginal Price"),
        dateformat="%m/%d/%Y",
        prepare=prepare,
        select_sql=f"""
            {_START} AS interval_start_utc,
            {_START} + INTERVAL 1 HOUR AS interval_end_utc,
            "Date" AS operating_date,
            "Location ID" AS location_id, "Location Name" AS location_name,
            coalesce(nullif(trim("Location Type"), ''), '{DEFAULT_LOCATION_TYPE}') AS location_type,
            'LMP' AS price_type,
            {", ".join(f'"{c}" AS {col}' for c, col in PRICES.items())},
            0 AS _version, _file""",
    )


class ISONE(IsoConverter):
    iso_id = "isone"
    name = "ISO New England"
    timezone = TZ  # Eastern prevailing time
    component_tolerance = 0.02  # every price to the cent: four roundings of at most 0.005
    datasets = {
        "lmp_da": _hourly_lmp("DA", "day-ahead hourly LMP (WW_DALMP_ISO)"),
        "lmp_rt": _hourly_lmp("RT", "real-time hourly LMP (WW_RTLMP_ISO)"),
    }
