"""Tabular assets: raw files -> shards -> train/test/val -> fitted transforms.

One dynamic partition per data set (:data:`DATASETS`): a folder ``<data>/raw/tabular/<dataset>/``,
registered by :func:`tabular.sensors.tabular_dataset_sensor` when it appears or changes.

Thin wrappers: each turns its partition key, run config (column roles, split mode) and the shared
resources into plain arguments, calls one function of :mod:`tabular.loading`,
:mod:`tabular.splits` or :mod:`tabular.transforms` under :class:`memsafe.memory.PeakMemory`, and
returns :func:`memsafe.metadata.materialize_result`.

Folders (``<data>`` is the ``data`` resource's root, ``$MEMSAFE_DATA_DIR`` by default):
``<data>/raw/tabular/<dataset>/`` (input), ``<data>/parquet/tabular/<dataset>/shards/``,
``.../splits/{train,test,val}/``, ``.../transformed/{train,test,val}/``.

Run config classes must not be string annotations: Dagster resolves them at decoration time, so
this module does not use ``from __future__ import annotations``.
"""

from pathlib import Path
from typing import Literal

import dagster as dg
import pyarrow as pa
from pydantic import Field

from memsafe.memory import PeakMemory
from memsafe.metadata import materialize_result, peak_check_spec, peak_within_budget
from memsafe.resources import DataDirResource, MemoryBudgetResource
from memsafe.settings import output_dir, raw_dir
from tabular.loading import LoadSpec, load_dataset
from tabular.splits import DEFAULT_RATIOS, SplitConfigError, SplitSpec, split_dataset
from tabular.transforms import TransformSpec, transform_splits

SPLITS = ("train", "test", "val")
GROUP = "tabular"
POOL = "tabular"


# One partition per data set: a folder under <data>/raw/tabular/, added by tabular_dataset_sensor.
DATASETS = dg.DynamicPartitionsDefinition(name="tabular_datasets")


class TabularConfig(dg.Config):
    """Run config shared by the tabular assets: the data set's column roles and output shape.

    The data set itself is the partition key (a folder name under ``<data>/raw/tabular/``).
    """

    label: str = Field(default="label", description="Label column")
    customer_column: str | None = Field(default=None, description="Customer id column (temporal split)")
    date_column: str | None = Field(default=None, description="Date column (temporal split)")
    rows_per_shard: int = Field(default=1_000_000, description="Rows per output shard")
    output_format: Literal["parquet", "csv", "tsv"] = Field(default="parquet", description="Shard file format")
    processing: Literal["streaming", "batch"] = Field(
        default="streaming", description="streaming (default) or batch (everything in memory: small data only)"
    )


class LoadConfig(TabularConfig):
    column_types: dict[str, str] = Field(default_factory=dict, description="Forced Arrow types by column")


class SplitConfig(TabularConfig):
    mode: Literal["random", "stratified", "temporal", "single"] = Field(
        default="stratified", description="random, exact stratified, temporal (by customer) or single"
    )
    ratios: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_RATIOS))
    seed: int = 0
    cutoffs: list[str] = Field(default_factory=list, description="Temporal: 1 or 2 ISO dates")
    single_split: Literal["train", "test", "val"] = Field(
        default="test", description="Single mode: the split receiving every row"
    )


def dataset_dir(data: DataDirResource, dataset: str, part: str) -> Path:
    return output_dir(data.root(), "tabular", dataset, part)


