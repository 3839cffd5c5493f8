"""Fixtures for the pod usage tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsafe.budget import Budget
from tests.pod_usage.helpers import real_sample_path


@pytest.fixture
def real_sample() -> Path:
    path = real_sample_path()
    if not path.is_file():  # a missing sample is a broken checkout, not a reason to skip
        pytest.fail(f"real pod usage sample not found at {path}")
    return path


@pytest.fixture
def budget(tmp_path: Path) -> Budget:
    return Budget(memory_mb=512, threads=2, spill_dir=str(tmp_path / "spill"))
