"""Paths and labels of the real tabular samples (imported by the tests; a unique module name so it
never collides with another package's conftest)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _real_dir() -> Path:
    """``<repo>/../shared/data/real/tabular``; a git worktree one level deeper looks one level up."""
    for base in REPO.parents:
        candidate = base / "shared" / "data" / "real" / "tabular"
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "data" / "real" / "tabular"


REAL = _real_dir()
# name -> label column of each real sample (see ../shared/data/real/README.md)
REAL_LABELS = {"caravan": "Purchase", "credit_cards": "LateSept", "wa_churn": "churn"}
