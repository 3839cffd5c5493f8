"""Fixtures starting the real Dagster services and always ending every process they start.

Instance tests run on both instance storages: SQLite (the project's dagster_home/) and PostgreSQL
(docs/cluster/storage-postgres.yaml on a server named by ``MEMSAFE_TEST_POSTGRES_URL``, which
.ci/run starts; without it the PostgreSQL cases skip, or fail under ``MEMSAFE_REQUIRE_POSTGRES``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.instance.dagster_procs import STORAGES, DagsterDev, postgres_url, start_dev


def _dev(tmp_path_factory, storage: str) -> Iterator[DagsterDev]:
    dev = start_dev(tmp_path_factory.mktemp(f"dev-{storage}"), f"main-{storage}", storage)
    try:
        yield dev
    finally:
        leftover = dev.stop()
    assert not leftover, f"processes of dagster dev still alive after SIGTERM+SIGKILL: {leftover}"


@pytest.fixture(scope="session")
def dagster_dev(tmp_path_factory) -> Iterator[DagsterDev]:
    """One `dagster dev` on SQLite for the backfill and UI tests (starting it costs ~30-60 s on 2 cores)."""
    yield from _dev(tmp_path_factory, "sqlite")


@pytest.fixture(scope="session", params=STORAGES)
def dagster_dev_by_storage(request, tmp_path_factory) -> Iterator[DagsterDev]:
    """`dagster dev` on each storage: the SQLite one is :func:`dagster_dev`, the PostgreSQL one is
    stopped as soon as its tests are done."""
    if request.param == "sqlite":
        yield request.getfixturevalue("dagster_dev")
        return
    postgres_url()
    yield from _dev(tmp_path_factory, request.param)
