"""Fixtures for the tabular tests: the real samples (read in place) and small generated data sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tabular.generate import generate_wide
from tests.tabular.tabular_samples import REAL


@pytest.fixture
def real_dir(tmp_path: Path):
    """A raw folder holding a symlink to one real sample (the sample itself is never copied)."""

    def make(name: str) -> Path:
        folder = tmp_path / "raw" / name
        folder.mkdir(parents=True)
        assert (REAL / f"{name}.csv").is_file(), f"real sample missing: {REAL / name}.csv"
        (folder / f"{name}.csv").symlink_to(REAL / f"{name}.csv")
        return folder

    return make


@pytest.fixture(scope="session")
def wide_csv(tmp_path_factory) -> Path:
    """6,000 x 24 generated rows in 3 CSV files: customer id, timestamp, 3-class label."""
    folder = tmp_path_factory.mktemp("wide") / "raw"
    generate_wide(folder, 6_000, 24, files=3, fmt="csv", chunk_rows=1_500)
    return folder
