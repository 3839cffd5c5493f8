"""Where data lives: one setting, ``MEMSAFE_DATA_DIR``.

Resolved when a run starts (never at import), so a code location loads the same way on every
machine and the variable can be changed between runs.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR_ENV = "MEMSAFE_DATA_DIR"


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
