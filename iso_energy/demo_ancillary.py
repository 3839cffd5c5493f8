"""The second half of the iso_energy demo, run after :mod:`iso_energy.demo` (the LMP grid):
ancillary-service sample files -> ``as_prices`` for every operator publishing them, through
Dagster on the real instance and the same ``iso_conversion`` pool, then ``price_catalog`` (the
DuckDB views over every partition), whose answer per view is printed.

Its runs go to the worker processes :mod:`iso_energy.demo` started (already warm), which it
then stops; ``memsafe.demo`` runs both.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg

from iso_energy.demo import SAMPLE_END, SAMPLE_START, SAMPLE_YEARS, close_workers, run_partitions
from iso_energy.instance import apply_pool_limit
from iso_energy.isos import isos_with
from iso_energy.sample import AS_DATASET, generate


def _row(asset: str, key: str, md: dict, error: str | None = None) -> dict:
    row = {
        "location": "iso_energy",
        "asset": asset,
        "partition": key,
        "rows": md.get("rows_out"),
        "bytes": md.get("bytes_out"),
        "seconds": md.get("seconds"),
        "peak_rss_mb": md.get("peak_rss_mb"),
    }
    if error:
        row["error"] = error
    return row


def build_catalog(instance: dg.DagsterInstance) -> list[dict]:
    """Materialise ``price_catalog`` with the location's own resources; print what it covers."""
    from iso_energy.assets import price_catalog
    from iso_energy.definitions import defs

    result = dg.materialize(
        [price_catalog],
        instance=instance,
        resources=dict(defs.resources),
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        raise_on_error=False,
    )
    if not result.success:
        return [_row("price_catalog", "-", {}, error="run failed")]
    md = {k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()}
    print(f"catalog {md['path']}: lmp over {md['lmp_isos']}; ancillary_services over {md['ancillary_services_isos']}")
    return [_row("price_catalog", "-", {"rows_out": md["lmp_rows"] + md["ancillary_services_rows"]})]


def planned(root: Path) -> int:
    """How many materialisations :func:`run` reports."""
    return len(isos_with(AS_DATASET)) * len(SAMPLE_YEARS) + 1


def run(instance: dg.DagsterInstance, root: Path, progress: Callable[[dict], None] | None = None) -> list[dict]:
    """Generate AS sample files where none exist, convert every AS operator x sample year (in the
    worker processes the LMP demo started), then build the catalog over everything converted so far."""
    from iso_energy.definitions import CONVERSION

    isos = isos_with(AS_DATASET)
    missing = [iso for iso in isos if not (root / "raw" / iso / AS_DATASET).is_dir()]
    if missing:
        files = generate(root, SAMPLE_START, SAMPLE_END, isos=missing, datasets=[AS_DATASET])
        print(f"generated {len(files)} ancillary-service sample files for {', '.join(missing)}")
    apply_pool_limit(instance, CONVERSION)
    keys = [f"{iso}|{year}" for year in SAMPLE_YEARS for iso in isos]
    try:
        rows = run_partitions(instance, keys, job="as_job", progress=progress)
    finally:
        close_workers()
    catalog = build_catalog(instance)
    if progress is not None:
        for row in catalog:
            progress(row)
    return rows + catalog
