"""CAISO: OASIS LMP reports.

Source format: OASIS ``PRC_LMP`` (day-ahead market, hourly) and ``PRC_INTVL_LMP`` (real-time
market, 5-minute intervals), CSV, in *long* form: one row per node, interval and price
component, ``LMP_TYPE`` in ``LMP`` (total), ``MCE`` (energy), ``MCC`` (congestion), ``MCL``
(loss), ``MGHG`` (greenhouse gas, not kept). Full column list::

    INTERVALSTARTTIME_GMT,INTERVALENDTIME_GMT,OPR_DT,OPR_HR,OPR_INTERVAL,NODE_ID_XML,NODE_ID,
    NODE,MARKET_RUN_ID,LMP_TYPE,XML_DATA_ITEM,PNODE_RESMRID,GRP_TYPE,POS,MW,GROUP

Files saved by downloaders drop columns (the real sample keeps 8 of 16); only ``REQUIRED``
must be there, any other may be missing. The component of a row is ``LMP_TYPE``, else its
``XML_DATA_ITEM`` (``LMP_PRC``, ``LMP_ENE_PRC``, ...). A file with neither (the common pycaiso
survivor ``INTERVALSTARTTIME_GMT,INTERVALENDTIME_GMT,OPR_DT,OPR_HR,NODE_ID,MW,GROUP``, which keeps
only the LMP rows) holds the **total LMP only**: its components are null, and two rows for one
node and interval in such a file are an error (the components cannot be told apart).

``INTERVALSTARTTIME_GMT`` / ``INTERVALENDTIME_GMT`` are the interval start and end, ISO 8601 GMT
with the literal offset ``-00:00``; ``OPR_DT`` is the Pacific operating date (23 hours on the
spring-forward day, 25 on fall-back; ``OPR_HR`` is the hour ending, not needed). The components
are pivoted to one row per node and interval. OASIS publishes no node type: it follows CAISO's
node naming as gridstatus does (:data:`LOCATION_TYPE_RULES`).

Ancillary-service (AS) clearing prices, the ``as`` dataset (normalised to
:data:`~iso_energy.isos.schema.AS_SCHEMA`): OASIS ``PRC_AS``, long format::

    INTERVALSTARTTIME_GMT,INTERVALENDTIME_GMT,OPR_DT,OPR_HR,OPR_INTERVAL,ANC_REGION,
    MARKET_RUN_ID,ANC_TYPE,XML_DATA_ITEM,MW,GROUP

``MW`` holds the price ($/MW) despite its name; ``ANC_REGION`` is the AS region
(``AS_CAISO_EXP``, ``AS_SP26_EXP``, ...); ``MARKET_RUN_ID`` ``DAM`` -> DA, ``RTM`` -> RT
(15-minute); the hour-ahead advisory run (``HASP``) is not kept.
"""

from __future__ import annotations

from iso_energy.isos.base import DatasetFormat, IsoConverter
from iso_energy.isos.schema import AS_KEY, AS_SCHEMA
from iso_energy.isos.sql import mapped_sql

OASIS_COLUMNS = {
    "INTERVALSTARTTIME_GMT": "TIMESTAMPTZ",
    "INTERVALENDTIME_GMT": "TIMESTAMPTZ",
    "OPR_DT": "DATE",
    "OPR_HR": "INTEGER",
    "OPR_INTERVAL": "INTEGER",
    "NODE_ID_XML": "VARCHAR",
    "NODE_ID": "VARCHAR",
    "NODE": "VARCHAR",
    "MARKET_RUN_ID": "VARCHAR",
    "LMP_TYPE": "VARCHAR",
    "XML_DATA_ITEM": "VARCHAR",
    "PNODE_RESMRID": "VARCHAR",
    "GRP_TYPE": "VARCHAR",
    "POS": "INTEGER",
    "MW": "DOUBLE",
    "GROUP": "INTEGER",
}
REQUIRED = ("INTERVALSTARTTIME_GMT", "INTERVALENDTIME_GMT", "OPR_DT", "NODE_ID", "MW")
# LMP_TYPE -> normalised column. Data, not code: a new component is one more line.
COMPONENTS = {
    "LMP": "lmp_usd_per_mwh",
    "MCE": "energy_usd_per_mwh",
    "MCC": "congestion_usd_per_mwh",
    "MCL": "loss_usd_per_mwh",
}
# XML_DATA_ITEM -> LMP_TYPE, for files that dropped LMP_TYPE but kept the item name.
DATA_ITEMS = {
    "LMP_PRC": "LMP",
    "LMP_ENE_PRC": "MCE",
    "LMP_CONG_PRC": "MCC",
    "LMP_LOSS_PRC": "MCL",
    "LMP_GHG_PRC": "MGHG",
}
# Node name -> location type, first match wins (CAISO's naming, as gridstatus reads it):
# trading hubs TH_*, default load aggregation points DLAP_*, aggregated pnodes *-APND.
LOCATION_TYPE_RULES = (
    ("starts_with", "TH_", "TRADING_HUB"),
    ("starts_with", "DLAP_", "DLAP"),
    ("ends_with", "-APND", "APNODE"),
)
DEFAULT_LOCATION_TYPE = "NODE"

