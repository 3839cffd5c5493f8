"""Faults on a real instance: a conversion run SIGKILLed mid-write, and a spill folder that is too small.

Runs go through ``dagster asset materialize`` (the CLI a user runs, on a temporary copy of the
project's instance) in their own process group, so "kill the run's process" kills the run and
its step process together, as an OOM killer or a lost machine would.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
import yaml

from iso_energy.convert import convert_partition, partition_path
from iso_energy.isos import ISOS
from iso_energy.isos.schema import LMP_KEY
from iso_energy.resources import POOL
from iso_energy.sample import generate
from memsafe.budget import Budget
from tests.instance.dagster_procs import (
    ARTIFACTS,
    DAGSTER,
    REPO,
    STORAGES,
    apply_pool_limit,
    kill_session,
    make_home,
    run_cli,
    service_env,
)

pytestmark = pytest.mark.instance

ISO, DATASET, YEAR = "ercot", "lmp_rt", 2024
KEY = f"{ISO}|{YEAR}"
NODES = 40  # ~16 MB of 15-minute prices per month: the write lasts seconds, the test stays short


def is_temp(p: Path) -> bool:
    return p.name.startswith(".") and p.name.endswith(".tmp")


def temps(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if is_temp(p)) if folder.is_dir() else []


def written(p: Path) -> int:
    """Bytes written so far in a temporary partition folder (its month files)."""
    try:
        return sum(size_or_zero(f) for f in p.glob("*.parquet")) if p.is_dir() else size_or_zero(p)
    except FileNotFoundError:  # renamed or removed while listing
        return 0


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def months(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.parquet"))


def size_or_zero(p: Path) -> int:
    try:
        return p.stat().st_size
    except FileNotFoundError:  # renamed or removed between listing and stat
        return 0


def sorted_table(path: Path):
    return pq.read_table(path).sort_by([(c, "ascending") for c in LMP_KEY])


def materialize_cmd(*extra: str) -> list[str]:
    return [
        DAGSTER,
        "asset",
        "materialize",
        "-m",
        "iso_energy.definitions",
        "--select",
        DATASET,
        "--partition",
        KEY,
        *extra,
    ]


@pytest.fixture(scope="module", params=STORAGES)
def world(request, tmp_path_factory):
    """An instance (pool limit applied) and a data root with a previous good output of ercot|2024
    made from January-March, then April-June exports added (the next conversion has more to do)."""
    tmp = tmp_path_factory.mktemp(f"faults-{request.param}")
    home, data = make_home(tmp / "dagster_home", request.param), tmp / "data"
    apply_pool_limit(home, data)
    env = service_env(home, data)
    budget = Budget(memory_mb=1024, threads=2, spill_dir=str(tmp / "spill"))
    generate(data, date(2024, 1, 1), date(2024, 4, 1), nodes=NODES, isos=[ISO], datasets=[DATASET])
    convert_partition(ISOS[ISO], DATASET, YEAR, data, budget)  # the previous good output
    generate(data, date(2024, 4, 1), date(2024, 7, 1), nodes=NODES, isos=[ISO], datasets=[DATASET])
    # What an uninterrupted conversion of the current files gives (written elsewhere).
    reference = tmp / "reference"
    convert_partition(ISOS[ISO], DATASET, YEAR, data, budget, output=reference)
    return {"storage": request.param, "tmp": tmp, "home": home, "data": data, "env": env, "reference": reference}


def test_sigkill_mid_write_keeps_previous_output_and_rerun_is_identical(world):
    data, env = world["data"], world["env"]
    final = partition_path(data, DATASET, ISO, YEAR)  # the partition folder: month files + manifest
    folder = final.parent  # where the writer stages its temporary folder
    before = snapshot(final)
    old_months = months(final)
    old_rows = pq.read_table(final).num_rows

    # A conversion run (CLI run process + its step process), SIGKILLed while its temp file grows.
    proc = subprocess.Popen(
        materialize_cmd(),
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    t0 = time.monotonic()
    killed_after = None
    try:
        while proc.poll() is None and time.monotonic() - t0 < 180:
            found = [p for p in temps(folder) if written(p) > 0]
            if found:
                os.killpg(proc.pid, signal.SIGKILL)
                killed_after = time.monotonic() - t0
                break
            time.sleep(0.02)
    finally:
        leftover = kill_session(proc, grace=5)
    assert not leftover
    assert killed_after is not None, (
        f"the run ended (rc={proc.returncode}) before a temporary file was seen: input too small to catch mid-write"
    )

    # The writer died mid-write: its hidden temporary folder is still on disk...
    assert temps(folder), "expected the killed writer's temporary folder to remain"
    # ...but the previous output is byte-identical and readers see only it.
    assert snapshot(final) == before
    assert months(final) == old_months
    ds = pads.dataset(data / "parquet" / f"dataset={DATASET}", format="parquet", partitioning="hive")
    assert [Path(f).name for f in ds.files] == old_months
    assert ds.count_rows() == old_rows
    # The catalog's glob (iso_energy.catalog.files_glob): hive folders only. A recursive `**` would
    # also descend into the writer's hidden staging folder (docs/iso_energy.md).
    glob = str(data / "parquet" / f"dataset={DATASET}" / "iso=*" / "year=*" / "*.parquet")
    with duckdb.connect() as con:
        (n,) = con.execute("SELECT count(*) FROM read_parquet($g, hive_partitioning = true)", {"g": glob}).fetchone()
    assert n == old_rows

    with dg.DagsterInstance.from_config(str(world["home"])) as instance:
        [killed] = instance.get_runs()
        slots_held_by_killed_run = instance.event_log_storage.get_concurrency_info(POOL).active_slot_count
    # With no daemon, the killed run would hold its pool slot forever: `make instance` frees it.
    assert slots_held_by_killed_run >= 1
    reap = run_cli(
        [str(Path(DAGSTER).with_name("python")), "-m", "iso_energy.instance"],
        env=env,
        timeout=120,
        log=ARTIFACTS / f"faults-reap-{world['storage']}.log",
    )
    assert reap.returncode == 0 and f"freed the pool slots of run {killed.run_id}" in reap.stdout, reap.stdout
    with dg.DagsterInstance.from_config(str(world["home"])) as instance:
        assert instance.event_log_storage.get_concurrency_info(POOL).active_slot_count == 0
        assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE

    # The rerun completes, cleans the dead temp file and equals an uninterrupted conversion.
    t1 = time.monotonic()
    rerun = run_cli(materialize_cmd(), env=env, timeout=240, log=ARTIFACTS / f"faults-rerun-{world['storage']}.log")
    rerun_seconds = time.monotonic() - t1
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert temps(folder) == [] and temps(final) == []
    assert months(final) == months(world["reference"])
    new, ref = sorted_table(final), sorted_table(world["reference"])
    assert new.num_rows > old_rows
    assert new.schema == ref.schema and new.equals(ref)

    report = {
        "killed_after_s": round(killed_after, 2),
        "old_rows": old_rows,
        "new_rows": new.num_rows,
        "killed_run_status": str(killed.status),
        "pool_slots_held_after_kill": slots_held_by_killed_run,
        "rerun_s": round(rerun_seconds, 1),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"faults-sigkill-{world['storage']}.json").write_text(json.dumps(report, indent=2))
    print(report)


@contextlib.contextmanager
def tiny_tmpfs(path: Path, size: str = "1m"):
    path.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            check=True,
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN): {exc}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True, timeout=30)


def test_spill_folder_too_small_fails_clearly_and_quickly(world):
    data, env = world["data"], world["env"]
    final = partition_path(data, DATASET, ISO, YEAR)
    before = snapshot(final)
    # The partition is up to date (the test above re-converted it), and an incremental run with
    # nothing changed reads nothing: every raw file now looks re-published, so all is re-read.
    for f in (data / "raw" / ISO / DATASET).iterdir():
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    with tiny_tmpfs(world["tmp"] / "spill_1mb") as spill:
        # A small budget makes the conversion spill; the spill folder holds 1 MB.
        config = world["tmp"] / "spill.yaml"
        config.write_text(
            yaml.safe_dump({"resources": {"conversion": {"config": {"memory_mb": 300, "spill_dir": str(spill)}}}})
        )
        t0, wall0 = time.monotonic(), time.time()
        run = run_cli(
            materialize_cmd("-c", str(config)),
            env=env,
            timeout=180,
            log=ARTIFACTS / f"faults-spill-{world['storage']}.log",
        )
        seconds = time.monotonic() - t0
    assert run.returncode != 0, "a conversion with a 1 MB spill folder should fail"
    assert seconds < 120, f"the failure took {seconds:.0f} s"

    with dg.DagsterInstance.from_config(str(world["home"])) as instance:
        [latest] = instance.get_runs(limit=1)
        assert latest.status == dg.DagsterRunStatus.FAILURE
        [failure] = instance.get_records_for_run(latest.run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
        error = failure.event_log_entry.dagster_event.step_failure_data.error
        message = error.to_string() if error else ""
        slots = instance.event_log_storage.get_concurrency_info(POOL)
    (ARTIFACTS / f"faults-spill-{world['storage']}.json").write_text(
        json.dumps({"seconds": round(seconds, 1), "error": message[:2000]}, indent=2)
    )
    # A clear failure: the engine could not write its spill files (not a crash, hang or OOM kill)...
    assert "offload" in message or "No space left" in message or "max_temp_directory_size" in message, message
    # ...the partition's previous output is untouched, nothing half-written is left visible...
    assert snapshot(final) == before
    assert temps(final.parent) == [] or all(p.stat().st_mtime < wall0 for p in temps(final.parent))
    assert temps(final) == []
    # ...and the failed step gave its pool slot back.
    assert all(s.run_id != latest.run_id for s in slots.claimed_slots)
