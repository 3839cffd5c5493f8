"""Typed configuration of the probe_rows location (paths come from the shared ``data`` resource)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from memsafe.settings import output_dir, raw_dir
from probe_rows.grouping import GroupConfig


class ProbeRowsResource(dg.ConfigurableResource):
    """Where shards land and how probes are grouped and split.

    Shards are read from ``<data root>/raw/<shard_subdir>/*.parquet`` and the grouped rows written to
    ``<data root>/parquet/<output_subdir>/{train,test}/``.
    """

    shard_subdir: str = Field(default="measurements", description="Folder of shards under <data>/raw")
    output_subdir: str = Field(default="probe_rows", description="Output folder under <data>/parquet")
    min_measurements: int = Field(default=1, description="Probes with fewer measurements are dropped")
    test_fraction: float = Field(default=0.2, description="Share of probes in the test split (by hash)")
    seed: int = Field(default=0, description="Split seed: same seed, same split on every run")
    extra_columns: list[str] | None = Field(
        default=None, description="Numeric columns carried into the structs; default: all shared ones"
    )

    def shard_dir(self, root: Path) -> Path:
        return raw_dir(root, self.shard_subdir)

    def output_dir(self, root: Path) -> Path:
        return output_dir(root, self.output_subdir)

    def group_config(self) -> GroupConfig:
        extras = tuple(self.extra_columns) if self.extra_columns is not None else None
        return GroupConfig(
            min_measurements=self.min_measurements,
            test_fraction=self.test_fraction,
            seed=self.seed,
            extra_columns=extras,
        )


PROBE_ROWS = ProbeRowsResource()
