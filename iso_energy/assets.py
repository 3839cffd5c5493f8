"""LMP assets, one per dataset, built from the operator registry.

Modelling choice: one asset per dataset (``lmp_da``, ``lmp_rt``) partitioned by operator x year,
rather than one asset per operator and dataset. The UI then shows one grid of operators by years
per dataset, "backfill 2024" is one selection across operators, and adding an operator adds a
partition row, not new assets. Every partition is one run step in the ``iso_conversion`` pool.
"""

import time
import warnings

import dagster as dg

from iso_energy.catalog import build_catalog
from iso_energy.checks import as_checks, lmp_checks, lmp_component_check, revision_check
from iso_energy.convert import convert_partition
from iso_energy.isos import ISOS, isos_with
from iso_energy.partitions import iso_year_partitions
from iso_energy.resources import POOL, CatalogDuckDBResource, ConversionBudgetResource
from memsafe.memory import PeakMemory
from memsafe.metadata import materialize_result, peak_check_spec
from memsafe.resources import DataDirResource
from memsafe.settings import output_dir

LMP_DATASETS = {
    "lmp_da": "Day-ahead (DA) locational marginal prices",
    "lmp_rt": "Real-time (RT) locational marginal prices",
}
# Every check, with the description the UI shows. Checks are partitioned like their asset
# (Dagster 1.13 preview): each result belongs to its (operator, year) partition, so one
# partition's failure is never hidden by another's pass; the key is in the metadata as well.
# peak_within_budget comes from memsafe.metadata, shared with every location.
HOURS_DESCRIPTION = (
    "Each {series} covers exactly the hours of its operating day in the operator's "
    "prevailing time: 23 on the spring-forward day, 25 on fall-back, 24 otherwise. A partial "
    "first or last day of the data is reported, not failed."
)
LMP_CHECKS = {
    "unique_key": "One row per location_id, location_type and interval_start_utc.",
    "no_null_lmp": "Every row has a total LMP (lmp_usd_per_mwh is not null).",
    "hours_per_operating_day": HOURS_DESCRIPTION.format(series="pricing location"),
    "lmp_equals_components": (
        "WARN: lmp = energy + congestion + loss within the operator's published rounding "
        "(PJM, CAISO, ISO-NE, SPP; operators without a full set of components check 0 rows)."
    ),
    "no_conflicting_revisions": (
        "WARN: no key was published twice under one version with different values "
        "(the conversion keeps the last file's; the metadata names one example)."
    ),
}


def check_specs(asset: str, checks: dict[str, str], partitions_def: dg.PartitionsDefinition) -> list:
    """One partitioned :class:`dagster.AssetCheckSpec` per check name, with its description,
    plus the shared ``peak_within_budget``."""
    with warnings.catch_warnings():  # partitioned checks are a 1.13 preview; the version is pinned
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return [
            *(
                dg.AssetCheckSpec(name, asset=asset, description=text, partitions_def=partitions_def)
                for name, text in checks.items()
            ),
            peak_check_spec(asset, partitions_def=partitions_def),
        ]


def build_lmp_asset(dataset: str, description: str) -> dg.AssetsDefinition:
    """The asset converting ``dataset`` for every operator that publishes it."""
    partitions = iso_year_partitions(isos_with(dataset))

    @dg.asset(
        name=dataset,
        partitions_def=partitions,
        pool=POOL,
        group_name="iso_energy",
        kinds={"duckdb", "parquet"},
        check_specs=check_specs(dataset, LMP_CHECKS, partitions),
        description=(
            f"{description}, normalised to one schema. One folder per operator and operating year, "
            f"one parquet file per month (`parquet/dataset={dataset}/iso=<iso>/year=<year>/<year>-<MM>.parquet`); "
            f"one row per interval and pricing location, keyed on UTC; prices in USD/MWh."
        ),
    )
    def _lmp(
        context: dg.AssetExecutionContext, data: DataDirResource, conversion: ConversionBudgetResource
    ) -> dg.MaterializeResult:
        return convert_step(context, data, conversion, dataset, lmp_outcomes)

    return _lmp


def lmp_outcomes(path, converter, budget) -> list:
    """The LMP checks, plus LMP against its components within the operator's published rounding."""
    return [
        *lmp_checks(path, converter.timezone, budget),
        lmp_component_check(path, converter.component_tolerance, budget),
    ]


def as_outcomes(path, converter, budget) -> list:
    return as_checks(path, converter.timezone, budget)


