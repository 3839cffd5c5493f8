"""The ``tabular`` code location: loading, splits and fitted transforms of tabular training data.

The only place its Definitions are built and resources bound (the shared ``data``/``budget``
singletons of :mod:`memsafe.resources`).
"""

import dagster as dg

from memsafe.resources import BUDGET, SHARED_RESOURCES
from tabular.assets import ASSETS, POOL
from tabular.sensors import tabular_automation, tabular_dataset_sensor, tabular_job

# This location's pools and the budget of one step of each (`make instance` sets every location's).
POOLS = {POOL: BUDGET}

defs = dg.Definitions(
    assets=ASSETS,
    jobs=[tabular_job],
    sensors=[tabular_dataset_sensor, tabular_automation],
    resources=SHARED_RESOURCES,
)