@dg.asset(
    group_name=GROUP,
    pool=POOL,
    kinds={"parquet", "pyarrow"},
    partitions_def=DATASETS,
    check_specs=[peak_check_spec("tabular_shards")],
)
def tabular_shards(
    context: dg.AssetExecutionContext, config: LoadConfig, data: DataDirResource, budget: MemoryBudgetResource
) -> dg.MaterializeResult:
    """Raw CSV/TSV/Parquet files of one data set as numbered shards with signature, MODS and exact
    statistics. Grain: one row per raw row, ``part-00000...`` of ``rows_per_shard`` rows each."""
    root = data.root()
    spec = LoadSpec(
        label=config.label,
        customer_column=config.customer_column,
        date_column=config.date_column,
        rows_per_shard=config.rows_per_shard,
        output_format=config.output_format,
        processing=config.processing,
        column_types=dict(config.column_types),
        batch_rows=budget.batch_rows,
        memory_mb=budget.memory_mb,
        threads=budget.threads,
    )
    dataset = context.partition_key
    source = raw_dir(root, "tabular", dataset)
    pa.set_cpu_count(budget.threads)
    with budget.admitted(POOL, context), PeakMemory() as pm:  # a place on this node as well as the slot
        result = load_dataset(source, dataset_dir(data, dataset, "shards"), spec)
    return materialize_result(
        path=result.output,
        rows=result.rows,
        memory=pm.report,
        budget_mb=budget.memory_mb,
        schema=result.schema,
        extra={**result.as_metadata(), "signature": {"columns": result.schema.names}},
        check_asset="tabular_shards",
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            f"tabular_{s}",
            deps=["tabular_shards"],
            group_name=GROUP,
            skippable=True,
            kinds={"parquet"},
            description=f"The {s} split: one row per labelled input row.",
        )
        for s in SPLITS
    ],
    check_specs=[peak_check_spec(f"tabular_{s}") for s in SPLITS],
    pool=POOL,
    partitions_def=DATASETS,
)
def tabular_splits(
    context: dg.AssetExecutionContext, config: SplitConfig, data: DataDirResource, budget: MemoryBudgetResource
):
    """Label processing then a random, exact stratified, temporal (customer-allocated) or single split."""
    spec = SplitSpec(
        label=config.label,
        mode=config.mode,
        ratios=dict(config.ratios),
        seed=config.seed,
        customer_column=config.customer_column,
        date_column=config.date_column,
        cutoffs=tuple(config.cutoffs),
        single_split=config.single_split,
        rows_per_shard=config.rows_per_shard,
        output_format=config.output_format,
        batch_rows=budget.batch_rows,
        processing=config.processing,
        memory_mb=budget.memory_mb,
        threads=budget.threads,
    )
    unknown = set(spec.split_names()) - set(SPLITS)
    if unknown:
        raise SplitConfigError(f"split names {sorted(unknown)} (ratios / single_split) must be in {SPLITS}")
    pa.set_cpu_count(budget.threads)
    with budget.admitted(POOL, context), PeakMemory() as pm:  # a place on this node as well as the slot
        result = split_dataset(
            dataset_dir(data, context.partition_key, "shards"), dataset_dir(data, context.partition_key, "splits"), spec
        )
    for name, rows in result.rows.items():
        yield materialize_result(
            asset_key=f"tabular_{name}",
            path=result.output / name,
            rows=rows,
            memory=pm.report,
            budget_mb=budget.memory_mb,
            extra={
                "rows": rows,
                "shards": len(result.shards[name]),
                "mode": result.mode,
                "rows_in": result.rows_in,
                "class_counts": result.summary.get("class_counts_by_split", {}).get(name, {}),
                "label_codes": result.summary.get("label", {}).get("codes") or {},
                "dropped": result.summary["dropped"],
            },
        )
    # One step wrote every split: its peak is reported on each, produced or not (a check must be).
    for name in SPLITS:
        yield peak_within_budget(pm.report.peak_rss_mb, budget.memory_mb, asset=f"tabular_{name}")


# A data set's transforms are refitted whenever its splits are rewritten (a new split of the same
# partition would otherwise leave transforms fitted on the old train rows): eager() per partition
# (identity mapping: each data set follows its own splits), once no split of it is missing or in
# progress. Run by tabular.sensors.tabular_automation.
TRANSFORMED_AUTOMATION = dg.AutomationCondition.eager()


@dg.asset(
    group_name=GROUP,
    pool=POOL,
    kinds={"parquet"},
    deps=[f"tabular_{s}" for s in SPLITS],
    partitions_def=DATASETS,
    check_specs=[peak_check_spec("tabular_transformed")],
    automation_condition=TRANSFORMED_AUTOMATION,
)
def tabular_transformed(
    context: dg.AssetExecutionContext, config: TabularConfig, data: DataDirResource, budget: MemoryBudgetResource
) -> dg.MaterializeResult:
    """Every split standardised (numbers) and integer-encoded (categories) with parameters fitted
    exactly on all train rows; unseen categories get code -1. One row per split row."""
    exclude = tuple(c for c in (config.label, config.customer_column, config.date_column) if c)
    spec = TransformSpec(
        exclude=exclude,
        rows_per_shard=config.rows_per_shard,
        output_format=config.output_format,
        batch_rows=budget.batch_rows,
        memory_mb=budget.memory_mb,
    )
    out = dataset_dir(data, context.partition_key, "transformed")
    with budget.admitted(POOL, context), PeakMemory() as pm:  # a place on this node as well as the slot
        summary = transform_splits(dataset_dir(data, context.partition_key, "splits"), out, spec)
    rows = sum(summary["rows"].values())
    return materialize_result(
        path=out,
        rows=rows,
        memory=pm.report,
        budget_mb=budget.memory_mb,
        check_asset="tabular_transformed",
        extra={
            "rows": rows,
            "rows_by_split": summary["rows"],
            "standardised": len(summary["standardise"]),
            "encoded": len(summary["encode"]),
            "train_rows": summary["train_rows"],
        },
    )


ASSETS = [tabular_shards, tabular_splits, tabular_transformed]
