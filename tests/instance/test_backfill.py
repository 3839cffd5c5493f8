"""A user's backfill through the real webserver and daemon, and the pool holding it to two conversions.

The backfill is launched with the GraphQL mutation the UI's "Materialize selected partitions"
dialog sends (``launchPartitionBackfill``), for both LMP assets x every operator x two years. The
assertions read the instance's own records: the backfill's runs, their STEP_START/STEP_SUCCESS
events (the window in which a step holds its ``iso_conversion`` slot) and the materialisations.
"""

from __future__ import annotations

import json
import time
from datetime import date

import dagster as dg
import pytest

from iso_energy.convert import partition_path
from iso_energy.isos import ISOS
from iso_energy.resources import POOL
from iso_energy.sample import generate
from tests.instance.dagster_procs import ARTIFACTS, wait_for
from tests.overlap import max_overlap

pytestmark = pytest.mark.instance

ASSETS = ("lmp_da", "lmp_rt")
YEARS = (2023, 2024)
# Two partial operating years (both DST changes of 2023-24), sized so every conversion takes
# about a second or more on a loaded 2-core machine: long enough for two of them to overlap.
SAMPLE = (date(2023, 9, 1), date(2024, 5, 1))
NODES = {
    ("pjm", "lmp_da"): 40,
    ("pjm", "lmp_rt"): 40,
    ("ercot", "lmp_da"): 30,
    ("ercot", "lmp_rt"): 30,
    ("caiso", "lmp_da"): 20,
    ("caiso", "lmp_rt"): 2,  # CAISO RT: 5-minute, one row per component
    # The other operators with small files: every operator is in the backfill.
    **{(iso, ds): 2 for iso in ("miso", "nyiso", "isone", "spp") for ds in ASSETS},
}
TERMINAL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

LAUNCH = """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
  __typename ... on LaunchBackfillSuccess { backfillId }
  ... on PythonError { message stack } ... on InvalidStepError { invalidStepKey }
  ... on PartitionSetNotFoundError { message } ... on UnauthorizedError { message } } }"""
STATUS = """query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
  ... on PartitionBackfill { id status numPartitions isAssetBackfill }
  ... on PythonError { message } } }"""


def write_sample(root) -> None:
    for (iso, dataset), nodes in NODES.items():
        generate(root, *SAMPLE, nodes=nodes, isos=[iso], datasets=[dataset])


def step_windows(instance: dg.DagsterInstance, run_ids: list[str]) -> dict[tuple[str, str], tuple[float, float]]:
    """(run id, step key) -> (STEP_START, STEP_SUCCESS/FAILURE) timestamps from the event log."""
    starts, ends = {}, {}
    for run_id in run_ids:
        for rec in instance.get_records_for_run(
            run_id,
            of_type={
                dg.DagsterEventType.STEP_START,
                dg.DagsterEventType.STEP_SUCCESS,
                dg.DagsterEventType.STEP_FAILURE,
            },
        ).records:
            entry = rec.event_log_entry
            key = (run_id, entry.step_key)
            if entry.dagster_event_type == dg.DagsterEventType.STEP_START:
                starts[key] = entry.timestamp
            else:
                ends[key] = entry.timestamp
    assert starts.keys() == ends.keys(), f"steps without an end: {set(starts) ^ set(ends)}"
    return {k: (starts[k], ends[k]) for k in starts}


def queue_waits_of(instance: dg.DagsterInstance, run_ids: list[str]) -> list[float]:
    """Seconds each run spent QUEUED (RUN_ENQUEUED -> RUN_STARTING, when the daemon launched it)."""
    waits = []
    for run_id in run_ids:
        times = {
            rec.event_log_entry.dagster_event_type: rec.event_log_entry.timestamp
            for rec in instance.get_records_for_run(
                run_id, of_type={dg.DagsterEventType.RUN_ENQUEUED, dg.DagsterEventType.RUN_STARTING}
            ).records
        }
        if len(times) == 2:
            waits.append(times[dg.DagsterEventType.RUN_STARTING] - times[dg.DagsterEventType.RUN_ENQUEUED])
    return waits


