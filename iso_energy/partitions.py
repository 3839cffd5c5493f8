"""Year partitions, in one place.

Dagster 1.13 has no yearly partitions class; a yearly cron time window gives keys "2015",
"2016", ... up to the current year (``end_offset=1`` exposes the year in progress). The year
is the operator's *local operating year*: see ``operating_date`` in :mod:`iso_energy.isos.schema`.

LMP assets are partitioned by operator x year (a ``MultiPartitionsDefinition``), so the UI
shows one grid of operators and years per dataset, and "backfill 2024 for every operator" is
one selection. Keys read ``"<iso>|<year>"`` (dimension names sort alphabetically), e.g.
``"pjm|2024"``.
"""

from __future__ import annotations

import dagster as dg

FIRST_YEAR = "2015"

YEARS = dg.TimeWindowPartitionsDefinition(
    start=FIRST_YEAR,
    cron_schedule="0 0 1 1 *",
    fmt="%Y",
    end_offset=1,
)


def iso_year_partitions(isos: list[str]) -> dg.MultiPartitionsDefinition:
    """Operator x year partitions over ``isos`` (lower-case operator ids)."""
    return dg.MultiPartitionsDefinition({"iso": dg.StaticPartitionsDefinition(isos), "year": YEARS})


def iso_year_key(iso: str, year: int | str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"iso": iso, "year": str(year)})
