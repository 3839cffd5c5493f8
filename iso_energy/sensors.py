"""The new-file sensor: raw files that appear or change -> runs for exactly the partitions
they can affect (see :mod:`iso_energy.raw_watch` for the rules; this module only wires them
into Dagster).

Cursor: the compressed signature (size, mtime) of every raw file seen, so an unchanged file
is never requested twice and costs one ``stat`` per tick. A partition whose output is already
up to date with its files (recorded by the conversion, :mod:`iso_energy.freshness`) is not
requested either, so the first tick after ``make demo`` (empty cursor) requests nothing. New
files are scanned within a time budget well under Dagster's 60 s sensor-evaluation timeout; the
rest wait for the next tick.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from iso_energy.isos import ISOS
from iso_energy.partitions import YEARS, iso_year_key
from iso_energy.raw_watch import deadline_in, decode_state, encode_state, watch
from memsafe.budget import Budget
from memsafe.resources import DataDirResource

SCAN_SECONDS_PER_TICK = 30.0  # Dagster gives a sensor evaluation 60 s; listing and the rest need room
SCAN_BUDGET = Budget(memory_mb=512, threads=1)  # the sensor runs in the code server: keep it small


def build_raw_files_sensor(
    targets: Mapping[str, tuple[str, str]],
    jobs: list,
    name: str = "raw_files_sensor",
    minimum_interval_seconds: int = 60,
) -> dg.SensorDefinition:
    """A sensor watching ``$MEMSAFE_DATA_DIR/raw/<iso>/<dataset>/`` for every dataset in ``targets``.

    Args:
        targets: raw dataset folder -> (name of the job in ``jobs``, asset converting the dataset).
        jobs: the jobs the sensor may launch.
    """

    @dg.sensor(
        name=name,
        jobs=jobs,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Requests conversions of exactly the (operator, year) partitions that new or changed "
        "raw files under `$MEMSAFE_DATA_DIR/raw/<iso>/<dataset>/` can affect, unless the "
        "partition's output is already up to date with them.",
    )
    def _sensor(context: dg.SensorEvaluationContext, data: DataDirResource) -> dg.SensorResult:
        root = data.root()
        budget = Budget(memory_mb=SCAN_BUDGET.memory_mb, threads=SCAN_BUDGET.threads, spill_dir=str(root / "spill"))
        result = watch(
            root, ISOS, set(targets), decode_state(context.cursor), budget, deadline_in(SCAN_SECONDS_PER_TICK)
        )
        for problem in sorted(result.errors.values()):
            context.log.warning(f"unreadable raw file skipped (reported once, rescanned when it changes): {problem}")
        years = set(YEARS.get_partition_keys())
        requests = []
        for dataset, iso, year in sorted(result.partitions):
            if str(year) not in years:
                context.log.warning(
                    f"{dataset} {iso} {year}: year outside the partitions ({min(years)}..{max(years)}), not requested"
                )
                continue
            requests.append(
                dg.RunRequest(
                    run_key=result.run_key((dataset, iso, year)),
                    job_name=targets[dataset][0],
                    partition_key=iso_year_key(iso, year),
                    asset_selection=[dg.AssetKey(targets[dataset][1])],
                    tags={"memsafe/trigger_files": ",".join(result.partitions[(dataset, iso, year)])[:1000]},
                )
            )
        context.log.info(
            f"{result.files} raw files, {result.scanned} new or changed scanned, "
            f"{len(result.errors)} unreadable, {result.deferred} left for the next tick; "
            f"{result.up_to_date} affected partition(s) already up to date; "
            f"{len(requests)} partition(s) requested"
        )
        return dg.SensorResult(run_requests=requests, cursor=encode_state(result.seen))

    return _sensor
