"""Exact per-column statistics from mergeable aggregates, and the MODS metadata CSV.

Plain logic (no dagster). Each record batch is summarised into a :class:`TableStats`; summaries
merge associatively, so statistics over all rows are computed in one streaming pass with memory
bounded by the number of columns (and, for categorical columns, their distinct values), never by
the number of rows.

Numbers: count, nulls (NaN counts as null, as in pandas), min, max, mean and standard deviation
(``ddof=1``, pandas' default). Means and variances are merged with Chan et al.'s pairwise update
(``M2_ab = M2_a + M2_b + d^2 n_a n_b / n``), which is exact in real arithmetic and agrees with a
one-pass computation to floating-point rounding (about 1e-15 relative).
Categories (strings, booleans): count, nulls, exact distinct count and the most frequent values,
from exact value counts; a column with more than ``max_categories`` distinct values stops being
counted and reports ``distinct: null`` with ``distinct_exceeds`` (memory stays bounded).
Dates and timestamps: count, nulls, min, max.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MAX_CATEGORIES = 100_000
TOP_VALUES = 10


def is_category(dtype: pa.DataType) -> bool:
    """Whether a column is categorical for MODS and statistics: strings, booleans, dictionaries."""
    return (
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_boolean(dtype)
        or pa.types.is_dictionary(dtype)
    )


def kind_of(dtype: pa.DataType) -> str:
    if is_category(dtype):
        return "categorical"
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "numeric"
    if pa.types.is_temporal(dtype):
        return "temporal"
    return "other"


@dataclass
class NumericAgg:
    """Count, nulls, min, max, mean and M2 (sum of squared deviations) of one numeric column."""

    count: int = 0
    nulls: int = 0
    min: float | int | None = None
    max: float | int | None = None
    mean: float = 0.0
    m2: float = 0.0

    def update(self, arr: pa.Array) -> None:
        if pa.types.is_decimal(arr.type):  # numpy has no decimal: statistics of decimals are in float64
            arr = arr.cast(pa.float64())
        values = arr.drop_null().to_numpy(zero_copy_only=False)
        nulls = len(arr) - len(values)
        if values.dtype.kind == "f":
            nan = np.isnan(values)
            if nan.any():
                nulls += int(nan.sum())
                values = values[~nan]
        part = NumericAgg(nulls=nulls)
        if len(values):
            as_float = values.astype(np.float64, copy=False)
            part.count = len(values)
            part.min, part.max = values.min().item(), values.max().item()
            part.mean = float(as_float.mean())
            part.m2 = float(np.square(as_float - part.mean).sum())
        self.merge(part)

    def merge(self, other: NumericAgg) -> None:
        self.nulls += other.nulls
        if other.count == 0:
            return
        if self.count == 0:
            self.count, self.min, self.max, self.mean, self.m2 = (
                other.count,
                other.min,
                other.max,
                other.mean,
                other.m2,
            )
            return
        n = self.count + other.count
        delta = other.mean - self.mean
        self.m2 = self.m2 + other.m2 + delta * delta * self.count * other.count / n
        self.mean = self.mean + delta * other.count / n
        self.count = n
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def as_dict(self) -> dict:
        std = math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else None
        return {
            "count": self.count,
            "nulls": self.nulls,
            "min": self.min,
            "max": self.max,
            "mean": self.mean if self.count else None,
            "std": std,
        }


@dataclass
class CategoryAgg:
    """Exact value counts of one categorical column, up to ``max_categories`` distinct values."""

    max_categories: int = MAX_CATEGORIES
    count: int = 0
    nulls: int = 0
    counts: Counter | None = field(default_factory=Counter)

    def update(self, arr: pa.Array) -> None:
        nulls = arr.null_count
        part = CategoryAgg(self.max_categories, count=len(arr) - nulls, nulls=nulls)
        if self.counts is not None and part.count:
            vc = pc.value_counts(arr.drop_null())
            part.counts = Counter(dict(zip(vc.field(0).to_pylist(), vc.field(1).to_pylist(), strict=True)))
        self.merge(part)

    def merge(self, other: CategoryAgg) -> None:
        self.count += other.count
        self.nulls += other.nulls
        if self.counts is None or other.counts is None:
            self.counts = None
            return
        self.counts.update(other.counts)
        if len(self.counts) > self.max_categories:
            self.counts = None  # stop counting: memory stays bounded, the report says so

    def as_dict(self) -> dict:
        out: dict = {"count": self.count, "nulls": self.nulls}
        if self.counts is None:
            out.update(distinct=None, distinct_exceeds=self.max_categories, top=None)
        else:
            # Most frequent first; ties in value order so the document is deterministic.
            top = sorted(self.counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:TOP_VALUES]
            out.update(distinct=len(self.counts), top=[{"value": v, "count": c} for v, c in top])
        return out


@dataclass
class TemporalAgg:
    count: int = 0
    nulls: int = 0
    min: object = None
    max: object = None

    def update(self, arr: pa.Array) -> None:
        mm = pc.min_max(arr)
        self.merge(TemporalAgg(len(arr) - arr.null_count, arr.null_count, mm["min"].as_py(), mm["max"].as_py()))

    def merge(self, other: TemporalAgg) -> None:
        self.count += other.count
        self.nulls += other.nulls
        if other.count:
            self.min = other.min if self.min is None else min(self.min, other.min)
            self.max = other.max if self.max is None else max(self.max, other.max)

    def as_dict(self) -> dict:
        def iso(v):
            return v.isoformat() if v is not None else None

        return {"count": self.count, "nulls": self.nulls, "min": iso(self.min), "max": iso(self.max)}


@dataclass
class OtherAgg:
    count: int = 0
    nulls: int = 0

    def update(self, arr: pa.Array) -> None:
        self.merge(OtherAgg(len(arr) - arr.null_count, arr.null_count))

    def merge(self, other: OtherAgg) -> None:
        self.count += other.count
        self.nulls += other.nulls

    def as_dict(self) -> dict:
        return {"count": self.count, "nulls": self.nulls}


def _new_agg(dtype: pa.DataType, max_categories: int):
    kind = kind_of(dtype)
    if kind == "categorical":
        return CategoryAgg(max_categories)
    return {"numeric": NumericAgg, "temporal": TemporalAgg}.get(kind, OtherAgg)()


class TableStats:
    """Per-column aggregates of a table with a fixed schema; ``update`` per batch, ``merge`` per part."""

    def __init__(self, schema: pa.Schema, max_categories: int = MAX_CATEGORIES) -> None:
        self.schema = schema
        self.rows = 0
        self.aggs = {f.name: _new_agg(f.type, max_categories) for f in schema}

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        self.rows += batch.num_rows
        for name, agg in self.aggs.items():
            col = batch.column(name)
            if isinstance(col, pa.ChunkedArray):
                for chunk in col.chunks:
                    agg.update(chunk)
            else:
                agg.update(col)

    def merge(self, other: TableStats) -> None:
        self.rows += other.rows
        for name, agg in self.aggs.items():
            agg.merge(other.aggs[name])

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "columns": {
                f.name: {"type": str(f.type), "kind": kind_of(f.type), **self.aggs[f.name].as_dict()}
                for f in self.schema
            },
        }


def mods_rows(schema: pa.Schema) -> list[tuple[str, str, str]]:
    """MODS metadata rows ``(varname, iscategory, datatype)``: one per column, in column order.

    ``iscategory`` is ``true`` for string, boolean and dictionary columns; ``datatype`` is the
    Arrow type name (``int64``, ``double``, ``string``, ``bool``, ``timestamp[us]``...).
    """
    return [(f.name, "true" if is_category(f.type) else "false", str(f.type)) for f in schema]
