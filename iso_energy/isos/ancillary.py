"""Ancillary-service (AS) clearing prices: the ``as`` dataset of PJM, CAISO and ERCOT.

Normalised to :data:`~iso_energy.isos.base.AS_SCHEMA` (one price per market, region, product
and interval, USD/MW) by the same base pipeline as LMP. Each operator's codes map to the common
products in a table below; a code missing from its table is an error naming the file (a new
product must be mapped, not silently passed through). Source formats:

* **PJM** Data Miner 2 ``da_ancillary_services`` (day-ahead, hourly) and ``ancillary_services``
  (real-time, hourly), long format, one row per service and hour::

      datetime_beginning_utc,datetime_beginning_ept,ancillary_service,unit,value,row_is_current,version_nbr

  ``ancillary_service`` names the reserve zone and the product (``PJM RTO Synchronized
  Reserve``, ``Mid-Atlantic/Dominion Non-Synchronized Reserve``, ``RTO Regulation Capability``);
  only rows whose ``unit`` is a price are kept (``Ratio`` rows such as the mileage ratio are
  not prices). Both feeds share one header, so the market comes from the file name as Data
  Miner names it (``da_ancillary_services*`` -> DA, otherwise RT). Superseded revisions are
  dropped as for PJM LMP. The column layout follows Data Miner's conventions; it was **not
  checked against a real AS export** (there is no PJM AS sample in ``shared/data/real``).
* **CAISO** OASIS ``PRC_AS`` (AS clearing prices), long format::

      INTERVALSTARTTIME_GMT,INTERVALENDTIME_GMT,OPR_DT,OPR_HR,OPR_INTERVAL,ANC_REGION,
      MARKET_RUN_ID,ANC_TYPE,XML_DATA_ITEM,MW,GROUP

  ``MW`` holds the price ($/MW) despite its name; ``ANC_REGION`` is the AS region
  (``AS_CAISO_EXP``, ``AS_SP26_EXP``, ...); ``MARKET_RUN_ID`` ``DAM`` -> DA, ``RTM`` -> RT
  (15-minute); the hour-ahead advisory run (``HASP``) is not kept.
* **ERCOT** NP4-188-CD, DAM clearing prices for capacity (hourly)::

      DeliveryDate,HourEnding,AncillaryType,MCPC,DSTFlag

  Central prevailing time as ERCOT's NP4-190-CD (``24:00`` ends the day, ``DSTFlag=Y`` the
  repeated hour); one system-wide price per product (region ``ERCOT``).
"""

from __future__ import annotations

from iso_energy.isos.base import DatasetFormat
from iso_energy.isos.schema import AS_KEY, AS_SCHEMA
from iso_energy.isos.sql import local_to_utc_sql, mapped_sql

PJM_TZ, ERCOT_TZ = "America/New_York", "America/Chicago"

# PJM: reserve-zone prefix -> region; product suffix -> normalised product.
PJM_REGIONS = {"PJM RTO ": "RTO", "RTO ": "RTO", "Mid-Atlantic/Dominion ": "MAD"}
PJM_PRODUCTS = {
    "Non-Synchronized Reserve": "NON_SPIN",
    "Synchronized Reserve": "SPIN",
    "Thirty Minutes Reserve": "SUPPLEMENTAL",
    "Primary Reserve": "PRIMARY",
    "Regulation Capability": "REG",
    "Regulation Performance": "REG_MILEAGE",
    "Regulation": "REG",
}
CAISO_PRODUCTS = {
    "RU": "REG_UP",
    "RD": "REG_DOWN",
    "RMU": "REG_MILEAGE_UP",
    "RMD": "REG_MILEAGE_DOWN",
    "SR": "SPIN",
    "NR": "NON_SPIN",
}
CAISO_MARKETS = {"DAM": "DA", "RTM": "RT"}
# ERCOT's Responsive Reserve (RRS) and ERCOT Contingency Reserve (ECRS) have no exact common
# equivalent, so they keep ERCOT's names.
ERCOT_PRODUCTS = {"REGUP": "REG_UP", "REGDN": "REG_DOWN", "RRS": "RRS", "NSPIN": "NON_SPIN", "ECRS": "ECRS"}


