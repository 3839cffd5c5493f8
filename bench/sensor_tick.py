"""How long one tick of ``raw_files_sensor`` takes over thousands of raw files.

    python -m bench.sensor_tick [--files 5000] [--workdir DIR]

Builds a data root of ``--files`` raw files (the demo's sample files for every operator and
dataset, copied under new names until there are enough), then evaluates the sensor exactly as
the daemon does (``build_sensor_context`` with the location's resources) in four situations and
prints wall and CPU seconds of each tick:

1. ``cold``: nothing indexed, empty cursor: the tick scans until its time budget and defers the
   rest (Dagster kills an evaluation after 60 s);
2. ``indexed, outputs missing``: every file indexed, empty cursor: every partition requested;
3. ``indexed, outputs up to date``: as after ``make demo`` (each partition's conversion record
   written), empty cursor: nothing requested;
4. ``steady``: the previous tick's cursor: one ``stat`` per file.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

import dagster as dg

from iso_energy import file_index, freshness
from iso_energy.convert import partition_path
from iso_energy.definitions import raw_files_sensor
from iso_energy.isos import ISOS
from iso_energy.raw_watch import deadline_in, watch
from iso_energy.sample import generate
from memsafe.budget import Budget
from memsafe.resources import DataDirResource


def make_root(root: Path, n_files: int) -> int:
    base = generate(root, date(2023, 10, 15), date(2024, 3, 20), datasets=("lmp_da", "lmp_rt", "as"))
    made, copy = len(base), 0
    while made < n_files:
        copy += 1
        for f in base:
            if made >= n_files:
                break
            shutil.copy2(f, f.with_name(f"copy{copy:03d}-{f.name}"))
            made += 1
    return made


def tick(root: Path, cursor: str | None) -> tuple[float, float, dg.SensorResult]:
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"data": DataDirResource(data_dir=str(root))}
        )
        w, c = time.perf_counter(), time.process_time()
        result = raw_files_sensor(ctx)
        return time.perf_counter() - w, time.process_time() - c, result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=5000)
    p.add_argument("--workdir", type=Path, default=None)
    args = p.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="sensor-tick-", dir=args.workdir))
    try:
        n = make_root(root, args.files)
        print(f"{n} raw files under {root / 'raw'}")
        wall, cpu, r = tick(root, None)
        print(f"cold (nothing indexed): {wall:.1f} s wall, {cpu:.1f} s CPU, {len(r.run_requests)} requested")
        # Index the rest outside the sensor (as conversions or later ticks would).
        budget = Budget(memory_mb=512, threads=1, spill_dir=str(root / "spill"))
        watch(root, ISOS, {"lmp_da", "lmp_rt", "as"}, {}, budget, deadline_in(1e9))
        wall, cpu, r = tick(root, None)
        print(f"indexed, outputs missing: {wall:.1f} s wall, {cpu:.1f} s CPU, {len(r.run_requests)} requested")
        for req in r.run_requests:  # what each conversion records, without converting
            dataset = {"lmp_da": "lmp_da", "lmp_rt": "lmp_rt", "as_prices": "as"}[req.asset_selection[0].path[-1]]
            iso, year = str(req.partition_key).split("|")
            entries = file_index.refresh(
                root, ISOS[iso], dataset, ISOS[iso].raw_files(root / "raw", dataset), None
            )  # all indexed: no connection needed
            out = partition_path(root, dataset, iso, int(year))
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{year}-01.parquet").write_bytes(b"stand-in output")
            freshness.record(root, dataset, iso, int(year), out, file_index.files_for_year(entries, int(year)))
        wall, cpu, r = tick(root, None)
        print(f"indexed, outputs up to date: {wall:.1f} s wall, {cpu:.1f} s CPU, {len(r.run_requests)} requested")
        wall, cpu, r2 = tick(root, r.cursor)
        print(f"steady (cursor): {wall:.1f} s wall, {cpu:.1f} s CPU, {len(r2.run_requests)} requested")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
