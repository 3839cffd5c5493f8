"""The iso_energy executor is chosen by $MEMSAFE_EXECUTOR when a run starts, not by a copy of the definitions."""

from __future__ import annotations

import pytest
from dagster._core.executor.multiprocess import MultiprocessExecutor

from iso_energy.definitions import defs
from iso_energy.executor import memsafe_executor


def create(monkeypatch, **env):
    for name in ("MEMSAFE_EXECUTOR", "MEMSAFE_CELERY_BROKER", "MEMSAFE_CELERY_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return memsafe_executor.executor_creation_fn(None)  # the choice does not depend on the context


def test_the_location_uses_the_configurable_executor():
    assert defs.resolve_job_def("lmp_job").executor_def is memsafe_executor


def test_multiprocess_from_a_forkserver_by_default(monkeypatch):
    executor = create(monkeypatch)
    assert isinstance(executor, MultiprocessExecutor) and executor._start_method == "forkserver"


def test_celery_with_its_broker(monkeypatch):
    pytest.importorskip("dagster_celery", reason="the celery extra is not installed")
    executor = create(monkeypatch, MEMSAFE_EXECUTOR="celery", MEMSAFE_CELERY_BROKER="redis://127.0.0.1:1/0")
    assert type(executor).__name__ == "CeleryExecutor"
    assert executor.broker == executor.backend == "redis://127.0.0.1:1/0"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MEMSAFE_EXECUTOR": "celery"}, "MEMSAFE_CELERY_BROKER"),  # no broker: say which variable
        ({"MEMSAFE_EXECUTOR": "dask"}, "one of multiprocess, celery"),  # not a path (issue 14)
    ],
    ids=["celery-without-broker", "unknown"],
)
def test_misconfiguration_is_named(monkeypatch, env, message):
    with pytest.raises(ValueError, match=message):
        create(monkeypatch, **env)