def convert_step(
    context: dg.AssetExecutionContext, data: DataDirResource, conversion: ConversionBudgetResource, dataset: str, checks
) -> dg.MaterializeResult:
    """One conversion step: the partition's operator and year -> :func:`convert_partition`, then
    the dataset's ``checks(path, converter, budget)`` and the shared metadata and memory check."""
    keys = context.partition_key.keys_by_dimension
    converter, year = ISOS[keys["iso"]], int(keys["year"])
    root = data.root()
    budget = conversion.budget(root)
    # A place on this node as well as the pool's slot: Dagster's slot claim is not atomic.
    with conversion.admitted(POOL, context):
        step_started = time.time()
        stats = convert_partition(converter, dataset, year, root, budget)
        # The checks run under the same budget: their peak counts in the step's reported peak.
        with PeakMemory(interval=0.1) as pm:
            outcomes = [
                *checks(stats.output, converter, budget),
                revision_check(stats.conflicting_revisions, stats.conflict_example),
            ]
        stats.memory.peak_rss_mb = max(stats.memory.peak_rss_mb, pm.report.peak_rss_mb)
        step_finished = time.time()
    part = {"partition": str(context.partition_key)}
    results = [
        dg.AssetCheckResult(
            check_name=o.name,
            passed=o.passed,
            description=o.description,
            metadata={**part, **o.metadata},
            severity=dg.AssetCheckSeverity.WARN if o.warn else dg.AssetCheckSeverity.ERROR,
        )
        for o in outcomes
    ]
    # The conversion's own figures; path, rows, memory and times come from materialize_result.
    shared = {"path", "seconds", "started_at", *stats.memory.as_metadata()}
    figures = {k: v for k, v in stats.as_metadata().items() if k not in shared} | {"convert_seconds": stats.seconds}
    # started_at/finished_at: the window this step held its node place (overlap audits).
    return materialize_result(
        path=stats.output,
        rows=stats.rows_out,
        seconds=step_finished - step_started,
        memory=stats.memory,
        budget_mb=budget.memory_mb,
        started_at=step_started,
        finished_at=step_finished,
        extra=figures,
        check_asset=context.assets_def.key,
        check_results=results,
        partition=context.partition_key,
    )


LMP_ASSETS = [build_lmp_asset(ds, desc) for ds, desc in LMP_DATASETS.items()]

AS_DATASET = "as"  # raw and parquet folder name of the ancillary-service prices
AS_CHECKS = {
    "unique_key": "One row per market, region, product and interval_start_utc.",
    "no_null_price": "Every row has a price (price_usd_per_mw is not null).",
    "hours_per_operating_day": HOURS_DESCRIPTION.format(series="market, region and product"),
    "no_conflicting_revisions": (
        "WARN: no key was published twice under one version with different values "
        "(the conversion keeps the last file's; the metadata names one example)."
    ),
}
AS_PARTITIONS = iso_year_partitions(isos_with(AS_DATASET))


@dg.asset(
    name="as_prices",
    partitions_def=AS_PARTITIONS,
    pool=POOL,
    group_name="iso_energy",
    kinds={"duckdb", "parquet"},
    check_specs=check_specs("as_prices", AS_CHECKS, AS_PARTITIONS),
    description=(
        "Ancillary-service (AS) clearing prices (regulation, spinning, non-spinning, ... reserves), normalised to "
        f"one schema. One folder per operator and operating year, one parquet file per month "
        f"(`parquet/dataset={AS_DATASET}/iso=<iso>/year=<year>/<year>-<MM>.parquet`); one row per market, region, "
        "product and interval, keyed on UTC; USD/MW."
    ),
)
def as_prices(
    context: dg.AssetExecutionContext, data: DataDirResource, conversion: ConversionBudgetResource
) -> dg.MaterializeResult:
    return convert_step(context, data, conversion, AS_DATASET, as_outcomes)


# Rebuilt whenever any converted partition lands (once the runs in flight finish). Dagster's
# eager() would also wait for *every* upstream partition to exist, which never happens: most
# (operator, year) partitions have no raw files. So eager() without that one clause.
CATALOG_AUTOMATION = dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())


@dg.asset(
    name="price_catalog",
    deps=[*LMP_ASSETS, as_prices],
    group_name="iso_energy",
    kinds={"duckdb"},
    automation_condition=CATALOG_AUTOMATION,
    description=(
        "A DuckDB database (`<data root>/catalog.duckdb`) with the views `lmp` and `ancillary_services` over "
        "every parquet partition, hive-partitioned on dataset, iso and year so `WHERE iso = 'nyiso' AND "
        "year = 2024` reads only that partition's files. Views glob at query time; rebuild after moving the "
        "data root or when a dataset gets its first partition."
    ),
)
def price_catalog(data: DataDirResource, catalog_db: CatalogDuckDBResource) -> dg.MaterializeResult:
    root = data.root()
    with catalog_db.get_connection(root) as con:
        summary = build_catalog(con, output_dir(root))
    meta: dict[str, object] = {}
    for view, s in summary.items():
        meta[f"{view}_files"] = s["files"]
        meta[f"{view}_rows"] = s["rows"]
        meta[f"{view}_isos"] = ", ".join(s["isos"]) or "-"
    return materialize_result(path=catalog_db.database_path(root), extra=meta)
