"""The executor of the iso_energy location, chosen by configuration (no copy of the definitions).

``$MEMSAFE_EXECUTOR`` selects it when a run starts (read in the run's own process, never at
import): ``multiprocess`` (the default: one process per step, started from a forkserver) or
``celery`` (each step sent to Celery workers through the broker at ``$MEMSAFE_CELERY_BROKER``,
results through ``$MEMSAFE_CELERY_BACKEND``, default the broker). Workers read the same broker
from docs/cluster/celery-worker.yaml. Either way the pools are claimed per step and each step
takes its node-local admission place.
"""

from __future__ import annotations

import os

import dagster as dg
from dagster._core.definitions.executor_definition import _core_multiprocess_executor_creation
from dagster._core.execution.retries import RetryMode

EXECUTOR_ENV = "MEMSAFE_EXECUTOR"
BROKER_ENV = "MEMSAFE_CELERY_BROKER"
BACKEND_ENV = "MEMSAFE_CELERY_BACKEND"
KINDS = ("multiprocess", "celery")
# What the step forkserver imports once (each step forked from it inherits the modules).
PRELOAD_MODULES = ["iso_energy.definitions", "memsafe.step_preload"]


@dg.executor(name="memsafe", config_schema=dg.Permissive(), requirements=dg.multiple_process_executor_requirements())
def memsafe_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """``multiprocess`` or ``celery`` from ``$MEMSAFE_EXECUTOR``; run config under ``execution`` is ignored.

    Raises:
        ValueError: an unknown ``$MEMSAFE_EXECUTOR``, or ``celery`` without ``$MEMSAFE_CELERY_BROKER``.
    """
    kind = os.environ.get(EXECUTOR_ENV) or "multiprocess"
    if kind == "multiprocess":
        # Forkserver: each step re-imports far less than with spawn (7.7 s vs 13.4 s for 7 trivial
        # steps on 2 cores, ../shared/notes/dagster-1.13.md section 8); preloading this location
        # means a step started from a job loaded elsewhere (the demo's) does not re-import it
        # either, and memsafe.step_preload spares each step the instance's storage imports.
        return _core_multiprocess_executor_creation(
            {
                "start_method": {"forkserver": {"preload_modules": PRELOAD_MODULES}},
                "retries": {"enabled": {}},
            }
        )
    if kind == "celery":
        from dagster_celery.executor import CeleryExecutor

        broker = os.environ.get(BROKER_ENV)
        if not broker:
            raise ValueError(f"${EXECUTOR_ENV}=celery needs ${BROKER_ENV} (e.g. redis://host:6379/0)")
        return CeleryExecutor(retries=RetryMode.DISABLED, broker=broker, backend=os.environ.get(BACKEND_ENV) or broker)
    raise ValueError(f"${EXECUTOR_ENV} must be one of {', '.join(KINDS)}, got {kind!r}")
