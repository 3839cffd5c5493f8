"""Paths and sizes shared by the probe_rows tests (a uniquely named module, importable from every
test module without clashing with other packages' ``conftest``)."""

from __future__ import annotations

import os
from pathlib import Path

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
