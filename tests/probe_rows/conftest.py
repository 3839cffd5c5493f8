"""Shared fixtures for the probe_rows tests: small generated shards and the real RIPE Atlas samples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from probe_rows.generate import generate_shards

REPO = Path(__file__).resolve().parents[2]


def _real_dir() -> Path:
    """``../shared/data/real`` beside the repository (read in place, never copied).

    A git worktree checked out one level deeper (``<root>/wt/<name>``) finds it one level up;
    ``MEMSAFE_REAL_DATA`` overrides both.
    """
    if os.environ.get("MEMSAFE_REAL_DATA"):
        return Path(os.environ["MEMSAFE_REAL_DATA"])
    for base in (REPO.parent, REPO.parent.parent):
        if (base / "shared" / "data" / "real").is_dir():
            return base / "shared" / "data" / "real"
    return REPO.parent / "shared" / "data" / "real"


REAL = _real_dir()
ATLAS_PING = REAL / "probe" / "ripe_atlas_ping_msm1001.ndjson"
ATLAS_TRACEROUTE = REAL / "probe" / "ripe_atlas_traceroute_googlenews.json"
N_MEASUREMENTS = 30_000
N_PROBES = 150


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> dict[str, Path]:
    """The same 30,000 measurements of 150 probes, sorted and shuffled, 3 shards each."""
    root = tmp_path_factory.mktemp("generated")
    out = {}
    for order in ("sorted", "shuffled"):
        generate_shards(root / order, N_MEASUREMENTS, probes=N_PROBES, shards=3, order=order, seed=11)
        out[order] = root / order
    return out
