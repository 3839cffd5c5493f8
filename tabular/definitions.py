"""The ``tabular`` code location: loading, splits and fitted transforms of tabular training data.

Resources are the shared singletons (``data``, ``budget``) so that this location can be merged
with others (``dg.Definitions.merge``), e.g. the pod-usage assets of ``tabular.pod_usage``.
"""

import dagster as dg

from memsafe.resources import SHARED_RESOURCES
from tabular.assets import ASSETS

tabular_job = dg.define_asset_job(
    "tabular_job", selection=dg.AssetSelection.groups("tabular"),
    description="Load, split and transform one tabular data set (run config picks the data set).",
)

defs = dg.Definitions(assets=ASSETS, jobs=[tabular_job], resources=SHARED_RESOURCES)
