"""CAISO: OASIS LMP reports.

Source format: OASIS ``PRC_LMP`` (day-ahead market, hourly) and ``PRC_INTVL_LMP`` (real-time
market, 5-minute intervals), CSV, in *long* form: one row per node, interval and price
component, ``LMP_TYPE`` in ``LMP`` (total), ``MCE`` (energy), ``MCC`` (congestion), ``MCL``
(loss), ``MGHG`` (greenhouse gas, not kept). Full column list::

    INTERVALSTARTTIME_GMT,INTERVALENDTIME_GMT,OPR_DT,OPR_HR,OPR_INTERVAL,NODE_ID_XML,NODE_ID,
    NODE,MARKET_RUN_ID,LMP_TYPE,XML_DATA_ITEM,PNODE_RESMRID,GRP_TYPE,POS,MW,GROUP

Files saved from the API may drop columns (the real sample keeps 8 of 16); only the ones in
``required`` must be there. Interval times are ISO 8601 GMT with the literal offset ``-00:00``;
``OPR_DT`` is the Pacific operating date (23 hours on the spring-forward day, 25 on fall-back).
The components are pivoted to one row per node and interval; CAISO publishes no node type.
"""

from __future__ import annotations

from iso_energy.isos.ancillary import caiso_as
from iso_energy.isos.base import DatasetFormat, IsoConverter

OASIS_COLUMNS = {
    "INTERVALSTARTTIME_GMT": "TIMESTAMPTZ", "INTERVALENDTIME_GMT": "TIMESTAMPTZ",
    "OPR_DT": "DATE", "OPR_HR": "INTEGER", "OPR_INTERVAL": "INTEGER", "NODE_ID_XML": "VARCHAR",
    "NODE_ID": "VARCHAR", "NODE": "VARCHAR", "MARKET_RUN_ID": "VARCHAR", "LMP_TYPE": "VARCHAR",
    "XML_DATA_ITEM": "VARCHAR", "PNODE_RESMRID": "VARCHAR", "GRP_TYPE": "VARCHAR",
    "POS": "INTEGER", "MW": "DOUBLE", "GROUP": "INTEGER",
}
REQUIRED = ("INTERVALSTARTTIME_GMT", "INTERVALENDTIME_GMT", "OPR_DT", "NODE_ID", "LMP_TYPE", "MW")
# LMP_TYPE -> normalised column. Data, not code: a new component is one more line.
COMPONENTS = {
    "LMP": "lmp_usd_per_mwh", "MCE": "energy_usd_per_mwh",
    "MCC": "congestion_usd_per_mwh", "MCL": "loss_usd_per_mwh",
}
_PIVOT = ",\n".join(
    f"max(MW) FILTER (WHERE LMP_TYPE = '{code}') AS {column}" for code, column in COMPONENTS.items()
)


def _oasis_lmp(market: str, report: str, minutes: int) -> DatasetFormat:
    return DatasetFormat(
        market=market,
        source=f"CAISO OASIS {report}",
        columns=OASIS_COLUMNS,
        required=REQUIRED,
        group_by_sql="NODE_ID, INTERVALSTARTTIME_GMT, INTERVALENDTIME_GMT, OPR_DT",
        select_sql=f"""
            INTERVALSTARTTIME_GMT AS interval_start_utc,
            INTERVALENDTIME_GMT AS interval_end_utc,
            OPR_DT AS operating_date,
            NODE_ID AS location_id, coalesce(any_value(NODE), NODE_ID) AS location_name,
            CAST(NULL AS VARCHAR) AS location_type,
            {_PIVOT},
            0 AS _version, max(_file) AS _file""",
        interval_minutes=minutes,
    )


class CAISO(IsoConverter):
    iso_id = "caiso"
    name = "California ISO"
    timezone = "America/Los_Angeles"  # Pacific prevailing time
    datasets = {
        "lmp_da": _oasis_lmp("DA", "PRC_LMP", 60),
        "lmp_rt": _oasis_lmp("RT", "PRC_INTVL_LMP", 5),
        "as": caiso_as(),  # ancillary-service prices, see iso_energy.isos.ancillary
    }
