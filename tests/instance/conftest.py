"""Fixtures starting the real Dagster services once and always ending every process they start."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from dagster_procs import ARTIFACTS, DagsterDev, apply_pool_limit, make_home


def start_dev(tmp, name: str) -> DagsterDev:
    """A temporary instance (copy of dagster_home/, pool limit applied as `make instance` does)
    and `dagster dev` over the project's workspace.yaml, with an empty data root."""
    home = make_home(tmp / "dagster_home")
    data = tmp / "data"
    data.mkdir()
    apply_pool_limit(home, data)
    t0 = time.monotonic()
    dev = DagsterDev(home, data, ARTIFACTS / f"{name}-dagster-dev.log").start()
    try:
        dev.wait_ready()
        dev.startup_seconds = round(time.monotonic() - t0, 1)
        print(f"dagster dev ({name}) ready on {dev.url} in {dev.startup_seconds} s")
        # Sensors that default to RUNNING would react to the data the tests write; a test that
        # wants one starts it itself.
        dev.stop_sensors()
    except BaseException:
        dev.stop()
        raise
    return dev


@pytest.fixture(scope="session")
def dagster_dev(tmp_path_factory) -> Iterator[DagsterDev]:
    """One `dagster dev` for the backfill and UI tests (starting it costs ~30-60 s on 2 cores)."""
    dev = start_dev(tmp_path_factory.mktemp("dev"), "main")
    try:
        yield dev
    finally:
        leftover = dev.stop()
    assert not leftover, f"processes of dagster dev still alive after SIGTERM+SIGKILL: {leftover}"
