"""ERCOT: settlement point prices (ERCOT's nodal LMP-based prices), MIS public reports.

Source formats:

* NP4-190-CD, DAM Settlement Point Prices (day-ahead, hourly)::

      DeliveryDate,HourEnding,SettlementPoint,SettlementPointPrice,DSTFlag

* NP6-905-CD, Settlement Point Prices at Resource Nodes, Hubs and Load Zones (real-time,
  15-minute)::

      DeliveryDate,DeliveryHour,DeliveryInterval,SettlementPointName,SettlementPointType,
      SettlementPointPrice,DSTFlag

``DeliveryDate`` is ``MM/DD/YYYY`` in Central prevailing time and is the operating day;
``HourEnding`` runs ``01:00`` .. ``24:00`` (``24:00`` ends the day) and ``DeliveryHour`` 1..24.
``DSTFlag = Y`` marks the repeated hour on the fall-back day. Prices may carry leading spaces.
ERCOT publishes one price per settlement point (no energy/congestion/loss split): the
components are null. A settlement point price is not a nodal LMP (at hubs and load zones it
averages many buses; in real time it is a 15-minute average with adders), so the rows carry
``price_type = 'SPP'``. A settlement point name can repeat with another type in real time, so
the type is part of the key; in day-ahead files the type is derived from the name prefix
using ERCOT's real-time codes (``HB_`` -> ``HU``, ``LZ_`` -> ``LZ``, otherwise ``RN``); an empty
real-time type is ``RN`` too.

Ancillary-service (AS) clearing prices, the ``as`` dataset (normalised to
:data:`~iso_energy.isos.schema.AS_SCHEMA`): NP4-188-CD, DAM clearing prices for capacity
(hourly)::

    DeliveryDate,HourEnding,AncillaryType,MCPC,DSTFlag

Central prevailing time as ERCOT's NP4-190-CD (``24:00`` ends the day, ``DSTFlag=Y`` the
repeated hour); one system-wide price per product (region ``ERCOT``).
"""

from __future__ import annotations

from iso_energy.isos.base import DatasetFormat, IsoConverter
from iso_energy.isos.schema import AS_KEY, AS_SCHEMA
from iso_energy.isos.sql import local_to_utc_sql, mapped_sql

TZ = "America/Chicago"
# Name prefix -> ERCOT settlement point type code, for day-ahead files that carry no type.
POINT_TYPE_BY_PREFIX = {"HB_": "HU", "LZ_": "LZ"}
DEFAULT_POINT_TYPE = "RN"
_TYPE_CASE = (
    "CASE "
    + " ".join(f"WHEN starts_with(SettlementPoint, '{p}') THEN '{t}'" for p, t in POINT_TYPE_BY_PREFIX.items())
    + f" ELSE '{DEFAULT_POINT_TYPE}' END"
)
_REPEATED = "upper(trim(DSTFlag)) = 'Y'"

# Hourly reports (DAM prices, AS clearing prices): the hour's start from DeliveryDate + HourEnding.
_HOURLY_LOCAL = "(DeliveryDate + (CAST(split_part(trim(HourEnding), ':', 1) AS INTEGER) - 1) * INTERVAL 1 HOUR)"
_HOURLY_START = local_to_utc_sql(_HOURLY_LOCAL, TZ, _REPEATED)
_RT_LOCAL = "(DeliveryDate + (DeliveryHour - 1) * INTERVAL 1 HOUR + (DeliveryInterval - 1) * INTERVAL 15 MINUTE)"


# ERCOT's Responsive Reserve (RRS) and ERCOT Contingency Reserve (ECRS) have no exact common
# equivalent, so they keep ERCOT's names.
AS_PRODUCT_CODES = {"REGUP": "REG_UP", "REGDN": "REG_DOWN", "RRS": "RRS", "NSPIN": "NON_SPIN", "ECRS": "ECRS"}


def _as_prices() -> DatasetFormat:
    """The ``as`` dataset: day-ahead AS clearing prices, one system-wide price per product."""
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
            {_HOURLY_START} AS interval_start_utc,
            {_HOURLY_START} + INTERVAL 1 HOUR AS interval_end_utc,
            DeliveryDate AS operating_date, 'ERCOT' AS region,
            {mapped_sql("trim(AncillaryType)", AS_PRODUCT_CODES, "ERCOT AncillaryType")} AS product,
            trim(AncillaryType) AS product_name, MCPC AS price_usd_per_mw,
            0 AS _version, _file""",
    )


class ERCOT(IsoConverter):
    iso_id = "ercot"
    name = "Electric Reliability Council of Texas"
    timezone = TZ
    component_tolerance = None  # settlement point prices carry no components
    datasets = {
        "lmp_da": DatasetFormat(
            market="DA",
            source="ERCOT NP4-190-CD DAM Settlement Point Prices",
            columns={
                "DeliveryDate": "DATE",
                "HourEnding": "VARCHAR",
                "SettlementPoint": "VARCHAR",
                "SettlementPointPrice": "DOUBLE",
                "DSTFlag": "VARCHAR",
            },
            required=("DeliveryDate", "HourEnding", "SettlementPoint", "SettlementPointPrice", "DSTFlag"),
            dateformat="%m/%d/%Y",
            select_sql=f"""
                {_HOURLY_START} AS interval_start_utc,
                {_HOURLY_START} + INTERVAL 1 HOUR AS interval_end_utc,
                DeliveryDate AS operating_date,
                SettlementPoint AS location_id, SettlementPoint AS location_name,
                {_TYPE_CASE} AS location_type,
                'SPP' AS price_type,
                SettlementPointPrice AS lmp_usd_per_mwh,
                CAST(NULL AS DOUBLE) AS energy_usd_per_mwh,
                CAST(NULL AS DOUBLE) AS congestion_usd_per_mwh,
                CAST(NULL AS DOUBLE) AS loss_usd_per_mwh,
                0 AS _version, _file""",
        ),
        "lmp_rt": DatasetFormat(
            market="RT",
            source="ERCOT NP6-905-CD Settlement Point Prices",
            columns={
                "DeliveryDate": "DATE",
                "DeliveryHour": "INTEGER",
                "DeliveryInterval": "INTEGER",
                "SettlementPointName": "VARCHAR",
                "SettlementPointType": "VARCHAR",
                "SettlementPointPrice": "DOUBLE",
                "DSTFlag": "VARCHAR",
            },
            required=(
                "DeliveryDate",
                "DeliveryHour",
                "DeliveryInterval",
                "SettlementPointName",
                "SettlementPointType",
                "SettlementPointPrice",
                "DSTFlag",
            ),
            dateformat="%m/%d/%Y",
            interval_minutes=15,
            select_sql=f"""
                {local_to_utc_sql(_RT_LOCAL, TZ, _REPEATED)} AS interval_start_utc,
                {local_to_utc_sql(_RT_LOCAL, TZ, _REPEATED)} + INTERVAL 15 MINUTE AS interval_end_utc,
                DeliveryDate AS operating_date,
                SettlementPointName AS location_id, SettlementPointName AS location_name,
                coalesce(nullif(trim(SettlementPointType), ''), '{DEFAULT_POINT_TYPE}') AS location_type,
                'SPP' AS price_type,
                SettlementPointPrice AS lmp_usd_per_mwh,
                CAST(NULL AS DOUBLE) AS energy_usd_per_mwh,
                CAST(NULL AS DOUBLE) AS congestion_usd_per_mwh,
                CAST(NULL AS DOUBLE) AS loss_usd_per_mwh,
                0 AS _version, _file""",
        ),
        "as": _as_prices(),  # ancillary-service prices (AS_SCHEMA)
    }
