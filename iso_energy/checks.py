"""Data-quality checks on one converted partition (plain logic, DuckDB over its month files).

Each check returns a :class:`CheckOutcome`; the asset turns them into Dagster asset-check
results reported with the materialisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from iso_energy.isos.partition import month_files, parquet_glob
from iso_energy.isos.schema import AS_KEY, LMP_KEY
from memsafe.budget import Budget


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)
    warn: bool = False  # reported with WARN severity (a fact about the published data, not the conversion)


def _partition_figures(
    path: Path, timezone: str, budget: Budget, key: tuple[str, ...], value: str, series: tuple[str, ...]
) -> dict[str, object]:
    """The figures every partition check reads, from the parquet file at ``path`` (DuckDB):
    row and duplicate-key counts, rows with a null ``value``, and per ``series`` and operating day
    the hours covered against the day's hours in ``timezone`` (23/24/25); days that are wrong
    strictly inside the file's date range are ``bad``, wrong first/last days are ``edges``."""
    con = budget.connect()
    try:
        p = {"path": parquet_glob(path)}
        # Keys are counted one month file at a time: every key holds interval_start_utc, which
        # lies in exactly one month file, so the sums are exact, and DuckDB's distinct set is a
        # month's keys, not the year's (at 96M rows the year's set took the step past its budget).
        rows = distinct = nulls = 0
        for part in month_files(path):
            r, d, n = con.execute(
                f"SELECT count(*), count(DISTINCT ({', '.join(key)})), count(*) FILTER (WHERE {value} IS NULL) "
                f"FROM read_parquet($path)",
                {"path": str(part)},
            ).fetchone()
            rows, distinct, nulls = rows + r, distinct + d, nulls + n
        days, bad, edges, short, long, examples = con.execute(
            f"""
            WITH d AS (
                SELECT {", ".join(series)}, operating_date,
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
                   count(*) FILTER (WHERE expected = 23), count(*) FILTER (WHERE expected = 25),
                   list(DISTINCT operating_date ORDER BY operating_date)
                       FILTER (WHERE hours <> expected AND operating_date > lo AND operating_date < hi)[:5]
            FROM e, b
            """,
            {**p, "tz": timezone},
        ).fetchone()
    finally:
        con.close()
    return {
        "rows": int(rows),
        "duplicate_keys": int(rows - distinct),
        "nulls": int(nulls),
        "days": int(days),
        "bad": int(bad),
        "edges": int(edges),
        "short": int(short),
        "long": int(long),
        "examples": [str(d) for d in (examples or [])],
    }


def lmp_checks(path: Path, timezone: str, budget: Budget) -> list[CheckOutcome]:
    """Run every LMP check on the parquet file at ``path``.

    * ``unique_key``: one row per (location_id, location_type, interval_start_utc).
    * ``no_null_lmp``: every row has a total LMP.
    * ``hours_per_operating_day``: each location's intervals cover exactly the hours of its
      operating day in ``timezone``: 23 on the spring-forward day, 25 on fall-back, 24
      otherwise. The first and last operating day present may be partial (data that starts or
      ends mid-day) and are reported, not failed.
    """
    f = _partition_figures(path, timezone, budget, LMP_KEY, "lmp_usd_per_mwh", ("location_id", "location_type"))
    return [
        CheckOutcome(
            "unique_key",
            f["duplicate_keys"] == 0,
            f"one row per {', '.join(LMP_KEY)}",
            {"rows": f["rows"], "duplicate_keys": f["duplicate_keys"]},
        ),
        CheckOutcome("no_null_lmp", f["nulls"] == 0, "every row has a total LMP", {"null_lmp_rows": f["nulls"]}),
        CheckOutcome(
            "hours_per_operating_day",
            f["bad"] == 0,
            f"each location covers 23/24/25 hours per operating day ({timezone})",
            {
                "location_days": f["days"],
                "wrong_hour_count_days": f["bad"],
                "partial_edge_days": f["edges"],
                "spring_forward_location_days": f["short"],
                "fall_back_location_days": f["long"],
                "examples": f["examples"],
            },
        ),
    ]