_ITEM = "CASE " + " ".join(f"WHEN XML_DATA_ITEM = '{k}' THEN '{v}'" for k, v in DATA_ITEMS.items()) + " END"
_CODE = f"coalesce(LMP_TYPE, {_ITEM})"
# A file without a component code holds only total LMP rows: one per node and interval.
_LMP = (
    f"CASE WHEN count(*) FILTER (WHERE {_CODE} IS NULL) > 1 THEN error('node ' || NODE_ID || "
    "' has several MW rows at ' || CAST(INTERVALSTARTTIME_GMT AS VARCHAR) || ' and no LMP_TYPE or "
    f"XML_DATA_ITEM to tell the price components apart') "
    f"ELSE max(MW) FILTER (WHERE coalesce({_CODE}, 'LMP') = 'LMP') END"
)
_PIVOT = ",\n".join(
    f"{_LMP} AS {column}" if code == "LMP" else f"max(MW) FILTER (WHERE {_CODE} = '{code}') AS {column}"
    for code, column in COMPONENTS.items()
)
_TYPE = (
    "CASE "
    + " ".join(f"WHEN {fn}(NODE_ID, '{arg}') THEN '{t}'" for fn, arg, t in LOCATION_TYPE_RULES)
    + f" ELSE '{DEFAULT_LOCATION_TYPE}' END"
)


def _oasis_lmp(market: str, report: str, minutes: int) -> DatasetFormat:
    return DatasetFormat(
        market=market,
        source=f"CAISO OASIS {report}",
        columns=OASIS_COLUMNS,
        required=REQUIRED,
        group_by_sql="_file, NODE_ID, INTERVALSTARTTIME_GMT, INTERVALENDTIME_GMT, OPR_DT",
        select_sql=f"""
            INTERVALSTARTTIME_GMT AS interval_start_utc,
            INTERVALENDTIME_GMT AS interval_end_utc,
            OPR_DT AS operating_date,
            NODE_ID AS location_id, coalesce(any_value(NODE), NODE_ID) AS location_name,
            {_TYPE} AS location_type,
            'LMP' AS price_type,
            {_PIVOT},
            0 AS _version, _file""",
        interval_minutes=minutes,
    )


# AS: OASIS ANC_TYPE -> normalised product; MARKET_RUN_ID -> market (HASP is not kept).
AS_PRODUCT_CODES = {
    "RU": "REG_UP",
    "RD": "REG_DOWN",
    "RMU": "REG_MILEAGE_UP",
    "RMD": "REG_MILEAGE_DOWN",
    "SR": "SPIN",
    "NR": "NON_SPIN",
}
AS_MARKETS = {"DAM": "DA", "RTM": "RT"}


def _as_prices() -> DatasetFormat:
    """The ``as`` dataset: day-ahead (hourly) and real-time (15-minute) AS clearing prices."""
    return DatasetFormat(
        market=None,
        source="CAISO OASIS PRC_AS",
        columns={
            "INTERVALSTARTTIME_GMT": "TIMESTAMPTZ",
            "INTERVALENDTIME_GMT": "TIMESTAMPTZ",
            "OPR_DT": "DATE",
            "OPR_HR": "INTEGER",
            "OPR_INTERVAL": "INTEGER",
            "ANC_REGION": "VARCHAR",
            "MARKET_RUN_ID": "VARCHAR",
            "ANC_TYPE": "VARCHAR",
            "XML_DATA_ITEM": "VARCHAR",
            "MW": "DOUBLE",
            "GROUP": "INTEGER",
        },
        required=(
            "INTERVALSTARTTIME_GMT",
            "INTERVALENDTIME_GMT",
            "OPR_DT",
            "ANC_REGION",
            "MARKET_RUN_ID",
            "ANC_TYPE",
            "MW",
        ),
        where_sql="MARKET_RUN_ID <> 'HASP'",
        schema=AS_SCHEMA,
        key=AS_KEY,
        interval_minutes=15,  # RTM; DAM rows are hourly. Start and end are the file's own GMT times.
        select_sql=f"""
            {mapped_sql("MARKET_RUN_ID", AS_MARKETS, "CAISO MARKET_RUN_ID")} AS market,
            INTERVALSTARTTIME_GMT AS interval_start_utc, INTERVALENDTIME_GMT AS interval_end_utc,
            OPR_DT AS operating_date, ANC_REGION AS region,
            {mapped_sql("ANC_TYPE", AS_PRODUCT_CODES, "CAISO ANC_TYPE")} AS product,
            ANC_TYPE AS product_name, MW AS price_usd_per_mw,
            0 AS _version, _file""",
    )


class CAISO(IsoConverter):
    iso_id = "caiso"
    name = "California ISO"
    timezone = "America/Los_Angeles"  # Pacific prevailing time
    # OASIS prices to 5 decimals: four roundings of at most 0.000005. LMP also includes the
    # greenhouse-gas component (MGHG, not kept), non-zero at some WEIM nodes: the check warns there.
    component_tolerance = 0.00002
    datasets = {
        "lmp_da": _oasis_lmp("DA", "PRC_LMP", 60),
        "lmp_rt": _oasis_lmp("RT", "PRC_INTVL_LMP", 5),
        "as": _as_prices(),  # ancillary-service prices (AS_SCHEMA)
    }
