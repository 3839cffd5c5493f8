"""Fitted transforms: standardisation and integer encoding, fitted on the train split only.

Plain logic (no dagster). Fitting is one streaming pass over the train split with the same
mergeable aggregates as the loader's statistics (:mod:`tabular.stats`), so it is exact over every
train row, not a sample:

- numeric columns: ``(x - mean) / std`` with the train mean and population standard deviation
  (``ddof=0``, as scikit-learn's ``StandardScaler``); a constant column (std 0) is only centred.
  Output ``double``; nulls stay null.
- categorical columns (strings, booleans): the train vocabulary in sorted order, code = position
  (0..k-1); a value never seen in train gets ``unseen_code`` (default -1); nulls stay null. A
  column with more than ``max_categories`` distinct train values is left as is and listed.

Columns named in ``exclude`` (label, customer id, date...) and temporal columns pass through.
The fitted parameters go to ``_transforms.json`` beside the transformed splits.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from memsafe.atomic import atomic_dir
from memsafe.budget import batch_rows_for
from tabular.io import ShardWriter, iter_shard_batches, shard_schema, write_json
from tabular.stats import MAX_CATEGORIES, CategoryAgg, NumericAgg, kind_of


@dataclass(frozen=True)
class TransformSpec:
    exclude: tuple[str, ...] = ()
    unseen_code: int = -1
    max_categories: int = MAX_CATEGORIES
    rows_per_shard: int = 1_000_000
    output_format: str = "parquet"
    batch_rows: int = 100_000
    memory_mb: int | None = None


@dataclass
class Fitted:
    """Train-fitted parameters: ``scale[col] = (mean, std)``, ``vocab[col] = sorted values``."""

    scale: dict[str, tuple[float, float]] = field(default_factory=dict)
    vocab: dict[str, list] = field(default_factory=dict)
    passthrough: list[str] = field(default_factory=list)
    too_many_categories: list[str] = field(default_factory=list)
    train_rows: int = 0

    def as_dict(self) -> dict:
        return {
            "train_rows": self.train_rows,
            "standardise": {c: {"mean": m, "std": s} for c, (m, s) in self.scale.items()},
            "encode": {c: {"vocabulary": v, "size": len(v)} for c, v in self.vocab.items()},
            "passthrough": self.passthrough,
            "too_many_categories": self.too_many_categories,
        }


def fit_transforms(train: Path, spec: TransformSpec = TransformSpec()) -> Fitted:
    """Fit on every row of the train split folder ``train`` (one streaming pass)."""
    schema = shard_schema(train)
    rows = batch_rows_for(schema, spec.memory_mb, spec.batch_rows) if spec.memory_mb else spec.batch_rows
    aggs: dict = {}
    fitted = Fitted()
    for f in schema:
        kind = kind_of(f.type)
        if f.name in spec.exclude or kind not in ("numeric", "categorical"):
            fitted.passthrough.append(f.name)
        else:
            aggs[f.name] = NumericAgg() if kind == "numeric" else CategoryAgg(spec.max_categories)
    for batch in iter_shard_batches(train, rows, columns=list(aggs) or None):
        fitted.train_rows += batch.num_rows
        for name, agg in aggs.items():
            agg.update(batch.column(name))
    for name, agg in aggs.items():
        if isinstance(agg, NumericAgg):
            std = math.sqrt(agg.m2 / agg.count) if agg.count else 0.0
            fitted.scale[name] = (agg.mean if agg.count else 0.0, std)
        elif agg.counts is None:
            fitted.too_many_categories.append(name)
            fitted.passthrough.append(name)
        else:
            fitted.vocab[name] = sorted(agg.counts)
    return fitted


def transformed_schema(schema: pa.Schema, fitted: Fitted) -> pa.Schema:
    fields = []
    for f in schema:
        if f.name in fitted.scale:
            fields.append(pa.field(f.name, pa.float64()))
        elif f.name in fitted.vocab:
            fields.append(pa.field(f.name, pa.int64()))
        else:
            fields.append(f)
    return pa.schema(fields)


def apply_transforms(batch: pa.RecordBatch, fitted: Fitted, schema: pa.Schema, unseen_code: int = -1):
    """Transform one batch into ``schema`` (from :func:`transformed_schema`)."""
    arrays = []
    for f in schema:
        col = batch.column(f.name)
        if f.name in fitted.scale:
            mean, std = fitted.scale[f.name]
            values = col.cast(pa.float64())
            centred = pc.subtract(values, mean)
            arrays.append(pc.divide(centred, std) if std > 0 else centred)
        elif f.name in fitted.vocab:
            vocab = pa.array(fitted.vocab[f.name], type=col.type)
            codes = pc.index_in(col, value_set=vocab).cast(pa.int64())
            unseen = pc.and_(pc.is_valid(col), pc.is_null(codes))
            arrays.append(pc.if_else(unseen, pa.scalar(unseen_code, pa.int64()), codes))
        else:
            arrays.append(col)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def transform_splits(
    splits: Path, output: Path, spec: TransformSpec = TransformSpec(), train_split: str = "train"
) -> dict:
    """Fit on ``splits/<train_split>`` and write every split of ``splits`` transformed to
    ``output/<split>/part-NNNNN.<fmt>`` plus ``_transforms.json``; ``output`` is replaced atomically.

    Returns the summary written to ``_transforms.json`` (with rows per split and seconds).

    Raises:
        TabularInputError: the train split folder is missing or empty.
    """
    t0 = time.perf_counter()
    fitted = fit_transforms(splits / train_split, spec)
    names = sorted(p.name for p in splits.iterdir() if p.is_dir() and not p.name.startswith("."))
    rows: dict[str, int] = {}
    with atomic_dir(output) as staging:
        for name in names:
            schema = shard_schema(splits / name)
            out_schema = transformed_schema(schema, fitted)
            writer = ShardWriter(staging / name, out_schema, spec.output_format, spec.rows_per_shard)
            batch_rows = batch_rows_for(schema, spec.memory_mb, spec.batch_rows) if spec.memory_mb else spec.batch_rows
            for batch in iter_shard_batches(splits / name, batch_rows):
                writer.write(apply_transforms(batch, fitted, out_schema, spec.unseen_code))
            writer.close()
            rows[name] = writer.rows
        summary = {
            **fitted.as_dict(),
            "fitted_on": train_split,
            "unseen_code": spec.unseen_code,
            "rows": rows,
            "seconds": round(time.perf_counter() - t0, 3),
        }
        write_json(staging / "_transforms.json", summary)
    return summary
