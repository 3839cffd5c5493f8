"""Shared fixtures: paths to the real samples in ../shared, and isolated data roots."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from memsafe.admission import ADMISSION_DIR_ENV

REPO = Path(__file__).resolve().parents[1]
# ../shared beside the checkout; from a git worktree nested one level deeper, the nearest one up.
REAL = next(
    (p / "shared" / "data" / "real" for p in REPO.parents if (p / "shared" / "data" / "real").is_dir()),
    REPO.parent / "shared" / "data" / "real",
)


@pytest.fixture(scope="session", autouse=True)
def node_admission_dir(tmp_path_factory) -> Path:
    """This test session's own node-admission folder (exported, so spawned Dagster processes use it):
    other test sessions or pipelines on the same machine neither block nor count against it."""
    folder = tmp_path_factory.mktemp("admission")
    previous = os.environ.get(ADMISSION_DIR_ENV)
    os.environ[ADMISSION_DIR_ENV] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop(ADMISSION_DIR_ENV, None)
    else:
        os.environ[ADMISSION_DIR_ENV] = previous


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    """An empty data root, also exported as MEMSAFE_DATA_DIR (for spawned run workers)."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("MEMSAFE_DATA_DIR", str(root))
    return root


def place(root: Path, src: Path, *parts: str) -> Path:
    """Copy one real sample into ``<root>/raw/<parts...>/`` (the tmp data root, never the repo)."""
    folder = root.joinpath("raw", *parts)
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(src, folder / src.name))
