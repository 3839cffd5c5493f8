"""The probe_rows code location: the only place its Definitions are built and resources bound."""

from __future__ import annotations

import dagster as dg

from memsafe.resources import BUDGET, SHARED_RESOURCES
from probe_rows.assets import POOL, measurement_shards, probe_rows
from probe_rows.resources import PROBE_ROWS
from probe_rows.sensors import measurement_shard_sensor, probe_rows_automation, shard_job

# This location's pools and the budget of one step of each (`make instance` sets every location's).
POOLS = {POOL: BUDGET}
RESOURCES = {**SHARED_RESOURCES, "probe_settings": PROBE_ROWS}

defs = dg.Definitions(
    assets=[measurement_shards, probe_rows],
    jobs=[shard_job],
    sensors=[measurement_shard_sensor, probe_rows_automation],
    resources=RESOURCES,
)
