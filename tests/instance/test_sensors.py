"""Sensors under the real daemon: a new raw file and a new measurement shard launch the expected runs.

The sensors are built on their own branches (the operators' raw-file sensor with issue 3, the
probe shard sensor with issue 8). A test here is skipped only while its sensor is not in the
loaded definitions, so it runs as soon as that work is merged. Expectations, from those issues:

- ``iso_energy``: a sensor watching ``$MEMSAFE_DATA_DIR/raw/<iso>/<dataset>/`` requests runs for
  exactly the (asset, operator|year) partitions a new file can hold.
- ``probe_rows``: a sensor watching ``$MEMSAFE_DATA_DIR/raw/measurements/`` adds one dynamic
  partition per new parquet shard and requests a run for it.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from iso_energy.convert import partition_path
from iso_energy.sample import generate
from tests.instance.dagster_procs import ARTIFACTS, STORAGES, postgres_url, start_dev, wait_for

pytestmark = pytest.mark.instance

RUN_TIMEOUT = 180  # seconds after the sensor's interval for its run to be launched and finish
TICKS = """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { __typename
  ... on Sensor { sensorState { status ticks(limit: 20) { status timestamp runIds skipReason
  error { message } } } } ... on PythonError { message } } }"""


def find_sensor(module: str, words: tuple[str, ...]) -> dg.SensorDefinition | None:
    """The sensor of a code location's ``defs`` (preferring names with one of ``words``)."""
    defs = importlib.import_module(module).defs
    sensors = list(defs.sensors or [])
    preferred = [s for s in sensors if any(w in s.name for w in words)]
    return (preferred or sensors or [None])[0]


ISO_SENSOR = find_sensor("iso_energy.definitions", ("raw", "file"))
SHARD_SENSOR = find_sensor("probe_rows.definitions", ("shard", "measurement"))


@pytest.fixture(scope="module", params=STORAGES)
def sensor_dev(request, tmp_path_factory):
    if ISO_SENSOR is None and SHARD_SENSOR is None:
        pytest.skip("no sensor defined in the iso_energy or probe_rows definitions yet (issues 3 and 8)")
    if request.param == "postgres":
        postgres_url()
    dev = start_dev(tmp_path_factory.mktemp(f"sensors-{request.param}"), f"sensors-{request.param}", request.param)
    try:
        yield dev
    finally:
        leftover = dev.stop()
    assert not leftover, f"processes of dagster dev still alive: {leftover}"


def turn_on(dev, location: str, name: str) -> dict:
    """Start the sensor (as the UI toggle does) and wait for its first evaluation to finish."""
    [sensor] = [s for s in dev.sensors() if s["location"] == location and s["name"] == name]
    dev.start_sensor(sensor)
    selector = {"repositoryName": sensor["repository"], "repositoryLocationName": location, "sensorName": name}

    def ticked():
        state = dev.graphql(TICKS, {"s": selector})["sensorOrError"]["sensorState"]
        return [t for t in state["ticks"] if t["status"] in ("SKIPPED", "SUCCESS", "FAILURE")]

    wait_for(ticked, 120 + (sensor["interval"] or 30), f"a first tick of sensor {name}", on_timeout=dev.log_tail)
    return {**sensor, "selector": selector}


