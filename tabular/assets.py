"""Tabular assets: raw files -> shards -> train/test/val -> fitted transforms.

Thin wrappers: each turns its run config and the shared resources into plain arguments, calls one
function of :mod:`tabular.loading`, :mod:`tabular.splits` or :mod:`tabular.transforms` under
:class:`memsafe.memory.PeakMemory`, and returns ``MaterializeResult`` metadata.

Folders (``<data>`` is the ``data`` resource's root, ``$MEMSAFE_DATA_DIR`` by default):
``<data>/raw/tabular/<dataset>/`` (input), ``<data>/parquet/tabular/<dataset>/shards/``,
``.../splits/{train,test,val}/``, ``.../transformed/{train,test,val}/``.

Run config classes must not be string annotations: Dagster resolves them at decoration time, so
this module does not use ``from __future__ import annotations``.
"""

from pathlib import Path

import dagster as dg
import pyarrow as pa
from pydantic import Field

from memsafe.memory import PeakMemory
from memsafe.resources import DataDirResource, MemoryBudgetResource
from memsafe.settings import output_dir, raw_dir
from tabular.loading import LoadSpec, load_dataset
from tabular.splits import DEFAULT_RATIOS, SplitConfigError, SplitSpec, split_dataset
from tabular.transforms import TransformSpec, transform_splits

SPLITS = ("train", "test", "val")
GROUP = "tabular"
POOL = "tabular"


class TabularConfig(dg.Config):
    """Run config shared by the tabular assets: which data set and its column roles."""

    dataset: str = Field(default="demo", description="Folder name under <data>/raw/tabular/")
    label: str = Field(default="label", description="Label column")
    customer_column: str | None = Field(default=None, description="Customer id column (temporal split)")
    date_column: str | None = Field(default=None, description="Date column (temporal split)")
    rows_per_shard: int = Field(default=1_000_000, description="Rows per output shard")
    output_format: str = Field(default="parquet", description="parquet, csv or tsv")
    processing: str = Field(default="streaming", description="streaming (default) or batch (small data)")


class LoadConfig(TabularConfig):
    input_dir: str | None = Field(default=None, description="Default <data>/raw/tabular/<dataset>")
    column_types: dict[str, str] = Field(default_factory=dict, description="Forced Arrow types by column")


class SplitConfig(TabularConfig):
    mode: str = Field(default="stratified", description="random, stratified, temporal or single")
    ratios: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_RATIOS))
    seed: int = 0
    cutoffs: list[str] = Field(default_factory=list, description="Temporal: 1 or 2 ISO dates")
    single_split: str = Field(default="test", description="Single mode: the split receiving every row")


def dataset_dir(data: DataDirResource, dataset: str, part: str) -> Path:
    return output_dir(data.root(), "tabular", dataset, part)


def _meta(report: dict, **extra) -> dict:
    return {**extra, **report}


@dg.asset(group_name=GROUP, pool=POOL, kinds={"parquet", "pyarrow"})
def tabular_shards(
    context: dg.AssetExecutionContext, config: LoadConfig, data: DataDirResource, budget: MemoryBudgetResource
) -> dg.MaterializeResult:
    """Raw CSV/TSV/Parquet files of one data set as numbered shards with signature, MODS and exact
    statistics. Grain: one row per raw row, ``part-00000...`` of ``rows_per_shard`` rows each."""
    root = data.root()
    spec = LoadSpec(label=config.label, customer_column=config.customer_column,
                    date_column=config.date_column,
                    rows_per_shard=config.rows_per_shard,
                    output_format=config.output_format, processing=config.processing,
                    column_types=dict(config.column_types), batch_rows=budget.batch_rows,
                    memory_mb=budget.memory_mb, threads=budget.threads)
    source = Path(config.input_dir) if config.input_dir else raw_dir(root, "tabular", config.dataset)
    pa.set_cpu_count(budget.threads)
    with budget.admitted(POOL, context), PeakMemory() as pm:  # a place on this node as well as the slot
        result = load_dataset(source, dataset_dir(data, config.dataset, "shards"), spec)
    return dg.MaterializeResult(metadata=_meta(
        pm.report.as_metadata(), **result.as_metadata(), path=dg.MetadataValue.path(str(result.output)),
        signature=dg.MetadataValue.json({"columns": result.schema.names})))


