"""PJM Interconnection: Data Miner 2 hourly LMP exports.

Source format: Data Miner 2 feeds ``da_hrl_lmps`` (day-ahead) and ``rt_hrl_lmps`` (real-time),
CSV download, one row per pnode and hour::

    datetime_beginning_utc,datetime_beginning_ept,pnode_id,pnode_name,voltage,equipment,type,
    zone,system_energy_price_da,total_lmp_da,congestion_price_da,marginal_loss_price_da,
    row_is_current,version_nbr

(``_rt`` suffixes for real time). Timestamps are ``M/D/YYYY h:mm:ss AM``; the row is keyed on
``datetime_beginning_utc`` because the EPT clock repeats ``1:00 AM`` on the fall-back day and
skips ``2:00 AM`` on the spring-forward day. The operating day is the EPT calendar date.
Superseded revisions: ``row_is_current = False`` rows are dropped; among current rows for the
same pnode and hour (overlapping exports) the highest ``version_nbr`` wins.

Ancillary-service (AS) clearing prices, the ``as`` dataset (normalised to
:data:`~iso_energy.isos.schema.AS_SCHEMA`): Data Miner 2 ``da_ancillary_services`` (day-ahead,
hourly) and ``ancillary_services`` (real-time, hourly), long format, one row per service and hour::

    datetime_beginning_utc,datetime_beginning_ept,ancillary_service,unit,value,row_is_current,version_nbr

``ancillary_service`` names the reserve zone and the product (``PJM RTO Synchronized
Reserve``, ``Mid-Atlantic/Dominion Non-Synchronized Reserve``, ``RTO Regulation Capability``);
only rows whose ``unit`` is a price are kept (``Ratio`` rows such as the mileage ratio are
not prices). Both feeds share one header, so the market comes from the file name as Data
Miner names it (``da_ancillary_services*`` -> DA, otherwise RT). Superseded revisions are
dropped as for PJM LMP. The column layout follows Data Miner's conventions; it was **not
checked against a real AS export** (there is no PJM AS sample in ``shared/data/real``).
"""

from __future__ import annotations

from iso_energy.isos.base import DatasetFormat, IsoConverter
from iso_energy.isos.schema import AS_KEY, AS_SCHEMA
from iso_energy.isos.sql import mapped_sql, utc_sql

# `type` is always filled in Data Miner's LMP feeds (HUB, ZONE, AGGREGATE, EHV, GEN, LOAD, ...);
# a row without one is a plain pricing node.
DEFAULT_LOCATION_TYPE = "PNODE"


def _hourly_lmps(suffix: str, market: str, feed: str) -> DatasetFormat:
    price = {
        f"system_energy_price_{suffix}": "DOUBLE",
        f"total_lmp_{suffix}": "DOUBLE",
        f"congestion_price_{suffix}": "DOUBLE",
        f"marginal_loss_price_{suffix}": "DOUBLE",
    }
    return DatasetFormat(
        market=market,
        source=f"PJM Data Miner 2 {feed}",
        columns={
            "datetime_beginning_utc": "TIMESTAMP",
            "datetime_beginning_ept": "TIMESTAMP",
            "pnode_id": "VARCHAR",
            "pnode_name": "VARCHAR",
            "voltage": "VARCHAR",
            "equipment": "VARCHAR",
            "type": "VARCHAR",
            "zone": "VARCHAR",
            **price,
            "row_is_current": "BOOLEAN",
            "version_nbr": "INTEGER",
        },
        required=(
            "datetime_beginning_utc",
            "datetime_beginning_ept",
            "pnode_id",
            "pnode_name",
            "type",
            f"total_lmp_{suffix}",
            "row_is_current",
            "version_nbr",
        ),
        timestampformat="%m/%d/%Y %I:%M:%S %p",
        where_sql="row_is_current",
        select_sql=f"""
            {utc_sql("datetime_beginning_utc")} AS interval_start_utc,
            {utc_sql("datetime_beginning_utc", 60)} AS interval_end_utc,
            CAST(datetime_beginning_ept AS DATE) AS operating_date,
            pnode_id AS location_id, pnode_name AS location_name,
            coalesce(nullif(trim(type), ''), '{DEFAULT_LOCATION_TYPE}') AS location_type,
            'LMP' AS price_type,
            total_lmp_{suffix} AS lmp_usd_per_mwh,
            system_energy_price_{suffix} AS energy_usd_per_mwh,
            congestion_price_{suffix} AS congestion_usd_per_mwh,
            marginal_loss_price_{suffix} AS loss_usd_per_mwh,
            version_nbr AS _version, _file""",
    )


# AS: reserve-zone prefix -> region; product suffix -> normalised product (a service matching
# neither is an error naming the file: a new product must be mapped, not passed through).
AS_REGIONS = {"PJM RTO ": "RTO", "RTO ": "RTO", "Mid-Atlantic/Dominion ": "MAD"}
AS_PRODUCT_CODES = {
    "Non-Synchronized Reserve": "NON_SPIN",
    "Synchronized Reserve": "SPIN",
    "Thirty Minutes Reserve": "SUPPLEMENTAL",
    "Primary Reserve": "PRIMARY",
    "Regulation Capability": "REG",
    "Regulation Performance": "REG_MILEAGE",
    "Regulation": "REG",
}


def _as_prices() -> DatasetFormat:
    """The ``as`` dataset: both AS feeds (one header; the market from the file name)."""
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
            {utc_sql("datetime_beginning_utc")} AS interval_start_utc,
            {utc_sql("datetime_beginning_utc", 60)} AS interval_end_utc,
            CAST(datetime_beginning_ept AS DATE) AS operating_date,
            {mapped_sql(service, AS_REGIONS, "PJM reserve zone in", "starts_with")} AS region,
            {mapped_sql(service, AS_PRODUCT_CODES, "PJM ancillary service", "ends_with")} AS product,
            ancillary_service AS product_name,
            value AS price_usd_per_mw,
            version_nbr AS _version, _file""",
    )


class PJM(IsoConverter):
    iso_id = "pjm"
    name = "PJM Interconnection"
    timezone = "America/New_York"  # Eastern prevailing time (EPT)
    # Components to 6 decimals, but the real-time system energy price to the cent: the real
    # rt_hrl_lmps sample differs from the sum by up to 0.005001 (day-ahead: exact).
    component_tolerance = 0.006
    datasets = {
        "lmp_da": _hourly_lmps("da", "DA", "da_hrl_lmps"),
        "lmp_rt": _hourly_lmps("rt", "RT", "rt_hrl_lmps"),
        "as": _as_prices(),  # ancillary-service prices (AS_SCHEMA)
    }
