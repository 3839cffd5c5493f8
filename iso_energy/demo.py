"""The iso_energy part of the demo: sample files -> every operator's LMP partitions, via Dagster.

Each (operator, year) partition is one run of ``lmp_job`` on the real instance, launched from a
pool of more worker processes than the ``iso_conversion`` pool allows, so the demo itself shows
Dagster holding conversions to the limit.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import dagster as dg

from iso_energy.instance import apply_pool_limit, reap_dead_runs
from iso_energy.isos import ISOS
from iso_energy.sample import DATASETS, generate

SAMPLE_START, SAMPLE_END = date(2023, 10, 15), date(2024, 3, 20)  # both DST transitions
SAMPLE_YEARS = (2023, 2024)
WORKERS = 4  # more than the pool's 2, on purpose


def lmp_job_def() -> dg.JobDefinition:
    """Module-level job factory for ``dg.reconstructable`` (run workers re-import it)."""
    from iso_energy.definitions import defs

    return defs.resolve_job_def("lmp_job")


def _run_partition(instance_ref, key: str) -> list[dict]:
    with dg.DagsterInstance.from_ref(instance_ref) as instance:
        result = dg.execute_job(
            dg.reconstructable(lmp_job_def), instance=instance,
            run_config={"execution": {"config": {"in_process": {}}},
                        "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            # The tags a backfill run carries for a multi-dimensional key.
            tags={"dagster/partition": key, **{f"dagster/partition/{dim}": v for dim, v in
                                               zip(("iso", "year"), key.split("|"), strict=True)}},
        )
        rows = []
        for ev in result.get_asset_materialization_events():
            mat = ev.materialization
            md = {k: v.value for k, v in mat.metadata.items()}
            rows.append({"location": "iso_energy", "asset": mat.asset_key.to_user_string(),
                         "partition": key, "rows": md.get("rows_out"), "bytes": md.get("bytes_out"),
                         "seconds": md.get("seconds"), "peak_rss_mb": md.get("peak_rss_mb")})
        if not result.success:
            rows.append({"location": "iso_energy", "asset": "lmp_job", "partition": key, "rows": None,
                         "bytes": None, "seconds": None, "peak_rss_mb": None, "error": "run failed"})
        return rows


def run(instance: dg.DagsterInstance, root: Path) -> list[dict]:
    """Generate sample files where none exist, then convert every operator x sample year."""
    from iso_energy.definitions import CONVERSION

    missing = [iso for iso in ISOS if not all((root / "raw" / iso / ds).is_dir() for ds in DATASETS)]
    if missing:
        files = generate(root, SAMPLE_START, SAMPLE_END, isos=missing)
        print(f"generated {len(files)} sample files for {', '.join(missing)} under {root / 'raw'}")
    reap_dead_runs(instance)
    apply_pool_limit(instance, CONVERSION)
    return run_partitions(instance, [f"{iso}|{year}" for iso in ISOS for year in SAMPLE_YEARS])


def run_partitions(instance: dg.DagsterInstance, keys: list[str], workers: int = WORKERS) -> list[dict]:
    """One ``lmp_job`` run per ``"<iso>|<year>"`` key, from ``workers`` spawned processes sharing
    ``instance`` (which must be persistent: pools are not enforced on an ephemeral instance)."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        futures = [pool.submit(_run_partition, instance.get_ref(), k) for k in keys]
        return [row for f in futures for row in f.result()]
