"""Synthetic measurement shards of any size, sorted or shuffled, with a realistic skew.

Every measurement is a pure function of ``(seed, probe index, measurement index)``, so the
``sorted`` and ``shuffled`` versions of one ``(measurements, probes, seed)`` hold exactly the same
rows in a different order, and memory stays bounded by one shard whatever the total size:

- ``sorted``: by ``(src_addr, event_time)`` across the shards in file-name order (the order the
  ordering diagnostics can prove, see :mod:`probe_rows.ordering`);
- ``shuffled``: a pseudo-random permutation of the global row numbers (a Feistel network with
  cycle walking, computed chunk by chunk, never an index array of the whole input).

Skew: probe sizes follow a Pareto(1.2) draw, so a few probes hold many measurements and most hold
few (the shape of RIPE Atlas probes: anchors measure far more often than home probes).

Schema (:data:`MEASUREMENT_SCHEMA`): ``src_addr`` (string, dotted IPv4 of the probe),
``dst_addr`` (string), ``event_time`` (timestamp[us, UTC], strictly increasing per probe),
``rtt_ms`` (float64, null for about 1% failed measurements), ``ttl`` (int32).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from memsafe.atomic import atomic_path

MEASUREMENT_SCHEMA = pa.schema(
    [
        pa.field("src_addr", pa.string()),
        pa.field("dst_addr", pa.string()),
        pa.field("event_time", pa.timestamp("us", tz="UTC")),
        pa.field("rtt_ms", pa.float64()),
        pa.field("ttl", pa.int32()),
    ]
)
ORDERS = ("sorted", "shuffled")
# 2026-01-01T00:00:00Z in microseconds: where the synthetic clock starts.
EPOCH_US = 1_767_225_600_000_000
N_DESTINATIONS = 1_000
FAILED_SHARE = 0.01
CHUNK_ROWS = 1_000_000
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(x: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 finaliser: a fast, well-spread hash of uint64 values (vectorised)."""
    with np.errstate(over="ignore"):
        z = (x.astype(np.uint64) + np.uint64((0x9E3779B97F4A7C15 * (salt + 1)) & 0xFFFFFFFFFFFFFFFF)) & _M64
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _unit(x: np.ndarray, salt: int) -> np.ndarray:
    """Deterministic uniform floats in [0, 1) from uint64 keys."""
    return (_mix(x, salt) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _permute(idx: np.ndarray, n: int, seed: int) -> np.ndarray:
    """A bijection of ``[0, n)`` (balanced Feistel network + cycle walking), applied to ``idx``."""
    bits = max(2, int(n - 1).bit_length())
    bits += bits % 2
    half = bits // 2
    mask = np.uint64((1 << half) - 1)
    out = idx.astype(np.uint64)
    todo = np.ones(out.shape, dtype=bool)
    while todo.any():
        x = out[todo]
        left, right = x >> np.uint64(half), x & mask
        for r in range(4):
            left, right = right, left ^ (_mix(right, seed * 8 + r) & mask)
        x = (left << np.uint64(half)) | right
        out[todo] = x
        todo[todo] = x >= np.uint64(n)
    return out.astype(np.int64)


@dataclass(frozen=True)
class Population:
    """Probe sizes and addresses for one ``(measurements, probes, seed)``."""

    counts: np.ndarray  # measurements per probe, in src_addr order
    starts: np.ndarray  # global row number of each probe's first measurement (sorted order)
    addrs: np.ndarray  # src_addr strings, ascending
    seed: int

    @classmethod
    def build(cls, measurements: int, probes: int, seed: int) -> Population:
        if measurements < 0 or probes <= 0:
            raise ValueError(f"need measurements >= 0 and probes > 0, got {measurements}, {probes}")
        rng = np.random.default_rng(seed)
        weights = rng.pareto(1.2, probes) + 1.0
        counts = rng.multinomial(measurements, weights / weights.sum()).astype(np.int64)
        ids = np.unique(_mix(np.arange(probes * 2, dtype=np.uint64), seed) & np.uint64(0xFFFFFFFF))
        ids = rng.permutation(ids)[:probes]
        if len(ids) < probes:  # pragma: no cover - 2x candidates for 2^32 slots never collide that much
            raise ValueError("too many probes for the IPv4 space")
        addrs = np.sort(np.array([_ipv4(int(i)) for i in ids], dtype=object))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        return cls(counts=counts, starts=starts, addrs=addrs, seed=seed)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def rows(self, global_rows: np.ndarray) -> pa.Table:
        """The measurements at these global row numbers (sorted-order numbering)."""
        probe = np.searchsorted(self.starts, global_rows, side="right") - 1
        j = global_rows - self.starts[probe]
        key = (probe.astype(np.uint64) << np.uint64(32)) | j.astype(np.uint64)
        # Per probe a start within 30 days and a mean interval of 1..600 s; jitter < interval keeps
        # event_time strictly increasing within the probe.
        interval_us = (1 + (_unit(probe.astype(np.uint64), self.seed + 1) * 599).astype(np.int64)) * 1_000_000
        start_us = (_unit(probe.astype(np.uint64), self.seed + 2) * 30 * 86_400e6).astype(np.int64)
        jitter = (_unit(key, self.seed + 3) * (interval_us // 2)).astype(np.int64)
        event_us = EPOCH_US + start_us + j * interval_us + jitter
        base_rtt = 5 + _unit(probe.astype(np.uint64), self.seed + 4) * 200
        rtt = base_rtt * (1 + 0.5 * _unit(key, self.seed + 5))
        failed = _unit(key, self.seed + 6) < FAILED_SHARE
        dst = (_mix(key, self.seed + 7) % np.uint64(N_DESTINATIONS)).astype(np.int64)
        ttl = (40 + _mix(key, self.seed + 8) % np.uint64(24)).astype(np.int32)
        return pa.table(
            {
                "src_addr": pa.array(self.addrs, pa.string()).take(probe),
                "dst_addr": _DESTINATIONS.take(dst),
                "event_time": pa.array(event_us, pa.timestamp("us", tz="UTC")),
                "rtt_ms": pa.array(np.round(rtt, 3), pa.float64(), mask=failed),
                "ttl": pa.array(ttl, pa.int32()),
            },
            schema=MEASUREMENT_SCHEMA,
        )


def _ipv4(i: int) -> str:
    return f"{(i >> 24) & 255}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


_DESTINATIONS = pa.array([_ipv4(0xC1000000 + 97 * k) for k in range(N_DESTINATIONS)], pa.string())


def generate_shards(
    out_dir: Path,
    measurements: int,
    *,
    probes: int | None = None,
    shards: int = 4,
    order: str = "shuffled",
    seed: int = 0,
    prefix: str = "measurements",
) -> list[Path]:
    """Write ``shards`` parquet files of synthetic measurements into ``out_dir``.

    Args:
        measurements: total rows over all shards.
        probes: distinct probes; default ``max(1, measurements // 200)``.
        order: ``"sorted"`` (by src_addr, event_time across files) or ``"shuffled"``.
        prefix: file names are ``<prefix>-<order>-NNNNN.parquet``.

    Returns the written paths in file-name order. Each file is written atomically. Memory: one
    chunk of at most 1M rows at a time.

    Raises:
        ValueError: an unknown order or non-positive sizes.
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    if shards <= 0:
        raise ValueError(f"shards must be positive, got {shards}")
    pop = Population.build(measurements, probes or max(1, measurements // 200), seed)
    bounds = np.linspace(0, measurements, shards + 1).astype(np.int64)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in range(shards):
        final = out_dir / f"{prefix}-{order}-{s:05d}.parquet"
        with atomic_path(final) as tmp, pq.ParquetWriter(tmp, MEASUREMENT_SCHEMA) as writer:
            for lo in range(int(bounds[s]), int(bounds[s + 1]), CHUNK_ROWS):
                idx = np.arange(lo, min(lo + CHUNK_ROWS, int(bounds[s + 1])), dtype=np.int64)
                if order == "shuffled":
                    idx = _permute(idx, measurements, seed)
                writer.write_table(pop.rows(idx))
            if bounds[s] == bounds[s + 1]:
                writer.write_table(MEASUREMENT_SCHEMA.empty_table())
        paths.append(final)
    return paths
