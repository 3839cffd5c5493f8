"""Deterministic train/test split by probe.

A probe goes to ``test`` when ``blake2b(f"{seed}:{src_addr}")`` read as a fraction of 2^64 is
below ``test_fraction``. The hash depends on nothing but the address and the seed (not on the
Python, polars or DuckDB version, the machine, or the order of the input), so a rerun or a run on
another input containing the probe gives the same split, and a probe is never in both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

SPLITS = ("train", "test")


def split_fraction(src_addr: str, seed: int) -> float:
    """The probe's position in [0, 1): the first 8 bytes of blake2b(seed:address) / 2^64."""
    digest = hashlib.blake2b(f"{seed}:{src_addr}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def is_test(src_addrs: Iterable[str], seed: int, test_fraction: float) -> list[bool]:
    """For each probe address, whether it belongs to the test split.

    Raises:
        ValueError: ``test_fraction`` outside [0, 1].
    """
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must be within [0, 1], got {test_fraction}")
    return [split_fraction(a, seed) < test_fraction for a in src_addrs]
