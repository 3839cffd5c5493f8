"""The ``pod_usage`` code location: the daily cost-management summary of Kubernetes pod usage.

The only place its Definitions are built and resources bound (the shared ``data``/``budget``
singletons of :mod:`memsafe.resources`, so locations can be merged in one process by tests).
"""

from __future__ import annotations

import dagster as dg

from memsafe.resources import BUDGET, SHARED_RESOURCES
from pod_usage.assets import POOL, pod_usage_daily_summary, pod_usage_job

# This location's pools and the budget of one step of each (`make instance` sets every location's).
POOLS = {POOL: BUDGET}

defs = dg.Definitions(
    assets=[pod_usage_daily_summary],
    jobs=[pod_usage_job],
    resources=SHARED_RESOURCES,
)
