"""The second half of the iso_energy demo, run after :mod:`iso_energy.demo` (the LMP grid):
ancillary-service sample files -> ``as_prices`` for every operator publishing them, through
Dagster on the real instance and the same ``iso_conversion`` pool, then ``price_catalog`` (the
DuckDB views over every partition), whose answer per view is printed.

Kept apart from :mod:`iso_energy.demo` so the LMP demo stays as it is; ``memsafe.demo`` runs
both.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import dagster as dg

from iso_energy.demo import SAMPLE_END, SAMPLE_START, SAMPLE_YEARS, WORKERS
from iso_energy.instance import apply_pool_limit
from iso_energy.isos import isos_with
from iso_energy.sample import AS_DATASET, generate


def as_job_def() -> dg.JobDefinition:
    """Module-level job factory for ``dg.reconstructable`` (run workers re-import it)."""
    from iso_energy.definitions import defs

    return defs.resolve_job_def("as_job")


def _row(asset: str, key: str, md: dict, error: str | None = None) -> dict:
    row = {"location": "iso_energy", "asset": asset, "partition": key, "rows": md.get("rows_out"),
           "bytes": md.get("bytes_out"), "seconds": md.get("seconds"), "peak_rss_mb": md.get("peak_rss_mb")}
    if error:
        row["error"] = error
    return row


def _run_partition(instance_ref, key: str) -> list[dict]:
    with dg.DagsterInstance.from_ref(instance_ref) as instance:
        result = dg.execute_job(
            dg.reconstructable(as_job_def), instance=instance,
            run_config={"execution": {"config": {"in_process": {}}},
                        "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            tags={"dagster/partition": key, **{f"dagster/partition/{dim}": v for dim, v in
                                               zip(("iso", "year"), key.split("|"), strict=True)}},
        )
        rows = [_row(ev.materialization.asset_key.to_user_string(), key,
                     {k: v.value for k, v in ev.materialization.metadata.items()})
                for ev in result.get_asset_materialization_events()]
        if not result.success:
            rows.append(_row("as_job", key, {}, error="run failed"))
        return rows


def build_catalog(instance: dg.DagsterInstance) -> list[dict]:
    """Materialise ``price_catalog`` with the location's own resources; print what it covers."""
    from iso_energy.assets import price_catalog
    from iso_energy.definitions import defs

    result = dg.materialize([price_catalog], instance=instance, resources=dict(defs.resources),
                            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
                            raise_on_error=False)
    if not result.success:
        return [_row("price_catalog", "-", {}, error="run failed")]
    md = {k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()}
    print(f"catalog {md['path']}: lmp over {md['lmp_isos']}; ancillary_services over {md['ancillary_services_isos']}")
    return [_row("price_catalog", "-", {"rows_out": md["lmp_rows"] + md["ancillary_services_rows"]})]


def run(instance: dg.DagsterInstance, root: Path) -> list[dict]:
    """Generate AS sample files where none exist, convert every AS operator x sample year, then
    build the catalog over everything converted so far."""
    from iso_energy.definitions import CONVERSION

    isos = isos_with(AS_DATASET)
    missing = [iso for iso in isos if not (root / "raw" / iso / AS_DATASET).is_dir()]
    if missing:
        files = generate(root, SAMPLE_START, SAMPLE_END, isos=missing, datasets=[AS_DATASET])
        print(f"generated {len(files)} ancillary-service sample files for {', '.join(missing)}")
    apply_pool_limit(instance, CONVERSION)
    keys = [f"{iso}|{year}" for iso in isos for year in SAMPLE_YEARS]
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_run_partition, instance.get_ref(), k) for k in keys]
        rows = [row for f in futures for row in f.result()]
    return rows + build_catalog(instance)
