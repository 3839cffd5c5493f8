"""The ``pod_usage`` code location: the daily cost-management summary of Kubernetes pod usage.

The only place its Definitions are built and resources bound (the shared ``data``/``budget``
singletons of :mod:`memsafe.resources`, so locations can be merged in one process by tests).
"""

from __future__ import annotations

import dagster as dg

from memsafe.resources import SHARED_RESOURCES
from pod_usage.assets import pod_usage_daily_summary, pod_usage_job

defs = dg.Definitions(
    assets=[pod_usage_daily_summary],
    jobs=[pod_usage_job],
    resources=SHARED_RESOURCES,
)
