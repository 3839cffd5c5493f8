"""The ``tabular`` code location: loading, splits and fitted transforms of tabular training data.

The only place its Definitions are built and resources bound (the shared ``data``/``budget``
singletons of :mod:`memsafe.resources`).
"""

import dagster as dg

from memsafe.resources import SHARED_RESOURCES
from tabular.assets import ASSETS
from tabular.sensors import tabular_dataset_sensor, tabular_job

defs = dg.Definitions(
    assets=ASSETS, jobs=[tabular_job], sensors=[tabular_dataset_sensor], resources=SHARED_RESOURCES,
)
