"""LMP assets, one per dataset, built from the operator registry.

Modelling choice: one asset per dataset (``lmp_da``, ``lmp_rt``) partitioned by operator x year,
rather than one asset per operator and dataset. The UI then shows one grid of operators by years
per dataset, "backfill 2024" is one selection across operators, and adding an operator adds a
partition row, not new assets. Every partition is one run step in the ``iso_conversion`` pool.
"""


import time

import dagster as dg

from iso_energy.catalog import build_catalog
from iso_energy.checks import as_checks, lmp_checks, revision_check
from iso_energy.convert import convert_partition
from iso_energy.isos import ISOS, isos_with
from iso_energy.partitions import iso_year_partitions
from iso_energy.resources import POOL, CatalogDuckDBResource, ConversionBudgetResource
from memsafe.resources import DataDirResource
from memsafe.settings import output_dir

LMP_DATASETS = {
    "lmp_da": "Day-ahead (DA) locational marginal prices",
    "lmp_rt": "Real-time (RT) locational marginal prices",
}
CHECK_NAMES = ("unique_key", "no_null_lmp", "hours_per_operating_day", "peak_within_budget", "no_conflicting_revisions")


def _revision_result(stats) -> dg.AssetCheckResult:
    """``no_conflicting_revisions`` (WARN): counted by the conversion, named with one example key."""
    o = revision_check(stats.conflicting_revisions, stats.conflict_example)
    return dg.AssetCheckResult(check_name=o.name, passed=o.passed, severity=dg.AssetCheckSeverity.WARN,
                               metadata=o.metadata)


def build_lmp_asset(dataset: str, description: str) -> dg.AssetsDefinition:
    """The asset converting ``dataset`` for every operator that publishes it."""
    isos = isos_with(dataset)

    @dg.asset(
        name=dataset,
        partitions_def=iso_year_partitions(isos),
        pool=POOL,
        group_name="iso_energy",
        kinds={"duckdb", "parquet"},
        check_specs=[dg.AssetCheckSpec(name, asset=dataset) for name in CHECK_NAMES],
        description=(
            f"{description}, normalised to one schema. One parquet file per operator and operating "
            f"year (parquet/dataset={dataset}/iso=<iso>/year=<year>/data.parquet); one row per "
            f"interval and pricing location, keyed on UTC; prices in USD/MWh."
        ),
    )
    def _lmp(context: dg.AssetExecutionContext, data: DataDirResource,
             conversion: ConversionBudgetResource) -> dg.MaterializeResult:
        step_started = time.time()
        keys = context.partition_key.keys_by_dimension
        converter, year = ISOS[keys["iso"]], int(keys["year"])
        root = data.root()
        budget = conversion.budget(root)
        stats = convert_partition(converter, dataset, year, root, budget, log=context.log.info)
        outcomes = lmp_checks(stats.output, converter.timezone, budget)
        peak = stats.memory.peak_rss_mb
        checks = [dg.AssetCheckResult(check_name=o.name, passed=o.passed, metadata=o.metadata)
                  for o in outcomes]
        checks.append(dg.AssetCheckResult(
            check_name="peak_within_budget", passed=peak <= budget.memory_mb,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"peak_rss_mb": peak, "memory_budget_mb": budget.memory_mb}))
        checks.append(_revision_result(stats))
        meta = stats.as_metadata()
        meta["path"] = dg.MetadataValue.path(str(stats.output))
        meta["memory_budget_mb"] = budget.memory_mb
        meta["rows_per_second"] = round(stats.rows_out / stats.seconds) if stats.seconds else None
        # The window this step held its pool slot, for overlap audits from the instance's records.
        meta["step_started_at"], meta["step_finished_at"] = step_started, time.time()
        return dg.MaterializeResult(metadata=meta, check_results=checks)

    return _lmp


LMP_ASSETS = [build_lmp_asset(ds, desc) for ds, desc in LMP_DATASETS.items()]

AS_DATASET = "as"  # raw and parquet folder name of the ancillary-service prices
AS_CHECK_NAMES = ("unique_key", "no_null_price", "hours_per_operating_day", "peak_within_budget",
                  "no_conflicting_revisions")


@dg.asset(
    name="as_prices",
    partitions_def=iso_year_partitions(isos_with(AS_DATASET)),
    pool=POOL,
    group_name="iso_energy",
    kinds={"duckdb", "parquet"},
    check_specs=[dg.AssetCheckSpec(name, asset="as_prices") for name in AS_CHECK_NAMES],
    description=(
        "Ancillary-service (AS) clearing prices (regulation, spinning, non-spinning, ... reserves), normalised to "
        f"one schema. One parquet file per operator and operating year (parquet/dataset={AS_DATASET}/iso=<iso>/"
        "year=<year>/data.parquet); one row per market, region, product and interval, keyed on UTC; USD/MW."
    ),
)
def as_prices(context: dg.AssetExecutionContext, data: DataDirResource,
              conversion: ConversionBudgetResource) -> dg.MaterializeResult:
    keys = context.partition_key.keys_by_dimension
    converter, year = ISOS[keys["iso"]], int(keys["year"])
    root = data.root()
    budget = conversion.budget(root)
    stats = convert_partition(converter, AS_DATASET, year, root, budget, log=context.log.info)
    checks = [dg.AssetCheckResult(check_name=o.name, passed=o.passed, metadata=o.metadata)
              for o in as_checks(stats.output, converter.timezone, budget)]
    peak = stats.memory.peak_rss_mb
    checks.append(dg.AssetCheckResult(
        check_name="peak_within_budget", passed=peak <= budget.memory_mb, severity=dg.AssetCheckSeverity.WARN,
        metadata={"peak_rss_mb": peak, "memory_budget_mb": budget.memory_mb}))
    checks.append(_revision_result(stats))
    meta = stats.as_metadata()
    meta["path"] = dg.MetadataValue.path(str(stats.output))
    meta["memory_budget_mb"] = budget.memory_mb
    return dg.MaterializeResult(metadata=meta, check_results=checks)


@dg.asset(
    name="price_catalog",
    deps=[*LMP_ASSETS, as_prices],
    group_name="iso_energy",
    kinds={"duckdb"},
    description=(
        "A DuckDB database (<data root>/catalog.duckdb) with the views `lmp` and `ancillary_services` over "
        "every parquet partition, hive-partitioned on dataset, iso and year so `WHERE iso = 'nyiso' AND "
        "year = 2024` reads only that partition's files. Views glob at query time; rebuild after moving the "
        "data root or when a dataset gets its first partition."
    ),
)
def price_catalog(data: DataDirResource, catalog_db: CatalogDuckDBResource) -> dg.MaterializeResult:
    root = data.root()
    with catalog_db.get_connection(root) as con:
        summary = build_catalog(con, output_dir(root))
    meta: dict[str, object] = {"path": dg.MetadataValue.path(str(catalog_db.database_path(root)))}
    for view, s in summary.items():
        meta[f"{view}_files"] = s["files"]
        meta[f"{view}_rows"] = s["rows"]
        meta[f"{view}_isos"] = ", ".join(s["isos"]) or "-"
    return dg.MaterializeResult(metadata=meta)
