"""Where data lives: ``MEMSAFE_DATA_DIR`` (the data root, shared by every node on a cluster),
``MEMSAFE_SPILL_DIR`` (engine spill files, node-local) and ``MEMSAFE_CATALOG`` (the query catalog).

Resolved when a run starts (never at import), so a code location loads the same way on every
machine and the variables can be changed between runs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR_ENV = "MEMSAFE_DATA_DIR"
SPILL_DIR_ENV = "MEMSAFE_SPILL_DIR"
CATALOG_ENV = "MEMSAFE_CATALOG"


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the absolute data root.

    Order: ``explicit`` (a resource field or CLI flag), then ``$MEMSAFE_DATA_DIR``, then
    ``<project root>/data``. Relative values are resolved against the project root, never the
    working directory, so ``dagster dev`` and the CLI agree whatever folder they start in.
    """
    value = explicit or os.environ.get(DATA_DIR_ENV) or "data"
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    return path


def raw_dir(root: Path, *parts: str) -> Path:
    """``<root>/raw/<parts...>``: where raw input files are dropped."""
    return root.joinpath("raw", *parts)


def output_dir(root: Path, *parts: str) -> Path:
    """``<root>/parquet/<parts...>``: where the pipeline's outputs go."""
    return root.joinpath("parquet", *parts)


def spill_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The engine's spill folder: ``explicit``, then ``$MEMSAFE_SPILL_DIR``, then node-local disk.

    The default is ``/var/tmp/memsafe-<uid>/spill``: on the node's disk (``/tmp`` may be RAM-backed,
    and spilling into RAM defeats the budget) and never on a shared data root (every node's spill
    traffic would cross the network). Not created here.
    """
    value = explicit or os.environ.get(SPILL_DIR_ENV)
    if value:
        return Path(value).expanduser().resolve()
    base = Path("/var/tmp") if Path("/var/tmp").is_dir() else Path(tempfile.gettempdir())
    return base / f"memsafe-{os.getuid()}" / "spill"


def catalog_path(root: Path, explicit: str | os.PathLike[str] | None = None) -> Path:
    """The query catalog's DuckDB file: ``explicit``, then ``$MEMSAFE_CATALOG``, then
    ``<root>/catalog.duckdb``. On a cluster set ``MEMSAFE_CATALOG`` to a node-local path: DuckDB's
    file lock is not reliable on network filesystems (the views inside glob the data root)."""
    value = explicit or os.environ.get(CATALOG_ENV)
    return Path(value).expanduser().resolve() if value else root / "catalog.duckdb"