def test_ui_backfill_of_two_years_is_held_to_two_conversions(dagster_dev_by_storage):
    dev = dagster_dev_by_storage
    write_sample(dev.data)
    keys = [f"{iso}|{year}" for iso in ISOS for year in YEARS]

    t0 = time.monotonic()
    launched = dev.graphql(
        LAUNCH,
        {
            "p": {
                "assetSelection": [{"path": [a]} for a in ASSETS],
                "partitionNames": keys,
                "title": "LMP 2023-2024, every operator",
                "fromFailure": False,
            }
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    def finished():
        b = dev.graphql(STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        assert b["__typename"] == "PartitionBackfill", b
        return b if b["status"] in TERMINAL else None

    backfill = wait_for(finished, 900, f"backfill {backfill_id} to finish", interval=2, on_timeout=dev.log_tail)
    elapsed = time.monotonic() - t0
    assert backfill["status"] in {"COMPLETED", "COMPLETED_SUCCESS"}, (backfill, dev.log_tail())
    assert backfill["isAssetBackfill"] and backfill["numPartitions"] == len(keys)

    with dg.DagsterInstance.from_config(str(dev.home)) as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        assert runs, "the backfill launched no run"
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), [(r.run_id, r.status) for r in runs]
        # One run per (operator, year), as the backfill tags them.
        assert sorted(r.tags["dagster/partition"] for r in runs) == sorted(keys)

        # Every partition of both assets materialised, by a run of this backfill, to its file.
        backfill_runs = {r.run_id for r in runs}
        meta_windows = []
        for asset in ASSETS:
            assert instance.get_materialized_partitions(dg.AssetKey(asset)) == set(keys), asset
            for key in keys:
                [rec] = instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=1
                ).records
                assert rec.run_id in backfill_runs
                md = {k: v.value for k, v in rec.asset_materialization.metadata.items()}
                assert md["rows_out"] > 0
                iso, year = key.split("|")
                assert any(partition_path(dev.data, asset, iso, int(year)).glob("*.parquet"))
                meta_windows.append((md["started_at"], md["started_at"] + md["seconds"]))

        # The pool: steps hold a slot from STEP_START to STEP_SUCCESS.
        windows = step_windows(instance, [r.run_id for r in runs])
        assert len(windows) == len(keys) * len(ASSETS)
        step_peak, conversion_peak = max_overlap(list(windows.values())), max_overlap(meta_windows)
        durations = sorted(round(e - s, 2) for s, e in windows.values())
        stats = instance.get_run_records(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        run_peak = max_overlap([(r.start_time, r.end_time) for r in stats])
        queue_waits = sorted(round(w, 1) for w in queue_waits_of(instance, [r.run_id for r in runs]))

        info = instance.event_log_storage.get_concurrency_info(POOL)
        report = {
            "storage": dev.storage,
            "backfill": backfill_id,
            "runs": len(runs),
            "steps": len(windows),
            "seconds": round(elapsed, 1),
            "step_overlap_peak": step_peak,
            "conversion_overlap_peak": conversion_peak,
            "run_overlap_peak": run_peak,
            "queue_wait_seconds": queue_waits,
            "step_seconds": durations,
            "pool_limit": info.slot_count,
            "slots_claimed_after": info.active_slot_count,
        }
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"backfill-{dev.storage}.json").write_text(json.dumps(report, indent=2))
        print(report)

        assert info.slot_count == 2, "the pool limit must be set explicitly on the instance"
        assert step_peak <= 2 and conversion_peak <= 2, report
        # ...and the two slots were used: parallelism happened (steps last seconds, not ms).
        assert step_peak == 2, report
        assert info.active_slot_count == 0, f"slots still claimed after the backfill: {info.claimed_slots}"
        # The run queue, not only the step claim, held the backfill back: every run went through
        # the queue and later runs waited there, not in a started run worker blocked on the pool.
        assert len(queue_waits) == len(runs) and max(queue_waits) > min(durations), report
