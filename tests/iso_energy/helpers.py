"""Helpers for the iso_energy tests: materialise a partition through Dagster and read it back."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from iso_energy.assets import LMP_ASSETS
from iso_energy.convert import partition_path
from iso_energy.isos.partition import parquet_glob
from iso_energy.resources import ConversionBudgetResource
from memsafe.resources import DataDirResource


def materialize_lmp(
    root: Path,
    dataset: str,
    key: str,
    instance: dg.DagsterInstance | None = None,
    memory_mb: int = 1024,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    assets = [a for a in LMP_ASSETS if a.key.to_user_string() == dataset]
    return dg.materialize(
        assets,
        partition_key=key,
        instance=instance,
        raise_on_error=raise_on_error,
        resources={
            "data": DataDirResource(data_dir=str(root)),
            "conversion": ConversionBudgetResource(memory_mb=memory_mb, threads=1, spill_dir=str(root / "spill")),
        },
    )


def metadata(result: dg.ExecuteInProcessResult) -> dict:
    mat = result.get_asset_materialization_events()[0].materialization
    return {k: v.value for k, v in mat.metadata.items()}


def checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def query(root: Path, dataset: str, iso: str, year: int, sql: str, params: dict | None = None) -> list:
    """Run ``sql`` against the partition's month files exposed as table ``p``."""
    path = partition_path(root, dataset, iso, year)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("p", con.read_parquet(parquet_glob(path)))
    return con.execute(sql, params or {}).fetchall()


def step_error(result: dg.ExecuteInProcessResult) -> str:
    """The failed step's error message with its causes (Dagster wraps user errors)."""
    err = result.get_step_failure_events()[0].event_specific_data.error
    parts = []
    while err is not None:
        parts.append(err.message)
        err = err.cause
    return "\n".join(parts)


def snapshot(folder: Path) -> dict[str, bytes]:
    """A partition folder's files and their bytes (month files and manifest)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def no_temporaries(folder: Path) -> bool:
    """Nothing half-written beside or inside a published partition folder: no hidden names."""
    return not any(p.name.startswith(".") for p in [*folder.iterdir(), *folder.parent.iterdir()])
