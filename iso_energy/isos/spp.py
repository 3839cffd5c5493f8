"""SPP: Marketplace LMP by settlement location (day-ahead and real-time balancing market).

Source format: SPP Marketplace portal ``DA-LMP-SL-YYYYMMDD0100.csv`` (day-ahead, hourly) and
``RTBM-LMP-SL-YYYYMMDDHHMM.csv`` (real-time balancing market, 5-minute)::

    Interval,GMTIntervalEnd,Settlement Location,Pnode,LMP,MLC,MCC,MEC
    01/01/2026 01:00:00,01/01/2026 07:00:00,AECI,AECI_AECI,28.18,0.41,-0.2,27.97

Header names may carry **leading spaces** (`` Settlement Location``), as SPP's own files do (see
the real market-clearing sample); the base strips them when it reads the header. ``Interval``
is the interval *end* in Central prevailing time (ambiguous on the fall-back day, so unused);
``GMTIntervalEnd`` is the same instant in UTC and is what rows are keyed on: start = end minus
the interval length. The operating day is the Central prevailing date of the interval start.
``LMP = MEC + MCC + MLC`` (energy, congestion, loss). ``Settlement Location`` is the location id,
``Pnode`` its pricing node (kept as the name). SPP publishes no location type in these files:
the hubs and interfaces are the settlement locations gridstatus lists
(:data:`LOCATION_TYPES`, from SPP's price contour map), every other one is a
``SETTLEMENT_LOCATION``.
SPP adds columns rarely and meaningfully, so an unknown column is an error
(``allow_extra_columns=False``) rather than silently dropped.
"""

from __future__ import annotations

from iso_energy.isos.base import DatasetFormat, IsoConverter
from iso_energy.isos.sql import utc_sql

TZ = "America/Chicago"
COLUMNS = {
    "Interval": "TIMESTAMP",
    "GMTIntervalEnd": "TIMESTAMP",
    "Settlement Location": "VARCHAR",
    "Pnode": "VARCHAR",
    "LMP": "DOUBLE",
    "MLC": "DOUBLE",
    "MCC": "DOUBLE",
    "MEC": "DOUBLE",
}

# Settlement location -> type (gridstatus ``LMP_HUBS_AND_INTERFACES``); others: DEFAULT_LOCATION_TYPE.
HUBS = ("SPPNORTH_HUB", "SPPSOUTH_HUB")
INTERFACES = (
    "AECI",
    "ALTW",
    "AMRN",
    "BLKW",
    "CLEC",
    "DPC",
    "EDDY",
    "EES",
    "ERCOTE",
    "ERCOTN",
    "GRE",
    "LAM345",
    "MCWEST",
    "MDU",
    "MEC",
    "MISO",
    "NSP",
    "OTP",
    "RCEAST",
    "SCSE",
    "SGE",
    "SPA",
    "SPC",
)
LOCATION_TYPES = {**{h: "HUB" for h in HUBS}, **{i: "INTERFACE" for i in INTERFACES}}
DEFAULT_LOCATION_TYPE = "SETTLEMENT_LOCATION"
_TYPE = (
    'CASE "Settlement Location" '
    + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in LOCATION_TYPES.items())
    + f" ELSE '{DEFAULT_LOCATION_TYPE}' END"
)


def _lmp_by_location(market: str, report: str, minutes: int) -> DatasetFormat:
    start = utc_sql("GMTIntervalEnd", -minutes)
    return DatasetFormat(
        market=market,
        source=f"SPP {report}",
        columns=COLUMNS,
        required=tuple(COLUMNS),
        allow_extra_columns=False,
        timestampformat="%m/%d/%Y %H:%M:%S",
        interval_minutes=minutes,
        select_sql=f"""
            {start} AS interval_start_utc,
            {utc_sql("GMTIntervalEnd")} AS interval_end_utc,
            CAST(timezone('{TZ}', {start}) AS DATE) AS operating_date,
            "Settlement Location" AS location_id, Pnode AS location_name,
            {_TYPE} AS location_type,
            'LMP' AS price_type,
            LMP AS lmp_usd_per_mwh, MEC AS energy_usd_per_mwh,
            MCC AS congestion_usd_per_mwh, MLC AS loss_usd_per_mwh,
            0 AS _version, _file""",
    )


class SPP(IsoConverter):
    iso_id = "spp"
    name = "Southwest Power Pool"
    timezone = TZ  # Central prevailing time
    # LMP = MEC + MCC + MLC as published; no real LMP sample here, so cent rounding is assumed.
    component_tolerance = 0.02
    datasets = {
        "lmp_da": _lmp_by_location("DA", "day-ahead LMP by settlement location (DA-LMP-SL)", 60),
        "lmp_rt": _lmp_by_location("RT", "real-time balancing market LMP by settlement location (RTBM-LMP-SL)", 5),
    }
