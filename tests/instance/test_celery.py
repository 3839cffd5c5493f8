"""A UI backfill of every operator for one year on two Celery workers (dagster-celery, Redis).

The executor is chosen by configuration (``MEMSAFE_EXECUTOR=celery`` in every Dagster process,
iso_energy/executor.py), the workers run as docs/cluster/celery-worker.yaml says (separate
processes, ``--max-tasks-per-child=1``). The broker is the Redis at ``MEMSAFE_TEST_REDIS_URL``
(.ci/run starts one; without it the test skips, or fails under ``MEMSAFE_REQUIRE_CELERY``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import date

import dagster as dg
import pytest

from iso_energy.isos import ISOS
from iso_energy.resources import POOL
from iso_energy.sample import generate
from memsafe.admission import admit
from tests.instance.dagster_procs import ARTIFACTS, BIN, DAGSTER, REPO, kill_session, run_cli, start_dev, wait_for
from tests.instance.test_backfill import LAUNCH, STATUS, TERMINAL, step_windows
from tests.overlap import max_overlap

pytestmark = pytest.mark.instance

REDIS_URL_ENV, REQUIRE_ENV = "MEMSAFE_TEST_REDIS_URL", "MEMSAFE_REQUIRE_CELERY"
WORKERS = ("w1", "w2")
WORKER_YAML = REPO / "docs" / "cluster" / "celery-worker.yaml"
YEAR = 2024
ASSETS = ("lmp_da", "lmp_rt")


def redis_url() -> str:
    url = os.environ.get(REDIS_URL_ENV)
    if not url:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"a Redis broker is required ({REQUIRE_ENV} is set) but {REDIS_URL_ENV} is not")
        pytest.skip(f"no Redis broker: set {REDIS_URL_ENV} (.ci/run starts one)")
    return url


def start_worker(dev, name: str) -> subprocess.Popen:
    """One Celery worker process (its own session), as docs/cluster/celery-worker.yaml starts it."""
    log = (ARTIFACTS / f"celery-{name}.log").open("wb")
    env = {**dev.env, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [
            str(BIN / "dagster-celery"),
            "worker",
            "start",
            "-A",
            "dagster_celery.app",
            "-y",
            str(WORKER_YAML),
            "--name",
            name,
            "--",
            "--concurrency=1",
            "--max-tasks-per-child=1",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.fixture(scope="module")
def celery_dev(tmp_path_factory):
    url = redis_url()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    extra = {"MEMSAFE_EXECUTOR": "celery", "MEMSAFE_CELERY_BROKER": url}
    dev = start_dev(tmp_path_factory.mktemp("celery"), "celery", "sqlite", extra)
    workers = []
    try:
        workers = [start_worker(dev, name) for name in WORKERS]
        for name in WORKERS:
            wait_for(
                lambda n=name: (
                    f"{n}@" in (ARTIFACTS / f"celery-{n}.log").read_text(errors="replace")
                    and "ready." in (ARTIFACTS / f"celery-{n}.log").read_text(errors="replace")
                ),
                120,
                f"Celery worker {name}",
            )
        yield dev
    finally:
        leftover = [pid for w in workers for pid in kill_session(w, grace=10)] + dev.stop()
    assert not leftover, f"processes still alive: {leftover}"


def test_backfill_of_every_operator_for_a_year_on_two_workers(celery_dev):
    dev = celery_dev
    for iso in ISOS:
        generate(
            dev.data,
            date(YEAR, 1, 1),
            date(YEAR, 3, 1),
            nodes=20 if iso in ("pjm", "ercot") else 3,
            isos=[iso],
            datasets=list(ASSETS),
        )
    keys = [f"{iso}|{YEAR}" for iso in ISOS]
    launched = dev.graphql(
        LAUNCH,
        {
            "p": {
                "assetSelection": [{"path": [a]} for a in ASSETS],
                "partitionNames": keys,
                "title": f"LMP {YEAR} on Celery",
                "fromFailure": False,
            }
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    def finished():
        b = dev.graphql(STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        return b if b["status"] in TERMINAL else None

    t0 = time.monotonic()
    backfill = wait_for(finished, 600, f"backfill {backfill_id}", interval=2, on_timeout=dev.log_tail)
    assert backfill["status"] in {"COMPLETED", "COMPLETED_SUCCESS"}, (backfill, dev.log_tail())

    with dg.DagsterInstance.from_config(str(dev.home)) as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        assert sorted(r.tags["dagster/partition"] for r in runs) == sorted(keys)
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), [(r.run_id, r.status) for r in runs]
        for asset in ASSETS:
            assert instance.get_materialized_partitions(dg.AssetKey(asset)) >= set(keys)
        windows = step_windows(instance, [r.run_id for r in runs])
        hosts = set()
        for run in runs:
            for rec in instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records:
                md = rec.event_log_entry.dagster_event.event_specific_data.metadata
                if "Celery worker" in md:
                    hosts.add(md["Celery worker"].value.split("@")[0])
        info = instance.event_log_storage.get_concurrency_info(POOL)
    report = {
        "runs": len(runs),
        "steps": len(windows),
        "seconds": round(time.monotonic() - t0, 1),
        "step_overlap_peak": max_overlap(list(windows.values())),
        "workers": sorted(hosts),
    }
    print(report)
    assert len(windows) == len(keys) * len(ASSETS)
    assert report["step_overlap_peak"] <= info.slot_count == 2, report
    assert hosts == set(WORKERS), f"steps ran on {hosts}, expected both workers"
    assert info.active_slot_count == 0, f"slots still claimed after the backfill: {info.claimed_slots}"


def test_a_step_failing_in_resource_setup_frees_its_slot_within_seconds(celery_dev):
    """A conversion budget larger than the node fails resource setup on the worker; the pool's slot
    must not stay claimed until run monitoring's old 300 s, only the few seconds it is configured for."""
    dev = celery_dev
    generate(dev.data, date(YEAR, 1, 1), date(YEAR, 1, 8), nodes=2, isos=["nyiso"], datasets=["lmp_da"])
    config = {"resources": {"conversion": {"config": {"memory_mb": 50_000_000}}}}
    run = run_cli(
        [
            DAGSTER,
            "asset",
            "materialize",
            "-m",
            "iso_energy.definitions",
            "--select",
            "lmp_da",
            "--partition",
            f"nyiso|{YEAR}",
            "--config-json",
            json.dumps(config),
        ],
        env=dev.env,
        timeout=300,
        log=ARTIFACTS / "celery-setup-failure.log",
    )
    ended = time.monotonic()
    assert run.returncode != 0 and "this node has" in run.stdout, run.stdout[-3000:]

    def free():
        with dg.DagsterInstance.from_config(str(dev.home)) as instance:
            return instance.event_log_storage.get_concurrency_info(POOL).active_slot_count == 0

    wait_for(free, 60, "the failed step's pool slot to be freed", interval=0.5)
    freed_after = time.monotonic() - ended
    print(f"slot freed {freed_after:.1f} s after the run ended")
    assert freed_after < 30