@dg.multi_asset(
    specs=[dg.AssetSpec(f"tabular_{s}", deps=["tabular_shards"], group_name=GROUP, skippable=True,
                        kinds={"parquet"}, description=f"The {s} split: one row per labelled input row.")
           for s in SPLITS],
    pool=POOL,
)
def tabular_splits(context: dg.AssetExecutionContext, config: SplitConfig, data: DataDirResource,
                   budget: MemoryBudgetResource):
    """Label processing then a random, exact stratified, temporal (customer-allocated) or single split."""
    spec = SplitSpec(label=config.label, mode=config.mode, ratios=dict(config.ratios), seed=config.seed,
                     customer_column=config.customer_column, date_column=config.date_column,
                     cutoffs=tuple(config.cutoffs), single_split=config.single_split,
                     rows_per_shard=config.rows_per_shard, output_format=config.output_format,
                     batch_rows=budget.batch_rows, processing=config.processing, memory_mb=budget.memory_mb,
                     threads=budget.threads)
    unknown = set(spec.split_names()) - set(SPLITS)
    if unknown:
        raise SplitConfigError(f"split names {sorted(unknown)} (ratios / single_split) must be in {SPLITS}")
    pa.set_cpu_count(budget.threads)
    with budget.admitted(POOL, context), PeakMemory() as pm:  # a place on this node as well as the slot
        result = split_dataset(dataset_dir(data, config.dataset, "shards"),
                               dataset_dir(data, config.dataset, "splits"), spec)
    for name, rows in result.rows.items():
        yield dg.MaterializeResult(asset_key=f"tabular_{name}", metadata=_meta(
            pm.report.as_metadata(), rows=rows, shards=len(result.shards[name]), mode=result.mode,
            rows_in=result.rows_in, path=dg.MetadataValue.path(str(result.output / name)),
            class_counts=dg.MetadataValue.json(result.summary.get("class_counts_by_split", {}).get(name, {})),
            label_codes=dg.MetadataValue.json(result.summary.get("label", {}).get("codes") or {}),
            dropped=dg.MetadataValue.json(result.summary["dropped"])))


@dg.asset(group_name=GROUP, pool=POOL, kinds={"parquet"}, deps=[f"tabular_{s}" for s in SPLITS])
def tabular_transformed(context: dg.AssetExecutionContext, config: TabularConfig, data: DataDirResource,
                        budget: MemoryBudgetResource) -> dg.MaterializeResult:
    """Every split standardised (numbers) and integer-encoded (categories) with parameters fitted
    exactly on all train rows; unseen categories get code -1. One row per split row."""
    exclude = tuple(c for c in (config.label, config.customer_column, config.date_column) if c)
    spec = TransformSpec(exclude=exclude, rows_per_shard=config.rows_per_shard,
                         output_format=config.output_format, batch_rows=budget.batch_rows,
                         memory_mb=budget.memory_mb)
    out = dataset_dir(data, config.dataset, "transformed")
    with budget.admitted(POOL, context), PeakMemory() as pm:  # a place on this node as well as the slot
        summary = transform_splits(dataset_dir(data, config.dataset, "splits"), out, spec)
    return dg.MaterializeResult(metadata=_meta(
        pm.report.as_metadata(), rows=sum(summary["rows"].values()), path=dg.MetadataValue.path(str(out)),
        rows_by_split=dg.MetadataValue.json(summary["rows"]), standardised=len(summary["standardise"]),
        encoded=len(summary["encode"]), train_rows=summary["train_rows"]))


ASSETS = [tabular_shards, tabular_splits, tabular_transformed]
