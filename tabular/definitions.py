"""The ``tabular`` code location: loading, splits and fitted transforms of tabular training data,
plus the streaming daily summary of Kubernetes pod usage (:mod:`tabular.pod_usage`).

Resources are the shared singletons (``data``, ``budget``), so the two fragments merge with
``dg.Definitions.merge`` (which requires the same resource object per key). The pod-usage
fragment's module is imported, not its ``defs`` object: Dagster refuses a module holding two
``Definitions`` objects at module scope.
"""

import dagster as dg

from memsafe.resources import BUDGET, SHARED_RESOURCES
from tabular.assets import ASSETS
from tabular.assets import POOL as TABULAR_POOL
from tabular.pod_usage import definitions as pod_usage_definitions
from tabular.pod_usage.assets import POOL as POD_USAGE_POOL

# This location's pools and the budget of one step of each (`make instance` sets every location's).
POOLS = {TABULAR_POOL: BUDGET, POD_USAGE_POOL: BUDGET}

tabular_job = dg.define_asset_job(
    "tabular_job", selection=dg.AssetSelection.groups("tabular"),
    description="Load, split and transform one tabular data set (run config picks the data set).",
)

defs = dg.Definitions.merge(
    dg.Definitions(assets=ASSETS, jobs=[tabular_job], resources=SHARED_RESOURCES),
    pod_usage_definitions.defs,
)
