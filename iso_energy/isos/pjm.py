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
"""

from __future__ import annotations

from iso_energy.isos.ancillary import pjm_as
from iso_energy.isos.base import DatasetFormat, IsoConverter

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
            CAST(datetime_beginning_utc AS TIMESTAMPTZ) AS interval_start_utc,
            CAST(datetime_beginning_utc AS TIMESTAMPTZ) + INTERVAL 1 HOUR AS interval_end_utc,
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
        "as": pjm_as(),  # ancillary-service prices, see iso_energy.isos.ancillary
    }
