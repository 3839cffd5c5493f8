"""Shared fixture for the probe_rows tests: small generated shards, sorted and shuffled."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe_rows.generate import generate_shards
from tests.probe_rows.probe_rows_testdata import N_MEASUREMENTS, N_PROBES


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> dict[str, Path]:
    """The same 30,000 measurements of 150 probes, sorted and shuffled, 3 shards each."""
    root = tmp_path_factory.mktemp("generated")
    out = {}
    for order in ("sorted", "shuffled"):
        generate_shards(root / order, N_MEASUREMENTS, probes=N_PROBES, shards=3, order=order, seed=11)
        out[order] = root / order
    return out