def drop(src: Path, dest_dir: Path) -> Path:
    """Move a finished file into a watched folder in one rename, as a download tool should."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / src.name
    os.replace(src, dest)
    return dest


def sensor_runs(instance: dg.DagsterInstance, name: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/sensor_name": name})))


def wait_for_sensor_runs(dev, sensor: dict, done: int) -> list[dg.DagsterRun]:
    """Wait until the sensor launched at least ``done`` runs and all of them finished."""

    def finished():
        with dg.DagsterInstance.from_config(str(dev.home)) as instance:
            runs = sensor_runs(instance, sensor["name"])
        return runs if len(runs) >= done and all(r.is_finished for r in runs) else None

    return wait_for(
        finished,
        (sensor["interval"] or 30) + RUN_TIMEOUT,
        f"runs launched by sensor {sensor['name']}",
        interval=2,
        on_timeout=lambda: json.dumps(dev.graphql(TICKS, {"s": sensor["selector"]}))[:3000],
    )


@pytest.mark.skipif(ISO_SENSOR is None, reason="no sensor in iso_energy.definitions yet (issue 3's raw-file sensor)")
def test_new_raw_file_launches_its_partition_and_output_appears(sensor_dev, tmp_path):
    dev = sensor_dev
    sensor = turn_on(dev, "iso_energy", ISO_SENSOR.name)
    # A new month of PJM day-ahead exports (January 2024): it can only hold lmp_da, pjm|2024.
    staging = tmp_path / "staging"
    [new_file] = generate(staging, date(2024, 1, 1), date(2024, 2, 1), nodes=3, isos=["pjm"], datasets=["lmp_da"])
    t0 = time.monotonic()
    drop(new_file, dev.data / "raw" / "pjm" / "lmp_da")

    runs = wait_for_sensor_runs(dev, sensor, 1)
    seconds = time.monotonic() - t0
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), [(r.run_id, r.status) for r in runs]
    assert {r.tags.get("dagster/partition") for r in runs} == {"pjm|2024"}
    out = partition_path(dev.data, "lmp_da", "pjm", 2024)
    assert out.is_dir() and pq.read_table(out).num_rows > 0
    with dg.DagsterInstance.from_config(str(dev.home)) as instance:
        assert instance.get_materialized_partitions(dg.AssetKey("lmp_da")) == {"pjm|2024"}
        assert not instance.get_materialized_partitions(dg.AssetKey("lmp_rt")), "lmp_rt was not affected"
    (ARTIFACTS / "sensor-iso.json").write_text(
        json.dumps({"sensor": sensor["name"], "runs": len(runs), "seconds_to_output": round(seconds, 1)})
    )


def write_shard(path: Path, n: int = 5_000, seed: int = 7) -> Path:
    """A measurement shard as issue 8 defines it: src_addr, dst_addr, event_time, rtt_ms (+ extra)."""
    rng = np.random.default_rng(seed)
    t0 = datetime(2024, 3, 1, tzinfo=UTC)
    table = pa.table(
        {
            "src_addr": pa.array([f"10.0.{i % 7}.{i % 50}" for i in range(n)]),
            "dst_addr": pa.array([f"192.0.2.{i % 20}" for i in range(n)]),
            "event_time": pa.array(
                [t0 + timedelta(seconds=int(s)) for s in rng.integers(0, 86_400, n)], pa.timestamp("us", tz="UTC")
            ),
            "rtt_ms": pa.array(rng.gamma(2.0, 15.0, n)),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


@pytest.mark.skipif(SHARD_SENSOR is None, reason="no sensor in probe_rows.definitions yet (issue 8's shard sensor)")
def test_new_measurement_shard_adds_a_partition_and_runs(sensor_dev, tmp_path):
    dev = sensor_dev
    sensor = turn_on(dev, "probe_rows", SHARD_SENSOR.name)
    shard = write_shard(tmp_path / "shard-20240301.parquet")
    drop(shard, dev.data / "raw" / "measurements")

    runs = wait_for_sensor_runs(dev, sensor, 1)
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), [(r.run_id, r.status) for r in runs]
    partitions = {r.tags.get("dagster/partition") for r in runs}
    assert any(p and "shard-20240301" in p for p in partitions), partitions
    with dg.DagsterInstance.from_config(str(dev.home)) as instance:
        mats = [
            rec
            for r in runs
            for rec in instance.get_records_for_run(r.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
        ]
        assert mats, "the shard's run materialised nothing"
        for rec in mats:
            path = rec.asset_materialization.metadata.get("path")
            if path is not None:
                assert Path(str(path.value)).exists(), path.value