def pjm_as() -> DatasetFormat:
    service = "trim(ancillary_service)"
    return DatasetFormat(
        market=None,
        source="PJM Data Miner 2 da_ancillary_services / ancillary_services",
        columns={
            "datetime_beginning_utc": "TIMESTAMP",
            "datetime_beginning_ept": "TIMESTAMP",
            "ancillary_service": "VARCHAR",
            "unit": "VARCHAR",
            "value": "DOUBLE",
            "row_is_current": "BOOLEAN",
            "version_nbr": "INTEGER",
        },
        required=(
            "datetime_beginning_utc",
            "datetime_beginning_ept",
            "ancillary_service",
            "unit",
            "value",
            "row_is_current",
            "version_nbr",
        ),
        timestampformat="%m/%d/%Y %I:%M:%S %p",
        where_sql="row_is_current AND lower(trim(unit)) = 'price'",
        schema=AS_SCHEMA,
        key=AS_KEY,
        select_sql=f"""
            CASE WHEN starts_with(parse_filename(_file), 'da_') THEN 'DA' ELSE 'RT' END AS market,
            timezone('UTC', datetime_beginning_utc) AS interval_start_utc,
            timezone('UTC', datetime_beginning_utc) + INTERVAL 1 HOUR AS interval_end_utc,
            CAST(datetime_beginning_ept AS DATE) AS operating_date,
            {mapped_sql(service, PJM_REGIONS, "PJM reserve zone in", "starts_with")} AS region,
            {mapped_sql(service, PJM_PRODUCTS, "PJM ancillary service", "ends_with")} AS product,
            ancillary_service AS product_name,
            value AS price_usd_per_mw,
            version_nbr AS _version, _file""",
    )


def caiso_as() -> DatasetFormat:
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
            {mapped_sql("MARKET_RUN_ID", CAISO_MARKETS, "CAISO MARKET_RUN_ID")} AS market,
            INTERVALSTARTTIME_GMT AS interval_start_utc, INTERVALENDTIME_GMT AS interval_end_utc,
            OPR_DT AS operating_date, ANC_REGION AS region,
            {mapped_sql("ANC_TYPE", CAISO_PRODUCTS, "CAISO ANC_TYPE")} AS product,
            ANC_TYPE AS product_name, MW AS price_usd_per_mw,
            0 AS _version, _file""",
    )


_ERCOT_LOCAL = "(DeliveryDate + (CAST(split_part(trim(HourEnding), ':', 1) AS INTEGER) - 1) * INTERVAL 1 HOUR)"
_ERCOT_START = local_to_utc_sql(_ERCOT_LOCAL, ERCOT_TZ, "upper(trim(DSTFlag)) = 'Y'")


def ercot_as() -> DatasetFormat:
    return DatasetFormat(
        market="DA",
        source="ERCOT NP4-188-CD DAM Clearing Prices for Capacity",
        columns={
            "DeliveryDate": "DATE",
            "HourEnding": "VARCHAR",
            "AncillaryType": "VARCHAR",
            "MCPC": "DOUBLE",
            "DSTFlag": "VARCHAR",
        },
        required=("DeliveryDate", "HourEnding", "AncillaryType", "MCPC", "DSTFlag"),
        dateformat="%m/%d/%Y",
        schema=AS_SCHEMA,
        key=AS_KEY,
        select_sql=f"""
            {_ERCOT_START} AS interval_start_utc,
            {_ERCOT_START} + INTERVAL 1 HOUR AS interval_end_utc,
            DeliveryDate AS operating_date, 'ERCOT' AS region,
            {mapped_sql("trim(AncillaryType)", ERCOT_PRODUCTS, "ERCOT AncillaryType")} AS product,
            trim(AncillaryType) AS product_name, MCPC AS price_usd_per_mw,
            0 AS _version, _file""",
    )