def test_a_worker_killed_mid_step_frees_its_slot_and_place(celery_dev, node_admission_dir):
    """SIGKILL the worker process running a conversion (an OOM kill): Celery reports the task lost,
    the run fails, and neither the pool slot nor the node's admission place stays taken."""
    dev = celery_dev
    generate(dev.data, date(YEAR, 1, 1), date(YEAR, 4, 1), nodes=40, isos=["ercot"], datasets=["lmp_rt"])
    log = node_admission_dir / f"{POOL}.log"
    seen = len(log.read_text().splitlines()) if log.exists() else 0
    proc = subprocess.Popen(
        [
            DAGSTER,
            "asset",
            "materialize",
            "-m",
            "iso_energy.definitions",
            "--select",
            "lmp_rt",
            "--partition",
            f"ercot|{YEAR}",
        ],
        cwd=REPO,
        env=dev.env,
        stdout=(ARTIFACTS / "celery-kill.log").open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:

        def holder():
            lines = log.read_text().splitlines()[seen:] if log.exists() else []
            return next((int(line.split()[-1]) for line in lines if " acquire " in line), None)

        pid = wait_for(holder, 300, "the conversion to take its admission place", interval=0.2)
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        # The place is the kernel's to free: at once.
        with admit(POOL, 1, folder=node_admission_dir, timeout=2):
            pass
        proc.wait(timeout=300)
    finally:
        leftover = kill_session(proc, grace=5)
    assert not leftover
    assert proc.returncode != 0

    def free():
        with dg.DagsterInstance.from_config(str(dev.home)) as instance:
            return instance.event_log_storage.get_concurrency_info(POOL).active_slot_count == 0

    wait_for(free, 60, "the killed step's pool slot to be freed", interval=0.5)
    freed_after = time.monotonic() - killed
    print(f"slot freed {freed_after:.1f} s after the worker was killed")
    assert freed_after < 30  # run monitoring every 5 s, slots of ended runs freed after 5 s
