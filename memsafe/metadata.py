"""One metadata vocabulary for every asset: :func:`materialize_result` and the memory check.

Dagster glue (imports dagster), shared by every code location so the UI shows the same names,
types and units everywhere:

* ``path``: :meth:`dagster.MetadataValue.path` of the output (file or folder);
* ``dagster/row_count``: rows written (Dagster's own key: the UI's row-count column and plots);
* ``dagster/column_schema``: the output's Arrow/parquet schema as a :class:`dagster.TableSchema`;
* ``seconds`` (the whole step), ``rows_per_s`` (rows written per second of it);
* ``peak_rss_mb``, ``rss_delta_mb``, ``engine_peak_mb`` (DuckDB's own peak), ``spill_peak_mb``
  (DuckDB's spill files), ``memory_budget_mb``: MiB, from :class:`memsafe.memory.MemoryReport`;
* ``*_at`` (``started_at``, ``finished_at`` ...): :meth:`dagster.MetadataValue.timestamp`;
* anything else the step reports, as given (dicts/lists as JSON).

The check :data:`PEAK_CHECK` (``peak_within_budget``) compares the measured peak RSS with the
step's budget; a step declares it with :func:`peak_check_spec` and reports it by passing
``budget_mb`` and ``check_asset`` to :func:`materialize_result`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from memsafe.memory import MemoryReport

PEAK_CHECK = "peak_within_budget"
PEAK_CHECK_DESCRIPTION = (
    "The step's measured peak resident memory (RSS, sampled) stayed within its memory budget. WARN: a "
    "peak over budget means the budget, not the data, needs a look before the machine runs short."
)


def peak_check_spec(
    asset: str | dg.AssetKey, *, partitions_def: dg.PartitionsDefinition | None = None
) -> dg.AssetCheckSpec:
    """The :data:`PEAK_CHECK` spec of ``asset`` (declare it in the asset's ``check_specs``).

    ``partitions_def``: partition the check like its asset (Dagster 1.13 preview), so each
    partition's result stands on its own in the UI."""
    if partitions_def is None:
        return dg.AssetCheckSpec(PEAK_CHECK, asset=asset, description=PEAK_CHECK_DESCRIPTION)
    with warnings.catch_warnings():  # a 1.13 preview; the version is pinned
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            PEAK_CHECK, asset=asset, description=PEAK_CHECK_DESCRIPTION, partitions_def=partitions_def
        )


def peak_within_budget(
    peak_rss_mb: float, budget_mb: int, *, asset: str | dg.AssetKey | None = None, partition: str | None = None
) -> dg.AssetCheckResult:
    """:data:`PEAK_CHECK` result: passes when ``peak_rss_mb <= budget_mb`` (both MiB); WARN severity."""
    metadata: dict[str, object] = {"peak_rss_mb": round(peak_rss_mb, 1), "memory_budget_mb": budget_mb}
    if partition is not None:
        metadata["partition"] = partition
    return dg.AssetCheckResult(
        check_name=PEAK_CHECK,
        asset_key=asset,
        passed=peak_rss_mb <= budget_mb,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )


def _first_parquet(path: Path) -> Path | None:
    if path.is_file():
        return path if path.suffix in (".parquet", ".pq") else None
    if path.is_dir():
        return next(iter(sorted(path.rglob("*.parquet"))), None)
    return None


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    """A :class:`dagster.TableSchema` of an Arrow schema (types as Arrow prints them)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=f.name, type=str(f.type), constraints=dg.TableColumnConstraints(nullable=f.nullable))
            for f in schema
        ]
    )


def output_schema(path: Path) -> pa.Schema | None:
    """The Arrow schema of the parquet file at ``path``, or of the first parquet file under a folder."""
    first = _first_parquet(path)
    return pq.read_schema(first) if first is not None else None


def _value(key: str, value: object) -> object:
    if isinstance(value, dg.MetadataValue) or value is None:
        return value
    if key.endswith("_at") and isinstance(value, int | float):
        return dg.MetadataValue.timestamp(float(value))
    if isinstance(value, Path):
        return dg.MetadataValue.path(str(value))
    if isinstance(value, dict | list | tuple):
        return dg.MetadataValue.json(value if not isinstance(value, tuple) else list(value))
    return value


def materialize_result(
    *,
    path: Path | None = None,
    rows: int | None = None,
    seconds: float | None = None,
    memory: MemoryReport | None = None,
    budget_mb: int | None = None,
    schema: pa.Schema | None = None,
    started_at: float | None = None,
    finished_at: float | None = None,
    extra: Mapping[str, object] | None = None,
    asset_key: str | dg.AssetKey | None = None,
    check_asset: str | dg.AssetKey | None = None,
    check_results: Iterable[dg.AssetCheckResult] = (),
    partition: str | None = None,
) -> dg.MaterializeResult:
    """The ``MaterializeResult`` of one step, in the shared vocabulary (see the module docstring).

    Args:
        path: the published output (file or folder); its parquet schema is read (footer only)
            unless ``schema`` is given.
        rows: rows written (``dagster/row_count``); ``rows_per_s`` is ``rows / seconds``.
        seconds: the whole step's wall time; default ``memory.seconds`` (the measured part).
        memory: the step's :class:`MemoryReport` (peak RSS, DuckDB peak, spill).
        budget_mb: the step's memory budget (MiB); with ``check_asset`` the
            :data:`PEAK_CHECK` result is added.
        started_at: the step's start (epoch seconds); ``finished_at`` is now.
        extra: the step's own figures; ``*_at`` epoch floats become timestamps.
        asset_key: for a multi-asset output; check_results: other checks' results.
        partition: recorded in the memory check's metadata.
    """
    meta: dict[str, object] = {}
    for key, value in (extra or {}).items():
        meta[key] = _value(key, value)
    if memory is not None:
        meta.update(memory.as_metadata())
        seconds = memory.seconds if seconds is None else seconds
    if seconds is not None:
        meta["seconds"] = round(seconds, 3)
    if started_at is not None:
        meta["started_at"] = dg.MetadataValue.timestamp(started_at)
        meta["finished_at"] = dg.MetadataValue.timestamp(finished_at if finished_at is not None else time.time())
    if budget_mb is not None:
        meta["memory_budget_mb"] = budget_mb
    if path is not None:
        meta["path"] = dg.MetadataValue.path(str(path))
        schema = schema if schema is not None else output_schema(path)
    if schema is not None:
        meta["dagster/column_schema"] = column_schema(schema)
    if rows is not None:
        meta["dagster/row_count"] = int(rows)
        if seconds:
            meta["rows_per_s"] = round(rows / seconds, 1)
    checks = list(check_results)
    if check_asset is not None and budget_mb is not None and memory is not None:
        checks.append(peak_within_budget(memory.peak_rss_mb, budget_mb, asset=check_asset, partition=partition))
    return dg.MaterializeResult(asset_key=asset_key, metadata=meta, check_results=checks or None)
