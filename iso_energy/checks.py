"""Data-quality checks on one converted LMP partition (plain logic, DuckDB over the parquet file).

Each check returns a :class:`CheckOutcome`; the asset turns them into Dagster asset-check
results reported with the materialisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from iso_energy.isos.base import AS_KEY, LMP_KEY
from memsafe.budget import Budget


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)


def lmp_checks(path: Path, timezone: str, budget: Budget) -> list[CheckOutcome]:
    """Run every LMP check on the parquet file at ``path``.

    * ``unique_key``: one row per (location_id, location_type, interval_start_utc).
    * ``no_null_lmp``: every row has a total LMP.
    * ``hours_per_operating_day``: each location's intervals cover exactly the hours of its
      operating day in ``timezone``: 23 on the spring-forward day, 25 on fall-back, 24
      otherwise. The first and last operating day present may be partial (data that starts or
      ends mid-day) and are reported, not failed.
    """
    con = budget.connect()
    try:
        p = {"path": str(path)}
        key = ", ".join(LMP_KEY)
        rows, distinct, nulls = con.execute(
            f"SELECT count(*), count(DISTINCT ({key})), count(*) FILTER (WHERE lmp_usd_per_mwh IS NULL) "
            f"FROM read_parquet($path)", p).fetchone()
        hours = con.execute(
            """
            WITH d AS (
                SELECT location_id, location_type, operating_date,
                       sum(epoch(interval_end_utc - interval_start_utc)) / 3600.0 AS hours
                FROM read_parquet($path) GROUP BY ALL),
            e AS (
                SELECT *, epoch(timezone($tz, CAST(operating_date + 1 AS TIMESTAMP))
                                - timezone($tz, CAST(operating_date AS TIMESTAMP))) / 3600.0 AS expected
                FROM d),
            b AS (SELECT min(operating_date) AS lo, max(operating_date) AS hi FROM d)
            SELECT count(*) AS location_days,
                   count(*) FILTER (WHERE hours <> expected AND operating_date > lo AND operating_date < hi),
                   count(*) FILTER (WHERE hours <> expected AND (operating_date = lo OR operating_date = hi)),
                   count(*) FILTER (WHERE expected = 23), count(*) FILTER (WHERE expected = 25),
                   list(DISTINCT operating_date ORDER BY operating_date)
                       FILTER (WHERE hours <> expected AND operating_date > lo AND operating_date < hi)[:5]
            FROM e, b
            """,
            {**p, "tz": timezone},
        ).fetchone()
    finally:
        con.close()
    location_days, bad_inner, partial_edges, short_days, long_days, examples = hours
    return [
        CheckOutcome("unique_key", rows == distinct,
                     f"one row per {', '.join(LMP_KEY)}",
                     {"rows": int(rows), "duplicate_keys": int(rows - distinct)}),
        CheckOutcome("no_null_lmp", nulls == 0, "every row has a total LMP",
                     {"null_lmp_rows": int(nulls)}),
        CheckOutcome("hours_per_operating_day", bad_inner == 0,
                     f"each location covers 23/24/25 hours per operating day ({timezone})",
                     {"location_days": int(location_days), "wrong_hour_count_days": int(bad_inner),
                      "partial_edge_days": int(partial_edges), "spring_forward_location_days": int(short_days),
                      "fall_back_location_days": int(long_days),
                      "examples": [str(d) for d in (examples or [])]}),
    ]


def as_checks(path: Path, timezone: str, budget: Budget) -> list[CheckOutcome]:
    """The checks of one converted ancillary-service partition (:data:`AS_SCHEMA`).

    * ``unique_key``: one row per (market, region, product, interval_start_utc).
    * ``no_null_price``: every row has a price.
    * ``hours_per_operating_day``: each (market, region, product) series covers 23/24/25 hours
      per operating day in ``timezone``, first and last day of the file reported, not failed.
    """
    con = budget.connect()
    try:
        p = {"path": str(path), "tz": timezone}
        key = ", ".join(AS_KEY)
        rows, distinct, nulls = con.execute(
            f"SELECT count(*), count(DISTINCT ({key})), count(*) FILTER (WHERE price_usd_per_mw IS NULL) "
            f"FROM read_parquet($path)", {"path": p["path"]}).fetchone()
        series_days, bad, edges, examples = con.execute(
            """
            WITH d AS (
                SELECT market, region, product, operating_date,
                       sum(epoch(interval_end_utc - interval_start_utc)) / 3600.0 AS hours
                FROM read_parquet($path) GROUP BY ALL),
            e AS (
                SELECT *, epoch(timezone($tz, CAST(operating_date + 1 AS TIMESTAMP))
                                - timezone($tz, CAST(operating_date AS TIMESTAMP))) / 3600.0 AS expected
                FROM d),
            b AS (SELECT min(operating_date) AS lo, max(operating_date) AS hi FROM d)
            SELECT count(*),
                   count(*) FILTER (WHERE hours <> expected AND operating_date > lo AND operating_date < hi),
                   count(*) FILTER (WHERE hours <> expected AND (operating_date = lo OR operating_date = hi)),
                   list(DISTINCT operating_date ORDER BY operating_date)
                       FILTER (WHERE hours <> expected AND operating_date > lo AND operating_date < hi)[:5]
            FROM e, b
            """, p).fetchone()
    finally:
        con.close()
    return [
        CheckOutcome("unique_key", rows == distinct, f"one row per {key}",
                     {"rows": int(rows), "duplicate_keys": int(rows - distinct)}),
        CheckOutcome("no_null_price", nulls == 0, "every row has a price", {"null_price_rows": int(nulls)}),
        CheckOutcome("hours_per_operating_day", bad == 0,
                     f"each market/region/product covers 23/24/25 hours per operating day ({timezone})",
                     {"series_days": int(series_days), "wrong_hour_count_days": int(bad),
                      "partial_edge_days": int(edges), "examples": [str(d) for d in (examples or [])]}),
    ]