def as_checks(path: Path, timezone: str, budget: Budget) -> list[CheckOutcome]:
    """The checks of one converted ancillary-service partition (:data:`AS_SCHEMA`).

    * ``unique_key``: one row per (market, region, product, interval_start_utc).
    * ``no_null_price``: every row has a price.
    * ``hours_per_operating_day``: each (market, region, product) series covers 23/24/25 hours
      per operating day in ``timezone``, first and last day of the file reported, not failed.
    """
    f = _partition_figures(path, timezone, budget, AS_KEY, "price_usd_per_mw", ("market", "region", "product"))
    return [
        CheckOutcome(
            "unique_key",
            f["duplicate_keys"] == 0,
            f"one row per {', '.join(AS_KEY)}",
            {"rows": f["rows"], "duplicate_keys": f["duplicate_keys"]},
        ),
        CheckOutcome("no_null_price", f["nulls"] == 0, "every row has a price", {"null_price_rows": f["nulls"]}),
        CheckOutcome(
            "hours_per_operating_day",
            f["bad"] == 0,
            f"each market/region/product covers 23/24/25 hours per operating day ({timezone})",
            {
                "series_days": f["days"],
                "wrong_hour_count_days": f["bad"],
                "partial_edge_days": f["edges"],
                "examples": f["examples"],
            },
        ),
    ]


def lmp_component_check(path: Path, tolerance: float | None, budget: Budget) -> CheckOutcome:
    """``lmp_equals_components`` (WARN): on rows with every component, ``|lmp - (energy +
    congestion + loss)| <= tolerance``, the operator's published rounding in USD/MWh
    (``IsoConverter.component_tolerance``). Operators that publish no full set of components
    (``tolerance`` None) pass with ``rows_checked = 0``. Metadata: rows checked and off, the
    largest difference, up to 5 examples (location_id, interval_start_utc, difference)."""
    if tolerance is None:
        return CheckOutcome(
            "lmp_equals_components",
            True,
            "the operator publishes no full set of components",
            {"rows_checked": 0, "tolerance_usd_per_mwh": None},
            warn=True,
        )
    diff = "abs(lmp_usd_per_mwh - (energy_usd_per_mwh + congestion_usd_per_mwh + loss_usd_per_mwh))"
    con = budget.connect()
    try:
        params = {"path": parquet_glob(path), "tol": tolerance}
        checked, off, largest = con.execute(
            f"SELECT count({diff}), count(*) FILTER (WHERE {diff} > $tol), max({diff}) FROM read_parquet($path)",
            params,
        ).fetchone()
        # The five largest differences (a top-N: bounded, however many rows are off).
        examples = con.execute(
            f"SELECT [location_id, CAST(interval_start_utc AS VARCHAR), CAST(round({diff}, 6) AS VARCHAR)] "
            f"FROM read_parquet($path) WHERE {diff} > $tol ORDER BY {diff} DESC LIMIT 5",
            params,
        ).fetchall()
        examples = [e[0] for e in examples]
    finally:
        con.close()
    return CheckOutcome(
        "lmp_equals_components",
        off == 0,
        f"lmp = energy + congestion + loss within {tolerance} USD/MWh (published rounding)",
        {
            "rows_checked": int(checked),
            "rows_off": int(off),
            "tolerance_usd_per_mwh": tolerance,
            "max_difference_usd_per_mwh": round(float(largest or 0), 6),
            "examples": [" ".join(e) for e in (examples or [])],
        },
        warn=True,
    )


def revision_check(conflicting_revisions: int, example: str | None) -> CheckOutcome:
    """``no_conflicting_revisions``: no two rows of one key and one version with different values
    (the conversion kept the last file's; see ``ConversionStats.conflicting_revisions``)."""
    return CheckOutcome(
        "no_conflicting_revisions",
        conflicting_revisions == 0,
        "no key published twice under one version with different values",
        {"conflicting_revisions": conflicting_revisions, "example": example or ""},
        warn=True,
    )
