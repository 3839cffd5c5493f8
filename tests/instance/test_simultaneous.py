"""Six conversions started at the same instant never run more than the limit at once.

Dagster's pool claim is not atomic: six ``dagster asset materialize`` commands started together
(one ``lmp_rt`` partition each) ran 3 conversions at once under a limit of 2 (issue 14). The
node-local admission (:mod:`memsafe.admission`) holds the limit however many slots Dagster hands
out. Each trial starts six real CLI processes on a real SQLite instance (a copy of the project's,
pool limits applied as ``make instance`` does); the overlap is read twice: from the admission's
own acquire/release log and from the step windows each materialisation records.

The last trial sets the pool to 6 (as an operator would for a cluster) and gives the node memory
for two budgets (``MEMSAFE_NODE_MEMORY_MB``): Dagster then admits all six at once and the node's
admission alone must hold them to two, logging the waits.
"""

from __future__ import annotations

import subprocess
import time
from datetime import date

import dagster as dg
import pytest

from iso_energy.isos import isos_with
from iso_energy.resources import POOL, pool_limit
from iso_energy.sample import generate
from memsafe.admission import read_windows
from tests.instance.dagster_procs import (
    ARTIFACTS,
    DAGSTER,
    REPO,
    apply_pool_limit,
    kill_session,
    make_home,
    service_env,
)
from tests.overlap import max_overlap

pytestmark = pytest.mark.instance

LIMIT = 2
# (pool limit in the instance, node memory for memsafe steps): the pool's limit, then the node's.
TRIALS = [(LIMIT, None), (LIMIT, None), (6, str(2 * 2048))]
ISOS = isos_with("lmp_rt")[:6]
NODES = 40  # a few seconds of conversion each on 2 cores: long enough for the steps to meet


def test_six_simultaneous_conversions_never_exceed_the_limit(tmp_path):
    home, data = make_home(tmp_path / "dagster_home"), tmp_path / "data"
    data.mkdir()
    assert f"pool '{POOL}': limit {LIMIT}" in apply_pool_limit(home, data)
    generate(data, date(2024, 1, 1), date(2024, 2, 1), nodes=NODES, isos=ISOS, datasets=["lmp_rt"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for trial, (pool_slots, node_mb) in enumerate(TRIALS):
        folder = tmp_path / f"admission-{trial}"
        env = service_env(
            home, data, MEMSAFE_ADMISSION_DIR=str(folder), **({"MEMSAFE_NODE_MEMORY_MB": node_mb} if node_mb else {})
        )
        with dg.DagsterInstance.from_config(str(home)) as instance:
            instance.event_log_storage.set_concurrency_slots(POOL, pool_slots)
        logs = [ARTIFACTS / f"simultaneous-{trial}-{iso}.log" for iso in ISOS]
        started = time.time()
        procs = []
        try:
            for iso, log in zip(ISOS, logs, strict=True):
                procs.append(
                    subprocess.Popen(
                        [
                            DAGSTER,
                            "asset",
                            "materialize",
                            "-m",
                            "iso_energy.definitions",
                            "--select",
                            "lmp_rt",
                            "--partition",
                            f"{iso}|2024",
                        ],
                        cwd=REPO,
                        env=env,
                        stdout=log.open("wb"),
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )
            for proc in procs:
                proc.wait(timeout=600)
        finally:
            leftovers = [pid for proc in procs for pid in kill_session(proc, grace=2)]
        assert not leftovers
        failed = [
            (iso, log.read_text()[-2000:])
            for iso, proc, log in zip(ISOS, procs, logs, strict=True)
            if proc.returncode != 0
        ]
        assert not failed, failed

        admitted = read_windows(POOL, folder)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            records = instance.fetch_materializations(dg.AssetKey("lmp_rt"), limit=100).records
            steps = [
                (
                    r.asset_materialization.metadata["started_at"].value,
                    r.asset_materialization.metadata["finished_at"].value,
                )
                for r in records
                if r.timestamp >= started
            ]
            assert pool_limit(instance) == pool_slots  # no step rewrote the operator's limit
            assert instance.event_log_storage.get_concurrency_info(POOL).active_slot_count == 0
        print(
            f"trial {trial}: {len(admitted)} admissions, max overlap {max_overlap(admitted)} (admission log), "
            f"{max_overlap(steps)} (step windows)"
        )
        assert len(admitted) == len(steps) == len(ISOS)
        assert max_overlap(admitted) <= LIMIT
        assert max_overlap(steps) <= LIMIT
        if pool_slots > LIMIT:  # only the node's admission stood between six steps and the memory
            waits = [log.name for log in logs if "waiting for one of 2 places of pool" in log.read_text()]
            assert waits, "six steps admitted by a pool of 6 should have waited for the node's 2 places"
