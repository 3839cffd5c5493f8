"""Fixtures starting the real Dagster services once and always ending every process they start."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dagster_procs import DagsterDev, start_dev


@pytest.fixture(scope="session")
def dagster_dev(tmp_path_factory) -> Iterator[DagsterDev]:
    """One `dagster dev` for the backfill and UI tests (starting it costs ~30-60 s on 2 cores)."""
    dev = start_dev(tmp_path_factory.mktemp("dev"), "main")
    try:
        yield dev
    finally:
        leftover = dev.stop()
    assert not leftover, f"processes of dagster dev still alive after SIGTERM+SIGKILL: {leftover}"
