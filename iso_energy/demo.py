"""The iso_energy part of the demo: sample files -> every operator's LMP partitions, via Dagster.

Each (operator, year) partition is one run of ``lmp_job`` on the real instance, two runs at a
time: four conversion steps for the ``iso_conversion`` pool's two slots, so the demo itself shows
Dagster holding conversions to the limit.

Where the time went (34 conversions, 2 cores, measured from the instance's step events): a step
held its pool slot for about 11 s to do 0.3-3 s of work, because each step process re-imported
dagster and the converters (the forkserver preloaded only this module, not the definitions) and
because an operator's two years indexed the same raw files at once. So the location's executor
now preloads ``iso_energy.definitions`` in its forkserver (each conversion still runs in its own
process), the worker processes are started once and reused for every run, ``lmp_job`` and
``as_job`` share them, and every operator's first year runs before any second year, so the
second finds the file index built. The runs' own Dagster log lines go to the demo's log file
(:mod:`memsafe.demo`), not the terminal.

Second round (2026-12-02, quiet 2-core machine, ``make demo`` after setup: 138 s -> 83 s): a
step forked from a warm forkserver still imported the instance's storage modules (0.9 s of CPU,
now preloaded by :mod:`memsafe.step_preload`); each worker's step forkserver was started by its
first run, whose steps waited about 6 s for it while holding their pool slots (now started by
the worker initializer, while the sample files are written); and four workers meant four
worker imports and four forkservers for no more conversions at once than two workers give.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from datetime import date
from pathlib import Path

import dagster as dg

from iso_energy.isos import ISOS

# Each step process forked for a run re-imports this module (its job factories below are the
# runs' reconstructable target), so what only run() needs (the sample generator, the instance
# helpers: 0.4 s of CPU per step) is imported there.

SAMPLE_START, SAMPLE_END = date(2023, 10, 15), date(2024, 3, 20)  # both DST transitions
SAMPLE_YEARS = (2023, 2024)
WORKERS = 2  # two runs in flight: four conversion steps for the pool's two slots

_POOL: ProcessPoolExecutor | None = None


def lmp_job_def() -> dg.JobDefinition:
    """Module-level job factory for ``dg.reconstructable`` (run workers re-import it)."""
    from iso_energy.definitions import defs

    return defs.resolve_job_def("lmp_job")


def as_job_def() -> dg.JobDefinition:
    """Module-level job factory for ``dg.reconstructable`` (run workers re-import it)."""
    from iso_energy.definitions import defs

    return defs.resolve_job_def("as_job")


JOB_FACTORIES = {"lmp_job": lmp_job_def, "as_job": as_job_def}


def _warm() -> None:
    """Worker initializer: import the definitions once per worker, not once per run, and start
    the worker's step forkserver now (with the executor's preload), not when its first run's
    steps already hold their pool slots (that cold start took about 6 s on 2 cores)."""
    from multiprocessing import forkserver

    import iso_energy.definitions  # noqa: F401
    from iso_energy.executor import PRELOAD_MODULES

    multiprocessing.get_context("forkserver").set_forkserver_preload(PRELOAD_MODULES)
    forkserver.ensure_running()


def _ready() -> None:
    """A no-op task: submitting one per worker makes the pool start (and warm) every worker."""


_INSTANCE: tuple[object, dg.DagsterInstance] | None = None


def _instance(ref) -> dg.DagsterInstance:
    """One instance per worker process, opened on its first run: opening one costs about 0.5 s
    of CPU (storage schema checks), once per run before."""
    global _INSTANCE
    if _INSTANCE is None or _INSTANCE[0] != ref:
        _INSTANCE = (ref, dg.DagsterInstance.from_ref(ref))
    return _INSTANCE[1]


def _run_partition(instance_ref, job_name: str, key: str) -> list[dict]:
    instance = _instance(instance_ref)  # kept open for the worker's next run
    result = dg.execute_job(
        dg.reconstructable(JOB_FACTORIES[job_name]),
        instance=instance,
        # The executor is the location's (configured: it takes no run config).
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        # The tags a backfill run carries for a multi-dimensional key.
        tags={
            "dagster/partition": key,
            **{f"dagster/partition/{dim}": v for dim, v in zip(("iso", "year"), key.split("|"), strict=True)},
        },
    )
    rows = []
    for ev in result.get_asset_materialization_events():
        mat = ev.materialization
        md = {k: v.value for k, v in mat.metadata.items()}
        rows.append(
            {
                "location": "iso_energy",
                "asset": mat.asset_key.to_user_string(),
                "partition": key,
                "rows": md.get("rows_out"),
                "bytes": md.get("bytes_out"),
                "seconds": md.get("seconds"),
                "peak_rss_mb": md.get("peak_rss_mb"),
            }
        )
    if not result.success:
        rows.append(
            {
                "location": "iso_energy",
                "asset": job_name,
                "partition": key,
                "rows": None,
                "bytes": None,
                "seconds": None,
                "peak_rss_mb": None,
                "error": "run failed",
            }
        )
    return rows


def planned(root: Path) -> int:
    """How many materialisations :func:`run` reports."""
    return 2 * len(ISOS) * len(SAMPLE_YEARS)


def run(instance: dg.DagsterInstance, root: Path, progress: Callable[[dict], None] | None = None) -> list[dict]:
    """Generate sample files where none exist, then convert every operator x sample year."""
    from iso_energy.definitions import CONVERSION
    from iso_energy.instance import apply_pool_limit, reap_dead_runs
    from iso_energy.sample import DATASETS, generate

    reap_dead_runs(instance)
    apply_pool_limit(instance, CONVERSION)
    # Workers warm up (imports, step forkserver) while the sample files are written; they are
    # kept for the ancillary-service runs (iso_energy.demo_ancillary stops them).
    open_workers()
    missing = [iso for iso in ISOS if not all((root / "raw" / iso / ds).is_dir() for ds in DATASETS)]
    if missing:
        files = generate(root, SAMPLE_START, SAMPLE_END, isos=missing)
        print(f"generated {len(files)} sample files for {', '.join(missing)} under {root / 'raw'}")
    return run_partitions(instance, [f"{iso}|{year}" for year in SAMPLE_YEARS for iso in ISOS], progress=progress)


def run_partitions(
    instance: dg.DagsterInstance,
    keys: list[str],
    workers: int = WORKERS,
    job: str = "lmp_job",
    progress: Callable[[dict], None] | None = None,
) -> list[dict]:
    """One ``job`` run per ``"<iso>|<year>"`` key, from ``workers`` spawned processes sharing
    ``instance`` (which must be persistent: pools are not enforced on an ephemeral instance).
    Inside the demo (after :func:`open_workers`) the demo's warm processes are used and kept for
    the next call; otherwise processes are started for this call and stopped after it.
    ``progress`` gets each summary row as its run finishes."""
    pool = _POOL or _new_pool(workers)
    try:
        futures: dict[Future, str] = {pool.submit(_run_partition, instance.get_ref(), job, k): k for k in keys}
        done: dict[str, list[dict]] = {}
        for f in as_completed(futures):
            done[futures[f]] = f.result()
            for row in done[futures[f]]:
                if progress is not None:
                    progress(row)
    finally:
        if pool is not _POOL:
            pool.shutdown()
    return [row for k in keys for row in done[k]]


def _new_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_warm)


def open_workers(workers: int = WORKERS) -> None:
    """Start the demo's worker processes, shared by every following :func:`run_partitions` call
    until :func:`close_workers` (they are spawned now, so they see the environment as it is now)."""
    global _POOL
    if _POOL is None:
        _POOL = _new_pool(workers)
        for _ in range(workers):  # the pool starts a process per pending task, up to ``workers``
            _POOL.submit(_ready)


def close_workers() -> None:
    """Stop the worker processes."""
    global _POOL
    if _POOL is not None:
        _POOL.shutdown()
        _POOL = None
