"""The ``iso_energy`` code location: market-operator CSVs to yearly parquet.

The only place its ``Definitions`` are built and resources bound. ``CONVERSION`` is the single
source of truth for the conversion memory budget and for the ``iso_conversion`` pool limit
(applied to the instance by ``python -m iso_energy.instance``).
"""

from __future__ import annotations

import dagster as dg

from iso_energy.assets import LMP_ASSETS, as_prices, price_catalog
from iso_energy.executor import memsafe_executor
from iso_energy.resources import POOL, CatalogDuckDBResource, ConversionBudgetResource
from iso_energy.sensors import build_raw_files_sensor
from memsafe.resources import SHARED_RESOURCES

# 2 GB per conversion x 2 at once + ~1 GB for Dagster fits a 8 GB machine with room to spare.
CONVERSION = ConversionBudgetResource(memory_mb=2048, threads=2, batch_rows=100_000, max_concurrent=2)
# This location's pools and the budget of one step of each (`make instance` sets every location's).
POOLS = {POOL: CONVERSION}

# One run per (operator, year) partition, both LMP datasets; the job a backfill launches.
lmp_job = dg.define_asset_job(
    "lmp_job",
    selection=dg.AssetSelection.assets(*LMP_ASSETS),
    description="Convert day-ahead and real-time LMP for one operator and operating year.",
)

# One run per (operator, year) partition of the ancillary-service prices (PJM, CAISO, ERCOT).
as_job = dg.define_asset_job(
    "as_job",
    selection=dg.AssetSelection.assets(as_prices),
    description="Convert ancillary-service clearing prices for one operator and operating year.",
)

# New or changed raw files -> the partitions they affect (dataset -> the job converting it).
raw_files_sensor = build_raw_files_sensor(
    {"lmp_da": ("lmp_job", "lmp_da"), "lmp_rt": ("lmp_job", "lmp_rt"), "as": ("as_job", "as_prices")},
    jobs=[lmp_job, as_job],
)

# One process per conversion step (its memory is returned when the step ends): multiprocess from a
# forkserver that has already imported this module (a step then starts in a fraction of a second
# instead of re-importing for seconds while it holds its pool slot), or Celery workers; chosen by
# $MEMSAFE_EXECUTOR when a run starts (iso_energy/executor.py). The pool and the node's admission,
# not the executor, cap conversions. Run config under `execution:` is not applied.
EXECUTOR = memsafe_executor

# price_catalog follows its upstream partitions by declarative automation (see CATALOG_AUTOMATION).
# Declared here and running by default, so it does not depend on the instance's default
# automation sensor being switched on in the UI.
catalog_automation = dg.AutomationConditionSensorDefinition(
    "price_catalog_automation",
    target=[price_catalog],
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)

defs = dg.Definitions(
    assets=[*LMP_ASSETS, as_prices, price_catalog],
    jobs=[lmp_job, as_job],
    sensors=[raw_files_sensor, catalog_automation],
    executor=EXECUTOR,
    resources={**SHARED_RESOURCES, "conversion": CONVERSION, "catalog_db": CatalogDuckDBResource()},
)
