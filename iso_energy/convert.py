"""Convert one (operator, dataset, year) partition: the one call an asset makes.

Also runnable as a command, for benchmarks and for converting without Dagster::

    python -m iso_energy.convert --iso pjm --dataset lmp_da --year 2024 \
        [--data-dir DIR] [--output FOLDER] [--memory-mb 2048] [--threads 2]

prints one JSON line of :class:`~iso_energy.isos.base.ConversionStats` metadata.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from pathlib import Path

from iso_energy import file_index, freshness
from iso_energy.isos import ISOS
from iso_energy.isos.base import ConversionStats, IsoConverter, dumps_stats
from iso_energy.isos.schema import NoInputError
from memsafe.budget import Budget, add_budget_flags, budget_from_args
from memsafe.cli import CliUsageError, add_debug_flag, progress_to_stderr, run_cli
from memsafe.settings import data_dir, output_dir, raw_dir

log = logging.getLogger(__name__)


def partition_path(root: Path, dataset: str, iso: str, year: int) -> Path:
    """The partition folder ``<root>/parquet/dataset=<dataset>/iso=<iso>/year=<year>`` (hive layout),
    holding ``<year>-<MM>.parquet`` month files and ``_manifest.json``
    (:mod:`iso_energy.isos.partition`)."""
    return output_dir(root, f"dataset={dataset}", f"iso={iso}", f"year={year}")


def convert_partition(
    converter: IsoConverter,
    dataset: str,
    year: int,
    root: Path,
    budget: Budget,
    *,
    output: Path | None = None,
) -> ConversionStats:
    """Convert the operating ``year`` of ``dataset`` from ``<root>/raw/<iso>/<dataset>/``.

    Steps: list raw files -> look them up in the file index -> convert the indexed files
    holding ``year`` plus the new or changed ones (whose years the conversion records in the
    index) -> rewrite the months of ``output`` (default :func:`partition_path`) that new,
    changed or removed files touch, carry the others over, publish the folder atomically. A
    rerun replaces exactly this partition's folder. Progress (files chosen, then rows written,
    time, peak memory) is logged at INFO on this module's logger.

    Raises:
        NoInputError: the raw folder is empty or missing, or no file holds ``year``.
        RawFileError: a file is not the operator's format (file, line and problem named);
            the previous output of the partition is left in place.
    """
    started, t0 = time.time(), time.perf_counter()  # ``seconds`` covers the indexing too
    folder = raw_dir(root, converter.iso_id, dataset)
    files = converter.raw_files(root / "raw", dataset)
    if not files:
        raise NoInputError(
            f"no raw {converter.iso_id} {dataset} files under {folder} "
            f"(expected {converter.datasets[dataset].source} CSV exports)"
        )
    fresh, stale = file_index.lookup(root, converter.iso_id, dataset, files)
    sigs = {f: (f.stat().st_size, f.stat().st_mtime_ns) for f in stale}
    # Indexed files holding the year, plus every file not indexed yet: the conversion reads
    # those once and records their years in the index as a by-product.
    chosen = sorted([e.path for e in file_index.files_for_year(fresh, year)] + stale)
    if not chosen:
        years = sorted({y for e in fresh.values() for y in e.years})
        raise NoInputError(
            f"no {converter.iso_id} {dataset} raw file under {folder} holds operating year "
            f"{year}; the files hold {years or 'no rows'}"
        )
    log.info(
        f"{len(files)} raw file(s) under {folder}; converting {len(chosen)} that hold {year} or are new "
        f"({sum(f.stat().st_size for f in chosen) / 1e6:.1f} MB) under a {budget.memory_mb} MB budget"
    )
    index_seconds = time.perf_counter() - t0
    try:
        stats = converter.convert_year(
            chosen,
            dataset,
            year,
            output or partition_path(root, dataset, converter.iso_id, year),
            budget,
            key_root=root,
            scan=stale,
        )
    except NoInputError as exc:
        counts = getattr(exc, "file_counts", None)
        if not stale or counts is None:
            raise
        # The new files were read: the index learns their years even though none holds this one.
        file_index.record(
            root,
            converter.iso_id,
            dataset,
            {f: counts[f] for f in stale if f in counts},
            sigs,
            live_folder=folder,
            live=files,
        )
        years = sorted({y for e in fresh.values() for y in e.years} | {y for c in counts.values() for y in c["years"]})
        raise NoInputError(
            f"no {converter.iso_id} {dataset} raw file under {folder} holds operating year "
            f"{year}; the files hold {years or 'no rows'}"
        ) from None
    file_index.record(
        root, converter.iso_id, dataset, {f: stats.file_counts[f] for f in stale}, sigs, live_folder=folder, live=files
    )
    stats = dataclasses.replace(stats, started_at=started, seconds=time.perf_counter() - t0)
    if output is None:  # the partition's own file: the sensor will know it is up to date
        indexed, _ = file_index.lookup(root, converter.iso_id, dataset, files)
        freshness.record(root, dataset, converter.iso_id, year, stats.output, file_index.files_for_year(indexed, year))
    log.info(
        f"read {stats.files_read} file(s), wrote {stats.months_written} month(s), carried "
        f"{stats.months_carried}: {stats.rows_out:,} rows ({stats.bytes_out / 1e6:.1f} MB) in {stats.seconds:.2f} s "
        f"(indexing {index_seconds:.2f} s), "
        f"peak RSS {stats.memory.peak_rss_mb:.0f} MB, DuckDB {stats.memory.engine_peak_mb or 0:.0f} MB"
    )
    return stats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iso", required=True, choices=sorted(ISOS))
    p.add_argument("--dataset", required=True)
    p.add_argument("--year", required=True, type=int)
    p.add_argument("--data-dir", default=None, help="data root (default $MEMSAFE_DATA_DIR or ./data)")
    p.add_argument("--output", type=Path, default=None)
    add_budget_flags(p, memory_mb=2048)
    add_debug_flag(p)
    args = p.parse_args(argv)
    converter = ISOS[args.iso]
    if args.dataset not in converter.datasets:
        raise CliUsageError(f"--dataset {args.dataset!r}: {args.iso} has {sorted(converter.datasets)}")
    root = data_dir(args.data_dir)
    budget = budget_from_args(args, spill_default=root / "spill")
    progress_to_stderr()
    stats = convert_partition(converter, args.dataset, args.year, root, budget, output=args.output)
    print(dumps_stats(stats))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
