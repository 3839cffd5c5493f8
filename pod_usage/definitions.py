"""Definitions of the pod usage fragment of the ``tabular`` code location.

The only place resources are bound for pod usage. They are the shared singletons of
:mod:`memsafe.resources` under the keys ``data`` and ``budget``, so the lead can combine this
fragment into ``tabular/definitions.py`` with ``dg.Definitions.merge``.
"""

from __future__ import annotations

import dagster as dg

from memsafe.resources import SHARED_RESOURCES
from tabular.pod_usage.assets import pod_usage_daily_summary, pod_usage_job

defs = dg.Definitions(
    assets=[pod_usage_daily_summary],
    jobs=[pod_usage_job],
    resources=SHARED_RESOURCES,
)
